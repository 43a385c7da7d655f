"""The type-specific objects of inbound messages: ``text``, ``image``, ``interactive``, ...

Each message type carries an object under the key of the same name (reference/cloudapi.md §3);
these structs describe those objects. The message classes themselves are in
:mod:`wahost.models.messages`.
"""

from __future__ import annotations

from typing import Any

import msgspec


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
    """One card of a ``contacts`` message. Any part may be missing."""

    name: ContactName | None = None
    phones: list[ContactPhone] = []
    emails: list[ContactEmail] = []
    addresses: list[ContactAddress] = []
    urls: list[ContactUrl] = []
    org: ContactOrg | None = None
    birthday: str | None = None


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


class Interactive(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``interactive``: the user's answer to an interactive message.

    ``type`` is ``button_reply``, ``list_reply`` or ``nfm_reply``; the object of that name is
    set.
    """

    type: str = ""
    button_reply: ButtonReply | None = None
    list_reply: ListReply | None = None
    nfm_reply: NfmReply | None = None


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

    Older payloads used ``customer_changed_number``/``customer_identity_changed`` with
    ``customer`` and ``identity``.
    """

    body: str | None = None
    type: str | None = None
    wa_id: str | None = None
    customer: str | None = None
    identity: str | None = None


class Unsupported(msgspec.Struct, frozen=True, omit_defaults=True):
    """``unsupported``: what the user sent that the Cloud API cannot deliver (``edit``,
    ``poll_update``, ...)."""

    type: str | None = None


class Revoke(msgspec.Struct, frozen=True, omit_defaults=True):
    """``revoke``: the user deleted a message (coexistence numbers only)."""

    original_message_id: str = ""
