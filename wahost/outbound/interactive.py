"""Interactive messages: reply buttons, lists, a call-to-action URL, a location request and a
Flow (reference/cloudapi.md §6).

All of them share the ``interactive`` type and the same frame: an optional header, a body, an
optional footer (at most 60 characters) and an action. A header is given as a ``str`` (a text
header, at most 60 characters) or as an :class:`~wahost.outbound.Image`,
:class:`~wahost.outbound.Video` or :class:`~wahost.outbound.Document` without a caption; a list
message takes a text header only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

from wahost.callback_data import LIST_ROW_ID_MAX, REPLY_BUTTON_ID_MAX, CallbackData
from wahost.outbound.base import (
    Outbound,
    Part,
    check_choice,
    check_instance,
    check_items,
    check_optional_text,
    check_text,
    check_unique,
    check_url,
)
from wahost.outbound.media import Document, Image, Video

__all__ = [
    "CtaUrl",
    "FlowMessage",
    "Header",
    "ListMessage",
    "LocationRequest",
    "ReplyButton",
    "ReplyButtons",
    "Row",
    "Section",
]

Header = str | Image | Video | Document
"""A header: a text (``str``, at most 60 characters) or an image, video or document."""

HEADER_TEXT_MAX = 60
"""Meta gives 60 for text headers on the list and cta_url pages (M-list, M-cta-url)."""
FOOTER_MAX = 60
BODY_MAX = 1024
"""The body of buttons, cta_url and location-request messages; a list body takes 4096."""
LIST_BODY_MAX = 4096


def check_frame(
    path: str, body: object, body_max: int, header: object, footer: object, media: bool = True
) -> None:
    """Check the body, header and footer every interactive message has."""
    check_text(f"{path}.body", body, body_max)
    if header is not None:
        if isinstance(header, str) or not media:
            check_text(f"{path}.header", header, HEADER_TEXT_MAX)
        else:
            check_instance(f"{path}.header", header, (str, Image, Video, Document))
            assert isinstance(header, Image | Video | Document)
            header._check(f"{path}.header")
            if header.caption is not None:
                raise ValueError(f"{path}.header.caption: not allowed in a header")
    check_optional_text(f"{path}.footer", footer, FOOTER_MAX)


def frame(
    kind: str, body: str, action: dict[str, Any], header: Header | None, footer: str | None
) -> dict[str, Any]:
    """The ``interactive`` object: type, header?, body, footer?, action."""
    content: dict[str, Any] = {"type": kind}
    if isinstance(header, str):
        content["header"] = {"type": "text", "text": header}
    elif header is not None:
        content["header"] = {"type": header.type, header.type: header.content()}
    content["body"] = {"text": body}
    if footer is not None:
        content["footer"] = {"text": footer}
    content["action"] = action
    return content


class ReplyButton(Part, frozen=True):
    """One reply button. Its ``id`` comes back in the ``button_reply`` of the user's answer."""

    id: str | CallbackData
    """Up to 256 characters, unique within the message. A :class:`~wahost.CallbackData` is
    packed into it when the button is built (``ReplyButton(Pick(item="tea"), "Tea")``), so the
    id is always a ``str`` afterwards; one that packs into more than 256 characters raises
    :class:`ValueError` there."""

    title: str
    """The label: up to 20 characters, unique within the message."""

    def __post_init__(self) -> None:
        if isinstance(self.id, CallbackData):
            msgspec.structs.force_setattr(self, "id", self.id.pack(limit=REPLY_BUTTON_ID_MAX))

    def _check(self, path: str) -> None:
        check_text(f"{path}.id", self.id, REPLY_BUTTON_ID_MAX)
        check_text(f"{path}.title", self.title, 20)

    def content(self) -> dict[str, Any]:
        return {"type": "reply", "reply": {"id": self.id, "title": self.title}}


