"""The type-specific objects of inbound messages: ``text``, ``image``, ``interactive``, ...

Each message type carries an object under the key of the same name (reference/cloudapi.md §3);
these structs describe those objects. The message classes themselves are in
:mod:`wahost.models.messages`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wahost.models.common import unix_time


class Text(msgspec.Struct, frozen=True, omit_defaults=True):
    """``text``: the body of a text message."""

    body: str = ""


class Media(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A media object (``image``, ``video``; base of audio, document and sticker).

    ``id`` expires after 7 days. Since November 2025 Meta also sends ``url``; downloading it
    needs the access token (reference/cloudapi.md §8).
    """

    id: str = ""
    mime_type: str | None = None
    sha256: str | None = None
    url: str | None = None
    caption: str | None = None


class Audio(Media, kw_only=True, frozen=True, omit_defaults=True):
    """``audio``; ``voice`` is true for a recording made with WhatsApp's microphone button."""

    voice: bool = False


class Document(Media, kw_only=True, frozen=True, omit_defaults=True):
    """``document``, with its file name."""

    filename: str | None = None


class Sticker(Media, kw_only=True, frozen=True, omit_defaults=True):
    """``sticker`` (``image/webp``); ``animated`` tells an animated sticker."""

    animated: bool = False


class Location(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``location``: a shared location or place."""

    latitude: float = 0.0
    longitude: float = 0.0
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ContactName(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``contacts[].name`` of a shared contact card."""

    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    prefix: str | None = None


class ContactPhone(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A phone number of a shared contact; ``wa_id`` is set when it is on WhatsApp."""

    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class ContactEmail(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An email address of a shared contact."""

    email: str | None = None
    type: str | None = None


class ContactAddress(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A postal address of a shared contact."""

    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = None


class ContactOrg(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The organisation of a shared contact."""

    company: str | None = None
    department: str | None = None
    title: str | None = None


class ContactUrl(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A web address of a shared contact."""

    url: str | None = None
    type: str | None = None


class SharedContact(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One card of a ``contacts`` message. Any part may be missing.

    A card shared in answer to a request for contact information has ``origin``
    (``"contact_request"`` for the button, ``"other"`` for a manual share, which also carries
    the ``vcard``); Meta's sample puts ``origin`` on the message instead
    (reference/cloudapi.md §13.5): :attr:`wahost.models.ContactsMessage.origin` reads both.
    """

    name: ContactName | None = None
    phones: list[ContactPhone] = []
    emails: list[ContactEmail] = []
    addresses: list[ContactAddress] = []
    urls: list[ContactUrl] = []
    org: ContactOrg | None = None
    birthday: str | None = None
    origin: str | None = None
    vcard: str | None = None


class ButtonReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """``interactive.button_reply``: the reply button the user tapped."""

    id: str = ""
    title: str = ""


class ListReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """``interactive.list_reply``: the list row the user chose."""

    id: str = ""
    title: str = ""
    description: str | None = None


class NfmReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """``interactive.nfm_reply``: a completed WhatsApp Flow (``name`` is ``"flow"``).

    ``response_json`` is a JSON *string*, as Meta sends it; :attr:`response` decodes it.
    """

    name: str | None = None
    body: str | None = None
    response_json: str | None = None

    @property
    def response(self) -> dict[str, Any] | None:
        """``response_json`` decoded (it holds the ``flow_token`` and the Flow's fields), or
        None when it is missing, malformed or not a JSON object."""
        if self.response_json is None:
            return None
        try:
            decoded = msgspec.json.decode(self.response_json)
        except (msgspec.DecodeError, RecursionError):
            return None
        return decoded if isinstance(decoded, dict) else None


class CallPermissionReply(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``interactive.call_permission_reply``: the user's answer to a call permission request
    (reference/cloudapi.md §14.8).

    ``response`` is ``accept`` or ``reject``; ``expiration_timestamp`` (a string or an int of
    Unix seconds) is set for a temporary permission; ``response_source`` is ``user_action`` or
    ``automatic``.
    """

    response: str = ""
    is_permanent: bool | None = None
    expiration_timestamp: str | int | None = None
    response_source: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the user granted the permission."""
        return self.response == "accept"

    @property
    def expires(self) -> datetime | None:
        """``expiration_timestamp`` as an aware UTC datetime, if set."""
        return unix_time(self.expiration_timestamp)


class PaymentMethod(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``interactive.payment_method``: the payment method a user chose (one-click payments)."""

    payment_method: str | None = None
    payment_timestamp: str | int | None = None
    reference_id: str | None = None
    last_four_digits: str | None = None
    credential_id: str | None = None


class Interactive(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``interactive``: the user's answer to an interactive message.

    ``type`` is ``button_reply``, ``list_reply``, ``nfm_reply`` (a completed Flow),
    ``call_permission_reply`` or ``payment_method``; the object of that name is set.
    """

    type: str = ""
    button_reply: ButtonReply | None = None
    list_reply: ListReply | None = None
    nfm_reply: NfmReply | None = None
    call_permission_reply: CallPermissionReply | None = None
    payment_method: PaymentMethod | None = None


class Button(msgspec.Struct, frozen=True, omit_defaults=True):
    """``button``: a template quick-reply button the user tapped."""

    payload: str | None = None
    text: str | None = None


class Reaction(msgspec.Struct, frozen=True, omit_defaults=True):
    """``reaction``: an emoji reaction to ``message_id``.

    On removal Meta now omits ``emoji``; older payloads sent ``""`` (reference/cloudapi.md §3),
    so :attr:`removed` checks both.
    """

    message_id: str = ""
    emoji: str | None = None

    @property
    def removed(self) -> bool:
        """True when the user removed their reaction."""
        return not self.emoji


class ProductItem(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One line of an order."""

    product_retailer_id: str = ""
    quantity: int = 0
    item_price: float = 0.0
    currency: str = ""


class Order(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``order``: a cart the user sent from a catalog."""

    catalog_id: str = ""
    text: str | None = None
    product_items: list[ProductItem] = []


class System(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``system``: e.g. ``type == "user_changed_number"`` with the new number in ``wa_id``.

    ``user_changed_user_id`` carries the user's new business-scoped ``user_id`` and
    ``parent_user_id`` (reference/cloudapi.md §13.2). Older payloads used
    ``customer_changed_number``/``customer_identity_changed`` with ``customer``, ``identity``
    and ``new_wa_id`` (replaced by ``wa_id`` in v12.0): :attr:`new_id` reads them all.
    """

    body: str | None = None
    type: str | None = None
    wa_id: str | None = None
    new_wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    customer: str | None = None
    identity: str | None = None

    @property
    def new_id(self) -> str | None:
        """The user's new id after a change: ``wa_id``, else ``new_wa_id``, else ``user_id``."""
        return self.wa_id or self.new_wa_id or self.user_id


class Unsupported(msgspec.Struct, frozen=True, omit_defaults=True):
    """``unsupported``: what the user sent that the Cloud API cannot deliver (``edit``,
    ``poll_update``, ...)."""

    type: str | None = None


class Revoke(msgspec.Struct, frozen=True, omit_defaults=True):
    """``revoke``: the user deleted a message (coexistence numbers only)."""

    original_message_id: str = ""
