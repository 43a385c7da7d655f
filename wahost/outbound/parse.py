"""The message bodies wahost sends, read back: the one parser of Meta's send format.

:func:`message_body` writes a ``POST /<PHONE_NUMBER_ID>/messages`` body (reference/cloudapi.md
§6); :func:`parse_message_body` reads one into a typed :class:`MessageBody` for whatever must
look at a send afterwards: the history's preview (:func:`wahost.graph.preview`), the simulator
that shows it to a pretend user, the fake Graph API that accepts it, and tests that assert on
it. It reads leniently, as a viewer must: a field of the wrong type reads as absent (a number
where a string belongs reads as its text, as Meta accepts it), a button or row without its id
or title is left out, and only a body without a ``type`` naming its content is not a message.

:func:`message_body` is in :mod:`wahost.outbound.body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlparse

import msgspec

__all__ = [
    "MEDIA_TYPES",
    "BodyButton",
    "BodyInteractive",
    "BodyLocation",
    "BodyMedia",
    "BodyReaction",
    "BodyRow",
    "BodyTemplate",
    "MessageBody",
    "as_list",
    "as_map",
    "as_number",
    "as_text",
    "location_of",
    "media_of",
    "parse_message_body",
]

#: The message types whose content is a media object (``id`` or ``link``, ``caption``...).
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")

#: How long :meth:`MessageBody.preview` is at most.
PREVIEW_CHARS = 120


def as_text(value: Any) -> str | None:
    """A string as is, a number as its text (not a bool), anything else ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_number(value: Any) -> float | None:
    """A finite number (or a string of one); ``None`` for anything else, bools included."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == number and abs(number) != float("inf") else None


class BodyMedia(msgspec.Struct, frozen=True, kw_only=True):
    """An image, video, audio, document or sticker, by ``id`` or ``link``."""

    type: str
    id: str | None = None
    link: str | None = None
    caption: str | None = None
    filename: str | None = None
    #: An audio sent as a voice message.
    voice: bool = False

    @property
    def name(self) -> str | None:
        """The file name, else the last part of the link, else the media id."""
        if self.filename:
            return self.filename
        if self.link:
            return unquote(urlparse(self.link).path.rstrip("/").rsplit("/", 1)[-1]) or self.link
        return self.id or None


class BodyLocation(msgspec.Struct, frozen=True, kw_only=True):
    """A place; a coordinate that is not a number reads as ``None``."""

    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class BodyReaction(msgspec.Struct, frozen=True, kw_only=True):
    """A reaction to ``message_id``; ``emoji`` empty or ``None`` removes it."""

    message_id: str | None = None
    emoji: str | None = None


class BodyTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """A template message: its name, language code and components as sent."""

    name: str | None = None
    language: str | None = None
    components: list[Mapping[str, Any]] = []


class BodyButton(msgspec.Struct, frozen=True):
    """A reply button."""

    id: str
    title: str


class BodyRow(msgspec.Struct, frozen=True, kw_only=True):
    """A list message's row, with the title of its section."""

    id: str
    title: str
    description: str | None = None
    section: str | None = None


class BodyInteractive(msgspec.Struct, frozen=True, kw_only=True):
    """An interactive message: its kind (``button``, ``list``, ``flow``, ``cta_url``...), the
    texts around it, and its ``action`` as sent; reply buttons and list rows typed."""

    type: str | None = None
    body: str | None = None
    footer: str | None = None
    #: ``text``, or a media type (then :attr:`header_media`).
    header_type: str | None = None
    header_text: str | None = None
    header_media: BodyMedia | None = None
    action: Mapping[str, Any] = {}
    buttons: list[BodyButton] = []
    rows: list[BodyRow] = []
    #: The list message's button, which opens its rows.
    list_button: str | None = None