class ReplyButtons(Outbound, frozen=True):
    """A message with 1 to 3 reply buttons (Meta's interactive ``button`` type).

    Body up to 1024 characters. Meta requires the button labels to be unique; wahost also
    requires unique ids, since the id is how the answer is told apart.
    """

    type: ClassVar[str] = "interactive"

    body: str
    buttons: list[ReplyButton]
    header: Header | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_frame(path, self.body, BODY_MAX, self.header, self.footer)
        buttons = check_items(f"{path}.buttons", self.buttons, ReplyButton, 1, 3, "button")
        for index, button in enumerate(buttons):
            button._check(f"{path}.buttons[{index}]")
        check_unique([(f"{path}.buttons[{i}].id", b.id) for i, b in enumerate(buttons)], "id")
        titles = [(f"{path}.buttons[{i}].title", b.title) for i, b in enumerate(buttons)]
        check_unique(titles, "title")

    def content(self) -> dict[str, Any]:
        action = {"buttons": [button.content() for button in self.buttons]}
        return frame("button", self.body, action, self.header, self.footer)


class Row(Part, frozen=True):
    """One choice of a list. Its ``id`` comes back in the ``list_reply`` of the user's answer."""

    id: str | CallbackData
    """Up to 200 characters, unique within the message. A :class:`~wahost.CallbackData` is
    packed into it when the row is built, as in :class:`ReplyButton` (with the 200 limit)."""

    title: str
    """Up to 24 characters."""

    description: str | None = None
    """Up to 72 characters."""

    def __post_init__(self) -> None:
        if isinstance(self.id, CallbackData):
            msgspec.structs.force_setattr(self, "id", self.id.pack(limit=LIST_ROW_ID_MAX))

    def _check(self, path: str) -> None:
        check_text(f"{path}.id", self.id, LIST_ROW_ID_MAX)
        check_text(f"{path}.title", self.title, 24)
        check_optional_text(f"{path}.description", self.description, 72)

    def content(self) -> dict[str, Any]:
        row = {"id": self.id, "title": self.title}
        if self.description is not None:
            row["description"] = self.description
        return row


class Section(Part, frozen=True):
    """A titled group of rows.

    Meta's parameter table marks the title required; wahost requires it only when the list has
    more than one section, where it separates them. Whether Meta accepts a single untitled
    section is UNVERIFIED.
    """

    title: str | None = None
    """Up to 24 characters."""

    rows: list[Row] = []
    """At least one row."""

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.title", self.title, 24)
        for index, row in enumerate(check_items(f"{path}.rows", self.rows, Row, 1, 10, "row")):
            row._check(f"{path}.rows[{index}]")

    def content(self) -> dict[str, Any]:
        section: dict[str, Any] = {} if self.title is None else {"title": self.title}
        section["rows"] = [row.content() for row in self.rows]
        return section


class ListMessage(Outbound, frozen=True):
    """A message whose button opens a list of choices (Meta's interactive ``list`` type).

    Up to 10 sections and 10 rows in total; body up to 4096 characters, button label up to 20,
    header text only (up to 60), footer up to 60 (reference/cloudapi.md §6, M-list).
    """

    type: ClassVar[str] = "interactive"

    body: str
    button: str
    """The label of the button that opens the list: up to 20 characters."""

    sections: list[Section]
    header: str | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_frame(path, self.body, LIST_BODY_MAX, self.header, self.footer, media=False)
        check_text(f"{path}.button", self.button, 20)
        sections = check_items(f"{path}.sections", self.sections, Section, 1, 10, "section")
        for index, section in enumerate(sections):
            section._check(f"{path}.sections[{index}]")
            if section.title is None and len(sections) > 1:
                raise ValueError(
                    f"{path}.sections[{index}].title: required when there are several sections"
                )
        rows = [
            (f"{path}.sections[{i}].rows[{j}].id", row.id)
            for i, section in enumerate(sections)
            for j, row in enumerate(section.rows)
        ]
        if len(rows) > 10:
            raise ValueError(f"{path}.sections: at most 10 rows in total (got {len(rows)})")
        check_unique(rows, "row id")

    def content(self) -> dict[str, Any]:
        action = {"button": self.button, "sections": [s.content() for s in self.sections]}
        return frame("list", self.body, action, self.header, self.footer)


class CtaUrl(Outbound, frozen=True):
    """A message with one button that opens a URL (Meta's interactive ``cta_url`` type).

    Body up to 1024 characters, button label up to 20 (reference/cloudapi.md §6, M-cta-url).
    """

    type: ClassVar[str] = "interactive"

    body: str
    display_text: str
    """The button label: up to 20 characters."""

    url: str
    """The http(s) URL opened in the phone's browser."""

    header: Header | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_frame(path, self.body, BODY_MAX, self.header, self.footer)
        check_text(f"{path}.display_text", self.display_text, 20)
        check_url(f"{path}.url", self.url)

    def content(self) -> dict[str, Any]:
        parameters = {"display_text": self.display_text, "url": self.url}
        action = {"name": "cta_url", "parameters": parameters}
        return frame("cta_url", self.body, action, self.header, self.footer)


