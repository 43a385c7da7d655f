"""Inbound messages (``value.messages[]``): a :class:`Message` base and one class per type.

:data:`MESSAGE_TYPES` maps each ``type`` string to its class; a type not in it decodes to
:class:`UnknownMessage`, which keeps the raw item. See reference/cloudapi.md §3 for the shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec

from wahost.models.common import NO_RAW, Error, raw_dict, unix_time
from wahost.models.content import (
    Audio,
    Button,
    Document,
    Interactive,
    Location,
    Media,
    Order,
    Reaction,
    Revoke,
    SharedContact,
    Sticker,
    System,
    Text,
    Unsupported,
)
from wahost.models.envelope import Contact


class ReferredProduct(msgspec.Struct, frozen=True, omit_defaults=True):
    """``context.referred_product``: the product whose "Message business" button was tapped."""

    catalog_id: str = ""
    product_retailer_id: str = ""


class Context(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``messages[].context``: what the message refers to.

    A reply or quote has ``from_`` (the business number) and ``id`` (the quoted wamid); a
    forwarded message has ``forwarded`` (forwarded 5 times or fewer) or
    ``frequently_forwarded`` (more than 5); a question about a product has
    ``referred_product``.
    """

    from_: str | None = msgspec.field(default=None, name="from")
    id: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: ReferredProduct | None = None


class WelcomeMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """``referral.welcome_message``: the greeting the ad showed."""

    text: str | None = None


