"""Every limit of the outbound builders: the value at the limit passes, one over fails with a
``ValueError`` whose message names the field path and the limit.

Lengths are Python ``len()`` of a str (code points). Meta counts "characters"; emoji may count
differently on Meta's side (UNVERIFIED), which these tests cannot settle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import pytest

from wahost.outbound import (
    Contact,
    Contacts,
    CtaUrl,
    CurrencyParameter,
    Document,
    FlowMessage,
    Image,
    ListMessage,
    Location,
    LocationRequest,
    Name,
    Outbound,
    Reaction,
    ReplyButton,
    ReplyButtons,
    Row,
    Section,
    Sticker,
    Template,
    TemplateBody,
    TemplateButton,
    TemplateHeader,
    Text,
    TextParameter,
    Video,
    message_body,
)


def buttons(*titles: str) -> list[ReplyButton]:
    return [ReplyButton(f"id-{i}", title) for i, title in enumerate(titles)]


def rows(count: int, prefix: str = "r") -> list[Row]:
    return [Row(f"{prefix}{i}", f"Row {i}") for i in range(count)]


# (path, limit, build(text of the given length)) for every length limit.
LENGTHS: list[tuple[str, int, Callable[[str], Outbound]]] = [
    ("Text.body", 4096, lambda s: Text(s)),
    ("Image.caption", 1024, lambda s: Image(id="1", caption=s)),
    ("Video.caption", 1024, lambda s: Video(id="1", caption=s)),
    ("Document.caption", 1024, lambda s: Document(id="1", caption=s)),
    ("ReplyButtons.body", 1024, lambda s: ReplyButtons(s, buttons("A"))),
    ("ReplyButtons.header", 60, lambda s: ReplyButtons("b", buttons("A"), header=s)),
    ("ReplyButtons.footer", 60, lambda s: ReplyButtons("b", buttons("A"), footer=s)),
    ("ReplyButtons.buttons[1].title", 20, lambda s: ReplyButtons("b", buttons("A", s))),
    ("ReplyButtons.buttons[0].id", 256, lambda s: ReplyButtons("b", [ReplyButton(s, "A")])),
    ("ListMessage.body", 4096, lambda s: ListMessage(s, "Open", [Section(rows=rows(1))])),
    ("ListMessage.button", 20, lambda s: ListMessage("b", s, [Section(rows=rows(1))])),
    (
        "ListMessage.header",
        60,
        lambda s: ListMessage("b", "Open", [Section(rows=rows(1))], header=s),
    ),
    (
        "ListMessage.footer",
        60,
        lambda s: ListMessage("b", "Open", [Section(rows=rows(1))], footer=s),
    ),
    (
        "ListMessage.sections[0].title",
        24,
        lambda s: ListMessage("b", "Open", [Section(s, rows(1))]),
    ),
    (
        "ListMessage.sections[0].rows[0].title",
        24,
        lambda s: ListMessage("b", "Open", [Section(rows=[Row("r", s)])]),
    ),
    (
        "ListMessage.sections[0].rows[0].id",
        200,
        lambda s: ListMessage("b", "Open", [Section(rows=[Row(s, "R")])]),
    ),
    (
        "ListMessage.sections[0].rows[0].description",
        72,
        lambda s: ListMessage("b", "Open", [Section(rows=[Row("r", "R", s)])]),
    ),
    ("CtaUrl.body", 1024, lambda s: CtaUrl(s, "Go", "https://a.example")),
    ("CtaUrl.display_text", 20, lambda s: CtaUrl("b", s, "https://a.example")),
    ("CtaUrl.header", 60, lambda s: CtaUrl("b", "Go", "https://a.example", header=s)),
    ("CtaUrl.footer", 60, lambda s: CtaUrl("b", "Go", "https://a.example", footer=s)),
    ("LocationRequest.body", 1024, lambda s: LocationRequest(s)),
    ("FlowMessage.body", 1024, lambda s: FlowMessage("Go", s, flow_id="1")),
    ("FlowMessage.header", 60, lambda s: FlowMessage("Go", "b", flow_id="1", header=s)),
    ("FlowMessage.footer", 60, lambda s: FlowMessage("Go", "b", flow_id="1", footer=s)),
    ("Template.name", 512, lambda s: Template(s, "en_US")),
]


@pytest.mark.parametrize(("path", "limit", "build"), LENGTHS, ids=[c[0] for c in LENGTHS])
def test_length_limit(path: str, limit: int, build: Callable[[str], Outbound]) -> None:
    message_body("+16505551234", build("x" * limit))
    with pytest.raises(ValueError) as info:
        build("x" * (limit + 1))
    assert str(info.value) == f"{path}: at most {limit} characters (got {limit + 1})"


def test_lengths_count_code_points() -> None:
    # "👍🏽" is two code points (thumbs up + skin tone) and counts as two here.
    ReplyButtons("b", buttons("👍🏽" * 10))
    with pytest.raises(ValueError, match=r"at most 20 characters \(got 22\)"):
        ReplyButtons("b", buttons("👍🏽" * 11))


# (path and message, limit, build(count)) for every limit on a number of items.
COUNTS: list[tuple[str, int, Callable[[int], Outbound]]] = [
    (
        "ReplyButtons.buttons: at most 3 buttons",
        3,
        lambda n: ReplyButtons("b", buttons(*"ABCD"[:n])),
    ),
    (
        "ListMessage.sections: at most 10 sections",
        10,
        lambda n: ListMessage(
            "b", "Open", [Section(f"S{i}", [Row(f"r{i}", "R")]) for i in range(n)]
        ),
    ),
    (
        "ListMessage.sections: at most 10 rows in total",
        10,
        lambda n: ListMessage(
            "b", "Open", [Section("A", rows(5, "a")), Section("B", rows(n - 5, "b"))]
        ),
    ),
    (
        "ListMessage.sections[0].rows: at most 10 rows",
        10,
        lambda n: ListMessage("b", "Open", [Section(rows=rows(n))]),
    ),
    (
        "Contacts.contacts: at most 257 contacts",
        257,
        lambda n: Contacts([Contact(name=Name(formatted_name=f"C{i}")) for i in range(n)]),
    ),
]


@pytest.mark.parametrize(("message", "limit", "build"), COUNTS, ids=[c[0] for c in COUNTS])
def test_count_limit(message: str, limit: int, build: Callable[[int], Outbound]) -> None:
    build(limit)
    with pytest.raises(ValueError) as info:
        build(limit + 1)
    assert str(info.value) == f"{message} (got {limit + 1})"


# (build, exact error message) for every other rule.
RULES: list[tuple[Callable[[], object], str]] = [
    # required values
    (lambda: Text(""), "Text.body: must not be empty"),
    (lambda: Text(cast(Any, 5)), "Text.body: must be a string (got int)"),
    (lambda: Text("a", preview_url=cast(Any, "yes")), "Text.preview_url: must be a bool (got str)"),
    (lambda: ReplyButtons("b", buttons("")), "ReplyButtons.buttons[0].title: must not be empty"),
    (lambda: ReplyButtons("b", []), "ReplyButtons.buttons: at least 1 button (got 0)"),
    (
        lambda: ReplyButtons("b", cast(Any, ["Yes"])),
        "ReplyButtons.buttons[0]: must be ReplyButton (got str)",
    ),
    (lambda: Reaction("", "👍"), "Reaction.message_id: must not be empty"),
    # media
    (lambda: Image(), "Image: exactly one of id or link is required (got neither)"),
    (
        lambda: Sticker(id="1", link="https://a.example/s.webp"),
        "Sticker: exactly one of id or link is required (got both)",
    ),
    (
        lambda: Image(link="ftp://a.example/p.png"),
        "Image.link: must be an http:// or https:// URL (got 'ftp://a.example/p.png')",
    ),
    (
        lambda: Image(link="https://"),
        "Image.link: must be an http:// or https:// URL (got 'https://')",
    ),
    (
        lambda: Video(id="https://a.example/v.mp4"),
        "Video.id: is a URL; pass it as link= (got 'https://a.example/v.mp4')",
    ),
    # unique ids and titles
    (
        lambda: ReplyButtons("b", [ReplyButton("x", "A"), ReplyButton("x", "B")]),
        "ReplyButtons.buttons[1].id: duplicate id 'x' (also at ReplyButtons.buttons[0].id)",
    ),
    (
        lambda: ReplyButtons("b", [ReplyButton("x", "A"), ReplyButton("y", "A")]),
        "ReplyButtons.buttons[1].title: duplicate title 'A'"
        " (also at ReplyButtons.buttons[0].title)",
    ),
    (
        lambda: ListMessage(
            "b", "Open", [Section("A", [Row("r", "R")]), Section("B", [Row("r", "R")])]
        ),
        "ListMessage.sections[1].rows[0].id: duplicate row id 'r'"
        " (also at ListMessage.sections[0].rows[0].id)",
    ),
    # list structure
    (lambda: ListMessage("b", "Open", []), "ListMessage.sections: at least 1 section (got 0)"),
    (
        lambda: ListMessage("b", "Open", [Section("A")]),
        "ListMessage.sections[0].rows: at least 1 row (got 0)",
    ),
    (
        lambda: ListMessage("b", "Open", [Section("A", rows(1, "a")), Section(rows=rows(1, "b"))]),
        "ListMessage.sections[1].title: required when there are several sections",
    ),
    (
        lambda: ListMessage("b", "Open", [Section(rows=rows(1))], header=cast(Any, Image(id="1"))),
        "ListMessage.header: must be a string (got Image)",
    ),
    # headers
    (
        lambda: ReplyButtons("b", buttons("A"), header=Image(id="1", caption="c")),
        "ReplyButtons.header.caption: not allowed in a header",
    ),
    (
        lambda: ReplyButtons("b", buttons("A"), header=cast(Any, Sticker(id="1"))),
        "ReplyButtons.header: must be str or Image or Video or Document (got Sticker)",
    ),
    (lambda: CtaUrl("b", "Go", "https://a.example", header=""), "CtaUrl.header: must not be empty"),
    (lambda: CtaUrl("b", "Go", "https://a.example", footer=""), "CtaUrl.footer: must not be empty"),
    (
        lambda: CtaUrl("b", "Go", "www.a.example"),
        "CtaUrl.url: must be an http:// or https:// URL (got 'www.a.example')",
    ),
    # location
    (lambda: Location(90.0001, 0), "Location.latitude: must be between -90 and 90 (got 90.0001)"),
    (lambda: Location(-90.5, 0), "Location.latitude: must be between -90 and 90 (got -90.5)"),
    (lambda: Location(0, 180.5), "Location.longitude: must be between -180 and 180 (got 180.5)"),
    (lambda: Location(0, math.nan), "Location.longitude: must be between -180 and 180 (got nan)"),
    (lambda: Location(cast(Any, "1"), 0), "Location.latitude: must be a number (got str)"),
    (lambda: Location(True, 0), "Location.latitude: must be a number (got bool)"),
    # contacts
    (lambda: Contacts([]), "Contacts.contacts: at least 1 contact (got 0)"),
    (
        lambda: Contacts([Contact(name=Name(formatted_name=""))]),
        "Contacts.contacts[0].name.formatted_name: must not be empty",
    ),
    (
        lambda: Contacts([Contact(name=Name(formatted_name="A"), birthday="23/01/1999")]),
        "Contacts.contacts[0].birthday: must be a date written YYYY-MM-DD (got '23/01/1999')",
    ),
    (
        lambda: Contacts([Contact(name=Name(formatted_name="A"), birthday="1999-02-30")]),
        "Contacts.contacts[0].birthday: must be a date written YYYY-MM-DD (got '1999-02-30')",
    ),
    # flows
    (
        lambda: FlowMessage("Go", "b"),
        "FlowMessage: exactly one of flow_id or flow_name is required (got neither)",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", flow_name="n"),
        "FlowMessage: exactly one of flow_id or flow_name is required (got both)",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", flow_action="data_exchange", screen="S"),
        "FlowMessage: screen and data are only allowed with flow_action='navigate'",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", data={}),
        "FlowMessage.data: must be a non-empty dict (got {})",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", data={"a": object()}),
        "FlowMessage.data: not JSON-encodable (Encoding objects of type object is unsupported)",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", mode=cast(Any, "live")),
        "FlowMessage.mode: must be one of 'published', 'draft' (got 'live')",
    ),
    (
        lambda: FlowMessage("Go", "b", flow_id="1", flow_token=""),
        "FlowMessage.flow_token: must not be empty",
    ),
    # templates
    (lambda: Template("t", ""), "Template.language: must not be empty"),
    (
        lambda: Template("t", "en", [TemplateBody.positional("a"), TemplateBody.positional("b")]),
        "Template.components[1]: duplicate component 'body' (also at Template.components[0])",
    ),
    (
        lambda: Template(
            "t", "en", [TemplateButton.url(1, "a"), TemplateButton.quick_reply(1, "p")]
        ),
        "Template.components[1]: duplicate component 'button index 1'"
        " (also at Template.components[0])",
    ),
    (
        lambda: Template("t", "en", [TemplateButton.quick_reply(10, "p")]),
        "Template.components[0].index: must be between 0 and 9 (got 10)",
    ),
    (
        lambda: Template("t", "en", [TemplateBody(["a", TextParameter("b", parameter_name="n")])]),
        "Template.components[0].parameters: named and positional parameters cannot be mixed",
    ),
    (
        lambda: Template(
            "t", "en", [TemplateBody([TextParameter("a", "n"), TextParameter("b", "n")])]
        ),
        "Template.components[0].parameters[1].parameter_name: duplicate parameter_name 'n'"
        " (also at Template.components[0].parameters[0].parameter_name)",
    ),
    (
        lambda: Template("t", "en", [TemplateBody([])]),
        "Template.components[0].parameters: at least 1 parameter (got 0)",
    ),
    (
        lambda: Template("t", "en", [TemplateBody.positional("")]),
        "Template.components[0].parameters[0]: must not be empty",
    ),
    (
        lambda: Template("t", "en", [TemplateHeader(Image(id="1", caption="c"))]),
        "Template.components[0].parameter[0].caption: not allowed in a template header",
    ),
    (
        lambda: Template(
            "t", "en", [TemplateBody.positional(CurrencyParameter("$1", "dollars", 1000))]
        ),
        "Template.components[0].parameters[0].code:"
        " must be a 3-letter ISO 4217 code (got 'dollars')",
    ),
    (
        lambda: Template("t", "en", [TemplateButton.quick_reply(0, "")]),
        "Template.components[0].parameters[0].payload: must not be empty",
    ),
]


@pytest.mark.parametrize(("build", "message"), RULES, ids=[r[1][:60] for r in RULES])
def test_rule(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert str(info.value) == message


BOUNDARIES: list[Callable[[], Any]] = [
    lambda: Location(90, -180),
    lambda: Location(-90.0, 180.0),
    lambda: ListMessage("b", "Open", [Section(rows=rows(10))]),
    lambda: Contacts([Contact(name=Name(formatted_name="A"), birthday="2000-02-29")]),
    lambda: Template("t", "en", [TemplateButton.quick_reply(9, "p")]),
    lambda: FlowMessage("Go", "b", flow_name="n", flow_action="data_exchange"),
    lambda: Reaction.remove("wamid.1"),
]


@pytest.mark.parametrize("build", BOUNDARIES)
def test_values_at_the_boundary_pass(build: Callable[[], Outbound]) -> None:
    message_body("+16505551234", build())


def test_parts_validate_on_their_own() -> None:
    ReplyButton("a", "A").validate()
    with pytest.raises(ValueError, match=r"^ReplyButton\.title: at most 20 characters \(got 21\)$"):
        ReplyButton("a", "x" * 21).validate()
    with pytest.raises(ValueError, match=r"^Row\.description: at most 72 characters"):
        Row("a", "A", "x" * 73).validate()