class MessageBody(msgspec.Struct, frozen=True, kw_only=True):
    """A message body as sent; the typed content of its ``type`` is set, the others ``None``."""

    type: str
    to: str | None = None
    recipient_type: str | None = None
    #: The wamid the message quotes (``context.message_id``).
    context_id: str | None = None
    biz_opaque_callback_data: str | None = None
    #: The object (or, for ``contacts``, the array) under the ``type`` key, as sent.
    content: Any = None
    text: str | None = None
    media: BodyMedia | None = None
    location: BodyLocation | None = None
    reaction: BodyReaction | None = None
    template: BodyTemplate | None = None
    interactive: BodyInteractive | None = None
    contacts: list[Mapping[str, Any]] | None = None

    def preview(self) -> str:
        """A short, human line for a history: a text's words, a caption, a template's name."""
        text = ""
        if self.text is not None:
            text = self.text
        elif self.interactive is not None:
            text = self.interactive.body or ""
        elif self.template is not None:
            text = f"template {self.template.name or ''}"
        elif self.reaction is not None:
            text = f"reaction {self.reaction.emoji or ''}".rstrip()
        elif self.location is not None:
            place = self.location
            text = place.name or f"{_number(place.latitude)}, {_number(place.longitude)}"
        elif self.media is not None:
            media = self.media
            name = media.caption or media.filename or media.link or media.id
            text = f"[{media.type}] {name or ''}".rstrip()
        elif self.contacts is not None:
            text = f"[{len(self.contacts)} contact(s)]"
        text = " ".join(text.split())
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def parse_message_body(body: Any) -> MessageBody | None:
    """``body`` (a ``/messages`` request body, decoded JSON) read as a message, or ``None``
    when it is not one (no ``type`` naming an object or array beside it: a mark-as-read, a
    typing indicator, anything else). Never raises."""
    if not isinstance(body, Mapping):
        return None
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return None
    content = body.get(kind)
    if not isinstance(content, Mapping | list):
        return None
    fields: dict[str, Any] = {}
    if isinstance(content, Mapping):
        if kind == "text":
            text = content.get("body")
            fields["text"] = text if isinstance(text, str) else None
        elif kind in MEDIA_TYPES:
            fields["media"] = media_of(kind, content)
        elif kind == "location":
            fields["location"] = location_of(content)
        elif kind == "reaction":
            fields["reaction"] = BodyReaction(
                message_id=as_text(content.get("message_id")),
                emoji=content.get("emoji") if isinstance(content.get("emoji"), str) else None,
            )
        elif kind == "template":
            fields["template"] = _template(content)
        elif kind == "interactive":
            fields["interactive"] = _interactive(content)
    elif kind == "contacts":
        fields["contacts"] = [as_map(card) for card in content]
    return MessageBody(
        type=kind,
        to=as_text(body.get("to")),
        recipient_type=as_text(body.get("recipient_type")),
        context_id=as_text(as_map(body.get("context")).get("message_id")),
        biz_opaque_callback_data=as_text(body.get("biz_opaque_callback_data")),
        content=content,
        **fields,
    )


def _number(value: float | None) -> str:
    """A coordinate as JSON would show it (``2``, not ``2.0``)."""
    if value is None:
        return "None"
    return str(int(value)) if value.is_integer() else repr(value)


def media_of(kind: str, content: Mapping[str, Any]) -> BodyMedia:
    """The media object ``content`` of type ``kind`` (a message's, a header's, a template
    parameter's)."""
    return BodyMedia(
        type=kind,
        id=as_text(content.get("id")),
        link=as_text(content.get("link")),
        caption=as_text(content.get("caption")),
        filename=as_text(content.get("filename")),
        voice=content.get("voice") is True,
    )


def location_of(content: Mapping[str, Any]) -> BodyLocation:
    """The location object ``content`` (a message's or a template header parameter's)."""
    return BodyLocation(
        latitude=as_number(content.get("latitude")),
        longitude=as_number(content.get("longitude")),
        name=as_text(content.get("name")),
        address=as_text(content.get("address")),
    )


def _template(content: Mapping[str, Any]) -> BodyTemplate:
    language = as_text(as_map(content.get("language")).get("code"))
    return BodyTemplate(
        name=as_text(content.get("name")),
        language=language or as_text(content.get("language")),
        components=[as_map(c) for c in as_list(content.get("components"))],
    )


def _interactive(content: Mapping[str, Any]) -> BodyInteractive:
    header = as_map(content.get("header"))
    header_type = as_text(header.get("type"))
    header_media = None
    if header_type in MEDIA_TYPES and isinstance(header.get(header_type), Mapping):
        header_media = media_of(header_type, header[header_type])
    action = as_map(content.get("action"))
    kind = as_text(content.get("type"))
    buttons: list[BodyButton] = []
    rows: list[BodyRow] = []
    if kind == "button":
        for button in as_list(action.get("buttons")):
            reply = as_map(as_map(button).get("reply"))
            button_id, title = as_text(reply.get("id")), as_text(reply.get("title"))
            if button_id is not None and title is not None:
                buttons.append(BodyButton(button_id, title))
    elif kind == "list":
        for section in map(as_map, as_list(action.get("sections"))):
            section_title = as_text(section.get("title"))
            for row in map(as_map, as_list(section.get("rows"))):
                row_id, title = as_text(row.get("id")), as_text(row.get("title"))
                if row_id is not None and title is not None:
                    rows.append(
                        BodyRow(
                            id=row_id,
                            title=title,
                            description=as_text(row.get("description")),
                            section=section_title,
                        )
                    )
    return BodyInteractive(
        type=kind,
        body=as_text(as_map(content.get("body")).get("text")),
        footer=as_text(as_map(content.get("footer")).get("text")),
        header_type=header_type,
        header_text=as_text(header.get("text")) if header_type == "text" else None,
        header_media=header_media,
        action=action,
        buttons=buttons,
        rows=rows,
        list_button=as_text(action.get("button")) if kind == "list" else None,
    )
