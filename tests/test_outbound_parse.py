"""``wahost.outbound.parse_message_body``: the one reader of the message bodies wahost sends,
used by the history's preview, the simulator, the fake Graph API and the tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wahost.outbound import (
    Document,
    Image,
    ListMessage,
    Location,
    MessageBody,
    Reaction,
    ReplyButton,
    ReplyButtons,
    Row,
    Section,
    Template,
    Text,
    mark_read_body,
    message_body,
    parse_message_body,
    typing_body,
)
from wahost.testing.harness import FIXTURES

USER = "+16505551234"


def parsed(body: Any) -> MessageBody:
    message = parse_message_body(body)
    assert message is not None
    return message


def test_a_text_reads_back_with_its_envelope() -> None:
    body = message_body(USER, Text("Hello"), reply_to="wamid.in", biz_opaque_callback_data="cb")
    message = parsed(body)
    assert (message.type, message.to, message.text) == ("text", USER, "Hello")
    assert (message.recipient_type, message.context_id) == ("individual", "wamid.in")
    assert message.biz_opaque_callback_data == "cb"
    assert (message.media, message.interactive, message.template) == (None, None, None)


def test_reply_buttons_read_back_typed() -> None:
    buttons = [ReplyButton("yes", "Yes"), ReplyButton("no", "No")]
    body = message_body(USER, ReplyButtons("Keep it?", buttons, header="Booking"))
    interactive = parsed(body).interactive
    assert interactive is not None
    assert (interactive.type, interactive.body, interactive.header_text) == (
        "button",
        "Keep it?",
        "Booking",
    )
    assert [(b.id, b.title) for b in interactive.buttons] == [("yes", "Yes"), ("no", "No")]


def test_list_rows_keep_their_section_and_description() -> None:
    rows = [Row("std", "Standard", description="3-5 days"), Row("exp", "Express")]
    body = message_body(
        USER, ListMessage("Shipping?", "Options", [Section(title="Ship", rows=rows)])
    )
    interactive = parsed(body).interactive
    assert interactive is not None and interactive.list_button == "Options"
    assert [(r.id, r.title, r.description, r.section) for r in interactive.rows] == [
        ("std", "Standard", "3-5 days", "Ship"),
        ("exp", "Express", None, "Ship"),
    ]


def test_media_location_reaction_and_template_read_back() -> None:
    media = parsed(message_body(USER, Document(link="https://x/menu%20v2.pdf"))).media
    assert media is not None and (media.type, media.name) == ("document", "menu v2.pdf")
    assert parsed(message_body(USER, Image(id="42", caption="A cat"))).preview() == "[image] A cat"
    place = parsed(message_body(USER, Location(1.5, 2.0, name="Cafe"))).location
    assert place is not None and (place.latitude, place.longitude, place.name) == (1.5, 2, "Cafe")
    reaction = parsed(message_body(USER, Reaction("wamid.x", "👍"))).reaction
    assert reaction is not None and (reaction.message_id, reaction.emoji) == ("wamid.x", "👍")
    template = parsed(message_body(USER, Template("order_update", "en_US"))).template
    assert template is not None and (template.name, template.language) == ("order_update", "en_US")


def test_bodies_that_are_not_messages_read_as_none() -> None:
    assert parse_message_body(mark_read_body("wamid.x")) is None
    assert parse_message_body(typing_body("wamid.x")) is None
    assert parse_message_body({"type": "text"}) is None  # no object under the type
    assert parse_message_body({"type": 3, "3": {}}) is None
    assert parse_message_body(["not", "a", "body"]) is None


def test_broken_parts_are_left_out_rather_than_raising() -> None:
    body = {
        "type": "interactive",
        "to": 16505551234,
        "interactive": {
            "type": "button",
            "body": {"text": 7},
            "action": {"buttons": [{"reply": {"id": "a"}}, {"reply": {"id": "b", "title": "B"}}]},
        },
    }
    message = parsed(body)
    assert message.to == "16505551234"  # a number where Meta takes a string: its text
    assert message.interactive is not None and message.interactive.body == "7"
    assert [b.id for b in message.interactive.buttons] == ["b"]
    assert parsed({"type": "text", "text": {"body": None}}).text is None


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("send_request_*.json")), ids=lambda p: p.stem)
def test_every_send_fixture_reads_as_meta_documents_it(path: Any) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    message = parse_message_body(body)
    if "status" in body:  # mark as read, typing indicator
        assert message is None
        return
    assert message is not None and message.type == body["type"] and message.to == body["to"]
    assert message.content == body[body["type"]]
    typed = {
        "text": message.text,
        "location": message.location,
        "reaction": message.reaction,
        "template": message.template,
        "interactive": message.interactive,
        "contacts": message.contacts,
    }.get(message.type, message.media)
    assert typed is not None