class LocationRequest(Outbound, frozen=True):
    """A message with a Send location button; the answer arrives as an ordinary ``location``
    message (reference/cloudapi.md §6, M-location-request). Body up to 1024 characters."""

    type: ClassVar[str] = "interactive"

    body: str

    def _check(self, path: str) -> None:
        check_frame(path, self.body, BODY_MAX, None, None)

    def content(self) -> dict[str, Any]:
        action = {"name": "send_location"}
        return frame("location_request_message", self.body, action, None, None)


class FlowMessage(Outbound, frozen=True):
    """A message with a button that opens a WhatsApp Flow (Meta's interactive ``flow`` type).

    Give exactly one of ``flow_id`` and ``flow_name``. ``flow_token`` identifies the session to
    your Flow endpoint (Meta's default is ``"unused"``). ``mode="draft"`` sends the current draft
    of an edited Flow; ``"published"`` is Meta's default and is not sent, as in Meta's examples.
    ``screen`` and ``data`` (a non-empty object for the first screen) make the
    ``flow_action_payload``, which Meta allows only with ``flow_action="navigate"``
    (reference/cloudapi.md §6, M-send-flow).

    Meta advises a ``flow_cta`` of at most 30 characters without emoji; wahost does not enforce
    that advice. Meta gives no body limit for Flow messages; wahost applies the 1024 of the other
    interactive types (UNVERIFIED).
    """

    type: ClassVar[str] = "interactive"

    flow_cta: str
    """The button label."""

    body: str
    flow_id: str | None = None
    flow_name: str | None = None
    flow_token: str = "unused"
    mode: Literal["published", "draft"] = "published"
    flow_action: Literal["navigate", "data_exchange"] = "navigate"
    screen: str | None = None
    """The first screen (an entry screen); Meta's default is the Flow's first entry screen."""

    data: dict[str, Any] | None = None
    """Input data of the first screen; a non-empty JSON object."""

    flow_message_version: str = "3"
    header: Header | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_frame(path, self.body, BODY_MAX, self.header, self.footer)
        check_text(f"{path}.flow_cta", self.flow_cta)
        if (self.flow_id is None) == (self.flow_name is None):
            got = "both" if self.flow_id is not None else "neither"
            raise ValueError(f"{path}: exactly one of flow_id or flow_name is required (got {got})")
        check_optional_text(f"{path}.flow_id", self.flow_id)
        check_optional_text(f"{path}.flow_name", self.flow_name)
        check_text(f"{path}.flow_token", self.flow_token)
        check_choice(f"{path}.mode", self.mode, ("published", "draft"))
        check_choice(f"{path}.flow_action", self.flow_action, ("navigate", "data_exchange"))
        check_text(f"{path}.flow_message_version", self.flow_message_version)
        check_optional_text(f"{path}.screen", self.screen)
        if self.data is not None:
            if not isinstance(self.data, dict) or not self.data:
                raise ValueError(f"{path}.data: must be a non-empty dict (got {self.data!r})")
            try:
                msgspec.json.encode(self.data)
            except TypeError as error:
                raise ValueError(f"{path}.data: not JSON-encodable ({error})") from None
        if self.flow_action != "navigate" and (self.screen is not None or self.data is not None):
            raise ValueError(
                f"{path}: screen and data are only allowed with flow_action='navigate'"
            )

    def content(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "flow_message_version": self.flow_message_version,
            "flow_token": self.flow_token,
        }
        if self.flow_id is not None:
            parameters["flow_id"] = self.flow_id
        else:
            parameters["flow_name"] = self.flow_name
        parameters["flow_cta"] = self.flow_cta
        if self.mode != "published":
            parameters["mode"] = self.mode
        parameters["flow_action"] = self.flow_action
        payload: dict[str, Any] = {}
        if self.screen is not None:
            payload["screen"] = self.screen
        if self.data is not None:
            payload["data"] = self.data
        if payload:
            parameters["flow_action_payload"] = payload
        action = {"name": "flow", "parameters": parameters}
        return frame("flow", self.body, action, self.header, self.footer)