class Referral(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``messages[].referral``: the Click-to-WhatsApp ad or post the user came from.

    ``ctwa_clid`` is omitted for WhatsApp Status ad placements.
    """

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    body: str | None = None
    headline: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None
    welcome_message: WelcomeMessage | None = None


class Identity(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``messages[].identity``: the user's identity key changed (identity-change check on).

    ``created_timestamp`` is Unix seconds (a string or an int); ``hash`` is the new identity
    key hash to send as ``recipient_identity_key_hash``.
    """

    acknowledged: bool | None = None
    created_timestamp: str | int | None = None
    hash: str | None = None


class Message(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An inbound message: the fields every type shares.

    ``type`` is the type string as Meta sent it; the subclass carries the object of that type
    (``TextMessage.text``, ``ImageMessage.image``, ...). ``from_`` is the wire field ``from``
    (the user's phone number), which Meta may omit for users with a username since 2026
    (reference/cloudapi.md §3): use :attr:`sender`. ``timestamp`` is a string of Unix seconds
    (an int is accepted too); :attr:`time` converts it. ``errors`` is set for unsupported
    messages.

    ``group_id`` is set for a message sent in a group chat, and is its only marker
    (reference/cloudapi.md §12.2); ``from_`` and :attr:`sender` are then the participant who
    wrote it. ``from_user_id`` and ``from_parent_user_id`` are the sender's business-scoped
    user id and its parent (§13). ``identity`` is the identity block of a
    ``customer_identity_changed`` system message (§14.9).

    The envelope fields ``phone_number_id``, ``display_phone_number``, ``waba_id`` and
    ``contact`` (the sender's entry in ``value.contacts``) are filled by
    :func:`wahost.models.decode_unit`.

    :attr:`raw` is the item exactly as Meta sent it (``raw_json`` holds its bytes).
    ``degraded`` lists the fields whose value did not have the documented type, each as
    ``"<path>: coerced"`` (a lossless conversion, e.g. the string ``"37.48"`` for a latitude)
    or ``"<path>: dropped"`` (the field has its default; its value is still in :attr:`raw`);
    it is empty for a message that matched its model.
    """

    id: str = ""
    type: str = ""
    from_: str | None = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    from_parent_user_id: str | None = None
    from_logical_id: str | None = None
    user_id: str | None = None
    group_id: str | None = None
    timestamp: str | int | None = None
    context: Context | None = None
    referral: Referral | None = None
    identity: Identity | None = None
    errors: list[Error] = []
    phone_number_id: str = ""
    display_phone_number: str = ""
    waba_id: str = ""
    contact: Contact | None = None
    raw_json: msgspec.Raw = NO_RAW
    degraded: tuple[str, ...] = ()

    @property
    def raw(self) -> dict[str, Any]:
        """The message item as Meta sent it (``value.messages[]``), as a new dict on each
        read: the escape hatch for anything the typed fields do not cover."""
        return raw_dict(self.raw_json)

    @property
    def sender(self) -> str:
        """The user's id: ``from``, else the message's ``from_user_id``/``user_id``, else the
        contact's ``user_id`` or ``wa_id``; ``""`` if none is known.

        This is the ``user`` of the message's unit and conversation.
        """
        if self.from_:
            return self.from_
        if self.from_user_id:
            return self.from_user_id
        if self.user_id:
            return self.user_id
        if self.contact is not None:
            return self.contact.user_id or self.contact.wa_id or ""
        return ""

    @property
    def time(self) -> datetime | None:
        """``timestamp`` as an aware UTC datetime (None if Meta sent none)."""
        return unix_time(self.timestamp)

    @property
    def in_group(self) -> bool:
        """True for a message sent in a group chat (``group_id`` is set)."""
        return bool(self.group_id)


class TextMessage(Message, kw_only=True, frozen=True):
    """``type == "text"``: ``message.text.body`` is the text."""

    text: Text


class ImageMessage(Message, kw_only=True, frozen=True):
    """``type == "image"``."""

    image: Media


class AudioMessage(Message, kw_only=True, frozen=True):
    """``type == "audio"``; ``audio.voice`` is true for a voice recording."""

    audio: Audio


class VideoMessage(Message, kw_only=True, frozen=True):
    """``type == "video"``."""

    video: Media


class DocumentMessage(Message, kw_only=True, frozen=True):
    """``type == "document"``."""

    document: Document


class StickerMessage(Message, kw_only=True, frozen=True):
    """``type == "sticker"``."""

    sticker: Sticker


class LocationMessage(Message, kw_only=True, frozen=True):
    """``type == "location"``."""

    location: Location


class ContactsMessage(Message, kw_only=True, frozen=True):
    """``type == "contacts"``: contact cards the user shared (not to be confused with
    :attr:`Message.contact`, the sender)."""

    contacts: list[SharedContact] = []
    origin_raw: str | None = msgspec.field(default=None, name="origin")

    @property
    def origin(self) -> str | None:
        """``contact_request`` or ``other`` for a card shared in answer to a request for
        contact information, read from the message or its first card (§13.5)."""
        if self.origin_raw:
            return self.origin_raw
        return next((card.origin for card in self.contacts if card.origin), None)


class InteractiveMessage(Message, kw_only=True, frozen=True):
    """``type == "interactive"``: a reply button, list row or completed Flow.

    ``interactive`` is None when Meta omits it: real traffic has carried
    ``type: "interactive"`` with no ``interactive`` object (reference/cloudapi.md §3, pywa's
    ``interactive_message_with_err``), usually together with ``errors``.
    """

    interactive: Interactive | None = None

    @property
    def reply_id(self) -> str | None:
        """The id of the tapped button or chosen list row, if this is such a reply."""
        if self.interactive is None:
            return None
        reply = self.interactive.button_reply or self.interactive.list_reply
        return reply.id if reply is not None else None


class ButtonMessage(Message, kw_only=True, frozen=True):
    """``type == "button"``: a template quick-reply button (``button.payload``)."""

    button: Button


class ReactionMessage(Message, kw_only=True, frozen=True):
    """``type == "reaction"``; :attr:`removed` is true when the reaction was removed."""

    reaction: Reaction

    @property
    def removed(self) -> bool:
        """True when the user removed their reaction (``emoji`` omitted or ``""``)."""
        return self.reaction.removed


class OrderMessage(Message, kw_only=True, frozen=True):
    """``type == "order"``."""

    order: Order


class SystemMessage(Message, kw_only=True, frozen=True):
    """``type == "system"``, e.g. the user changed number. It comes without a contact."""

    system: System


class RequestWelcomeMessage(Message, kw_only=True, frozen=True):
    """``type == "request_welcome"``: the user opened the chat for the first time."""


class UnsupportedMessage(Message, kw_only=True, frozen=True):
    """``type == "unsupported"`` (or ``"unknown"``, an older name): something the Cloud API
    cannot deliver. ``errors`` says why (e.g. 131051); ``unsupported.type`` says what it was,
    but older payloads have no ``unsupported`` object."""

    unsupported: Unsupported | None = None


class RevokeMessage(Message, kw_only=True, frozen=True):
    """``type == "revoke"``: the user deleted ``revoke.original_message_id``."""

    revoke: Revoke


class MessageContent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """What a message says, apart from who sent it: ``type`` and the object of that type.

    The new content of an edit (:class:`Edit`), and the body of echoes and history messages
    (:mod:`wahost.models.coexistence`). The object of ``type`` is set; a type not listed here
    is in the ``raw`` of the update that holds it.
    """

    type: str = ""
    context: Context | None = None
    text: Text | None = None
    image: Media | None = None
    audio: Audio | None = None
    video: Media | None = None
    document: Document | None = None
    sticker: Sticker | None = None
    location: Location | None = None
    contacts: list[SharedContact] = []
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None
    revoke: Revoke | None = None
    unsupported: Unsupported | None = None

    @property
    def body(self) -> str | None:
        """The text, or the caption of a media message, if any."""
        if self.text is not None:
            return self.text.body
        media = self.image or self.video or self.document or self.audio
        return media.caption if media is not None else None


class Edit(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``edit``: the user edited ``original_message_id`` (text or a caption, within 15
    minutes); ``message`` is the new content."""

    original_message_id: str = ""
    message: MessageContent | None = None


class EditMessage(Message, kw_only=True, frozen=True):
    """``type == "edit"``: the user edited a message they sent (coexistence numbers,
    reference/cloudapi.md §14.3). ``edit.message.body`` is the new text or caption."""

    edit: Edit


class UnknownMessage(Message, kw_only=True, frozen=True):
    """A message of a type this version does not model, or of a known type whose own object
    could not be read at all (then ``degraded`` says why).

    ``type`` keeps the type string and :attr:`raw` the whole item as Meta sent it, so a plugin
    can still handle it.
    """


MESSAGE_TYPES: Mapping[str, type[Message]] = MappingProxyType(
    {
        "text": TextMessage,
        "image": ImageMessage,
        "audio": AudioMessage,
        "video": VideoMessage,
        "document": DocumentMessage,
        "sticker": StickerMessage,
        "location": LocationMessage,
        "contacts": ContactsMessage,
        "interactive": InteractiveMessage,
        "button": ButtonMessage,
        "reaction": ReactionMessage,
        "order": OrderMessage,
        "system": SystemMessage,
        "request_welcome": RequestWelcomeMessage,
        "unsupported": UnsupportedMessage,
        "unknown": UnsupportedMessage,
        "revoke": RevokeMessage,
        "edit": EditMessage,
    }
)
"""Each known ``messages[].type`` and the class it decodes to. Any other type decodes to
:class:`UnknownMessage`."""
