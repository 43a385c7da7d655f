"""The simulator's rendering of what a bot sends, and what picking a choice sends back.

Every reply a choice carries is wrapped in a webhook as Meta would deliver it and read back
with the core's decoder: what the simulator sends a bot is what production sends it.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wahost.models import (
    ButtonMessage,
    InteractiveMessage,
    LocationMessage,
    decode_unit,
)
from wahost.outbound import (
    FlowMessage,
    Image,
    ListMessage,
    LocationRequest,
    ReplyButton,
    ReplyButtons,
    Row,
    Section,
    Template,
    TemplateBody,
    TemplateButton,
    TemplateHeader,
    message_body,
)
from wahost.simulator.flowform import (
    FIELD_TYPES,
    FormError,
    FormSpec,
    form_for,
    nfm_reply,
    submit,
)
from wahost.simulator.render import Outgoing, render, to_json, to_text
from wahost.testing.harness import FIXTURES
from wahost.testing.payloads import make_message, new_wamid
from wahost.units import split

BOOKING_FLOW = json.loads(
    (Path(__file__).parent.parent / "examples" / "restaurant_booking" / "flow.json").read_text()
)
SEND_FIXTURES = sorted(p.name for p in FIXTURES.glob("send_request_*.json"))
WAMID = new_wamid(outbound=True)
TO = "+16505551234"

EXPECTED_KINDS = {
    "send_request_audio_voice.json": "audio",
    "send_request_contacts.json": "contacts",
    "send_request_document_by_link.json": "document",
    "send_request_image_by_id.json": "image",
    "send_request_interactive_button.json": "interactive",
    "send_request_interactive_cta_url.json": "interactive",
    "send_request_interactive_flow.json": "flow",
    "send_request_interactive_list.json": "interactive",
    "send_request_interactive_location_request.json": "interactive",
    "send_request_location.json": "location",
    "send_request_mark_read.json": "unknown",  # not a message: no type
    "send_request_reaction.json": "reaction",
    "send_request_reaction_remove.json": "reaction",
    "send_request_sticker.json": "sticker",
    "send_request_template.json": "template",
    "send_request_template_flow.json": "template",
    "send_request_text.json": "text",
    "send_request_text_reply_context.json": "text",
    "send_request_text_with_callback_data.json": "text",
    "send_request_typing_indicator.json": "unknown",
    "send_request_video.json": "video",
}
JSON_KEYS = {
    "seq",
    "id",
    "from",
    "kind",
    "text",
    "header",
    "footer",
    "media",
    "choices",
    "choices_label",
    "form",
    "reaction",
    "status",
    "time",
}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def rendered(name: str, **flows: Any) -> Outgoing:
    return render(fixture(name), wamid=WAMID, flows=flows)


def deliver(reply: dict[str, Any], *, context: str = WAMID) -> Any:
    """The reply as the bot would receive it: a whole webhook, split and decoded by the core."""
    kind = reply["type"]
    webhook = make_message(kind, reply[kind], context=context)
    (unit,) = split(json.dumps(webhook).encode())
    return decode_unit(unit)


# -- every fixture ------------------------------------------------------------------------------


def test_every_send_fixture_has_an_expected_kind() -> None:
    assert set(SEND_FIXTURES) == set(EXPECTED_KINDS)


@pytest.mark.parametrize("name", SEND_FIXTURES)
def test_send_fixture_renders(name: str) -> None:
    o = rendered(name)
    assert o.kind == EXPECTED_KINDS[name]
    assert o.id == WAMID
    assert o.raw == fixture(name)
    data = to_json(o, seq=3, status="sent", time=1.5)
    assert set(data) == JSON_KEYS
    assert (data["seq"], data["from"], data["status"], data["time"]) == (3, "bot", "sent", 1.5)
    json.dumps(data)  # the browser gets it as JSON
    text = to_text(o, width=40)
    assert text.strip()
    assert "\x1b" not in text
    if o.kind != "unknown":
        assert o.to == TO


def test_text() -> None:
    o = rendered("send_request_text.json")
    assert o.text is not None and o.text.startswith("As requested")
    assert o.choices == [] and o.media is None and o.context_id is None


def test_reply_context_is_kept() -> None:
    o = rendered("send_request_text_reply_context.json")
    assert o.context_id == fixture("send_request_text_reply_context.json")["context"]["message_id"]
    assert "reply to" in to_text(o)


@pytest.mark.parametrize(
    ("name", "kind", "media_name", "caption"),
    [
        ("send_request_image_by_id.json", "image", "1479537139650973", "The best succulent ever?"),
        (
            "send_request_document_by_link.json",
            "document",
            "order_abc123.pdf",
            "Lucky Shrub Invoice",
        ),
        ("send_request_video.json", "video", "1166846181421424", "A succulent eclipse!"),
        ("send_request_sticker.json", "sticker", "798882015472548", None),
        ("send_request_audio_voice.json", "audio", "1013859600285441", None),
    ],
)
def test_media(name: str, kind: str, media_name: str, caption: str | None) -> None:
    o = rendered(name)
    assert o.media is not None
    assert (o.media.type, o.media.name, o.media.caption) == (kind, media_name, caption)
    data = to_json(o, seq=1, status=None, time=0.0)
    assert data["media"] == {"type": kind, "name": media_name, "caption": caption}
    first = to_text(o).splitlines()[0]
    assert first.startswith(f"[{kind}") and media_name in first
    if caption:
        assert first.endswith(f"] {caption}")


def test_media_name_from_link() -> None:
    body = {"to": TO, "type": "document", "document": {"link": "https://x.test/a/b/My%20file.pdf"}}
    o = render(body, wamid=WAMID)
    assert o.media is not None and o.media.name == "My file.pdf"
    assert to_text(o) == "[document: My file.pdf]"


def test_location() -> None:
    o = rendered("send_request_location.json")
    assert o.location is not None
    assert o.location.latitude == pytest.approx(37.44216251868683)
    assert o.location.name == "Philz Coffee"
    text = to_text(o, width=200)
    assert text == (
        "[location: Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.44216, -122.16154)]"
    )


def test_contacts_show_names_and_phones() -> None:
    o = rendered("send_request_contacts.json")
    assert o.text == "Barbara J. Johnson: +16505559999, +19175559999"


def test_reaction_and_removal() -> None:
    added = rendered("send_request_reaction.json")
    target = fixture("send_request_reaction.json")["reaction"]["message_id"]
    assert added.reaction is not None
    assert (added.reaction.emoji, added.reaction.to) == ("😀", target)
    assert to_json(added, seq=1, status=None, time=0)["reaction"] == {"emoji": "😀", "to": target}
    assert to_text(added).startswith("reacted 😀 to …")
    removed = rendered("send_request_reaction_remove.json")
    assert removed.reaction is not None and removed.reaction.emoji == ""
    assert "removed" in to_text(removed)


# -- choices and what they send back --------------------------------------------------------------


def test_reply_buttons_fixture() -> None:
    o = rendered("send_request_interactive_button.json")
    assert [c.label for c in o.choices] == ["Change", "Cancel"]
    assert o.media is not None and o.media.type == "image"
    assert o.footer == "Lucky Shrub: Your gateway to succulents!™"
    assert o.choices[1].reply == {
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "cancel-button", "title": "Cancel"},
        },
    }
    message = deliver(o.choices[1].reply)
    assert isinstance(message, InteractiveMessage)
    assert message.reply_id == "cancel-button"
    assert message.context is not None and message.context.id == WAMID
    assert "  1) Change\n  2) Cancel" in to_text(o)


def test_reply_buttons_built_by_the_bot() -> None:
    buttons = ReplyButtons(
        "Keep the booking?",
        [ReplyButton("yes", "Yes"), ReplyButton("no", "No")],
        header="Booking",
        footer="Reply below",
    )
    o = render(message_body(TO, buttons), wamid=WAMID)
    assert (o.kind, o.header, o.text, o.footer) == (
        "interactive",
        "Booking",
        "Keep the booking?",
        "Reply below",
    )
    assert [(c.n, c.label) for c in o.choices] == [(1, "Yes"), (2, "No")]
    message = deliver(o.choices[0].reply)
    assert isinstance(message, InteractiveMessage)
    assert message.interactive is not None and message.interactive.button_reply is not None
    assert message.interactive.button_reply.title == "Yes"
    assert to_text(o) == "Booking\nKeep the booking?\nReply below\n  1) Yes\n  2) No"


def test_list_fixture_keeps_sections_and_descriptions() -> None:
    o = rendered("send_request_interactive_list.json")
    assert o.choices_label == "Shipping Options"
    assert [c.n for c in o.choices] == [1, 2, 3, 4]
    assert o.choices[2].label == "USPS Ground Advantage"
    assert o.choices[2].description == "2\u20135 Days"
    assert o.choices[2].section == "I can wait a bit"
    text = to_text(o)
    assert "  I can wait a bit\n    3) USPS Ground Advantage — 2\u20135 Days" in text
    data = to_json(o, seq=1, status=None, time=0)
    assert data["choices"][0] == {
        "n": 1,
        "label": "Priority Mail Express",
        "description": "Next Day to 2 Days",
    }
    message = deliver(o.choices[0].reply)
    assert isinstance(message, InteractiveMessage)
    assert message.interactive is not None
    assert message.interactive.type == "list_reply"
    reply = message.interactive.list_reply
    assert reply is not None
    assert (reply.id, reply.title, reply.description) == (
        "priority_express",
        "Priority Mail Express",
        "Next Day to 2 Days",
    )


def test_list_built_by_the_bot() -> None:
    sections = [
        Section(title="Starters", rows=[Row("soup", "Soup", "Of the day"), Row("salad", "Salad")]),
        Section(title="Mains", rows=[Row("fish", "Fish")]),
    ]
    body = message_body(TO, ListMessage("What would you like?", "Menu", sections))
    o = render(body, wamid=WAMID)
    assert [c.label for c in o.choices] == ["Soup", "Salad", "Fish"]
    assert o.choices[1].description is None
    assert "description" not in o.choices[1].reply["interactive"]["list_reply"]
    message = deliver(o.choices[2].reply)
    assert isinstance(message, InteractiveMessage) and message.reply_id == "fish"


def test_template_fixture() -> None:
    o = rendered("send_request_template.json")
    assert o.text == "template order_confirmation (en_US): Pablo · #7F3A9C"
    assert o.media is not None and o.media.type == "image"
    (choice,) = o.choices
    assert choice.reply == {
        "type": "button",
        "button": {"payload": "TRACK_7F3A9C", "text": "TRACK_7F3A9C"},
    }
    message = deliver(choice.reply)
    assert isinstance(message, ButtonMessage)
    assert message.button.payload == "TRACK_7F3A9C"


def test_template_built_by_the_bot() -> None:
    template = Template(
        "order_update",
        "en_US",
        [
            TemplateHeader("Your order"),
            TemplateBody.positional("John", "12345"),
            TemplateButton.url(0, "track/12345"),
            TemplateButton.quick_reply(1, "STOP"),
        ],
    )
    o = render(message_body(TO, template), wamid=WAMID)
    assert o.kind == "template"
    assert o.header == "Your order"
    assert o.text is not None
    assert o.text.splitlines()[0] == "template order_update (en_US): John · 12345"
    assert "track/12345" in o.text  # a URL button is shown, not picked
    assert [c.label for c in o.choices] == ["STOP"]
    assert isinstance(deliver(o.choices[0].reply), ButtonMessage)


def test_cta_url_shows_the_url() -> None:
    o = rendered("send_request_interactive_cta_url.json")
    url = fixture("send_request_interactive_cta_url.json")["interactive"]["action"]["parameters"]
    assert o.url == url["url"]
    assert o.choices == []
    assert url["url"] in to_text(o)
    assert o.text is not None and url["url"] in o.text


def test_location_request_replies_with_a_location() -> None:
    for body in (
        fixture("send_request_interactive_location_request.json"),
        message_body(TO, LocationRequest("Where are you?")),
    ):
        o = render(body, wamid=WAMID)
        (choice,) = o.choices
        assert choice.label == "Send location"
        assert choice.reply["type"] == "location"
        message = deliver(choice.reply)
        assert isinstance(message, LocationMessage)
        assert message.location.latitude == pytest.approx(37.44221496582)


@pytest.mark.parametrize(
    ("interactive", "expected"),
    [
        (
            {
                "type": "product",
                "body": {"text": "Look"},
                "action": {"catalog_id": "9", "product_retailer_id": "sku1"},
            },
            "sku1",
        ),
        (
            {
                "type": "product_list",
                "header": {"type": "text", "text": "Ours"},
                "body": {"text": "Pick"},
                "action": {
                    "catalog_id": "9",
                    "sections": [
                        {"title": "Hats", "product_items": [{"product_retailer_id": "h1"}]}
                    ],
                },
            },
            "Hats: h1",
        ),
        (
            {
                "type": "catalog_message",
                "body": {"text": "Browse"},
                "action": {"name": "catalog_message"},
            },
            "catalog",
        ),
    ],
)
def test_commerce_messages_fall_back_to_text(interactive: dict[str, Any], expected: str) -> None:
    o = render({"to": TO, "type": "interactive", "interactive": interactive}, wamid=WAMID)
    assert o.kind == "interactive"
    assert o.text is not None and expected in o.text


# -- Flows --------------------------------------------------------------------------------------


def booking_message(**fields: Any) -> dict[str, Any]:
    flow = FlowMessage(
        flow_cta="Book", body="Book a table", flow_name="restaurant_booking", **fields
    )
    return message_body(TO, flow)


def test_flow_message_opens_the_booking_form() -> None:
    o = render(
        booking_message(flow_token="tok-1"), wamid=WAMID, flows={"restaurant_booking": BOOKING_FLOW}
    )
    assert o.kind == "flow"
    assert o.text == "Book a table"
    assert o.flow_token == "tok-1" and o.flow_name == "restaurant_booking"
    (choice,) = o.choices
    assert choice.label == "Open: Book" and choice.reply == {}
    form = o.form
    assert form is not None
    assert form.title == "Book a table" and form.submit == "Continue" and form.action == "complete"
    data = to_json(o, seq=1, status=None, time=0)["form"]
    assert data["fields"] == [
        {"name": "date", "label": "Day", "type": "date", "required": True, "options": []},
        {
            "name": "time",
            "label": "Time",
            "type": "select",
            "required": True,
            "options": [{"id": t, "title": t} for t in ("12:30", "13:30", "19:00", "20:30")],
        },
        {
            "name": "party_size",
            "label": "How many people?",
            "type": "number",
            "required": True,
            "options": [],
        },
        {"name": "name", "label": "Name", "type": "text", "required": True, "options": []},
    ]
    assert data["note"] is None
    assert "[form: Book a table — pick 1 to fill it in]" in to_text(o)


def test_flow_found_by_id_and_fixture_without_json_is_freeform() -> None:
    o = rendered("send_request_interactive_flow.json")
    assert o.form is not None and o.form.action == "freeform"
    assert o.flow_token == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    assert o.flow_id == "1234567890123456"
    appointment = {
        "screens": [
            {
                "id": "APPOINTMENT",
                "title": "${data.product_name}",
                "layout": {"children": [{"type": "TextInput", "name": "n", "label": "N"}]},
            }
        ]
    }
    by_id = rendered("send_request_interactive_flow.json", **{"1234567890123456": appointment})
    assert by_id.form is not None and by_id.form.action == "complete"
    assert by_id.form.title == "name"  # the screen's title, from the message's data
    # The Flow is known but has no such screen: freeform, saying so.
    wrong = rendered("send_request_interactive_flow.json", **{"1234567890123456": BOOKING_FLOW})
    assert wrong.form is not None and wrong.form.action == "freeform"
    assert wrong.form.note is not None and "APPOINTMENT" in wrong.form.note


def test_booking_submit_validates_and_completes() -> None:
    form = form_for(BOOKING_FLOW, screen=None, data=None, cta="Book")
    good = {"date": "2026-12-24", "time": "19:00", "party_size": "4", "name": "Ada"}
    for field, value, reason in [
        ("date", None, "required"),
        ("date", "24/12/2026", "YYYY-MM-DD"),
        ("date", "2026-02-30", "YYYY-MM-DD"),
        ("time", "18:00", "not one of"),
        ("party_size", "four", "not a number"),
        ("name", "  ", "required"),
    ]:
        with pytest.raises(FormError) as caught:
            submit(form, {**good, field: value})
        assert caught.value.field == field and reason in caught.value.reason
    result = submit(form, good)
    assert result.kind == "complete"
    assert result.response == good  # strings, as WhatsApp sends TextInput values
    fields = nfm_reply(result.response, flow_token="tok-1")
    message = deliver(fields)
    assert isinstance(message, InteractiveMessage)
    assert message.interactive is not None and message.interactive.nfm_reply is not None
    assert message.interactive.nfm_reply.body == "Sent"
    assert message.interactive.nfm_reply.response == {**good, "flow_token": "tok-1"}


def test_nfm_reply_shape_matches_the_fixture() -> None:
    inbound = fixture("inbound_interactive_nfm_reply.json")["entry"][0]["changes"][0]["value"]
    expected = inbound["messages"][0]["interactive"]
    response = json.loads(expected["nfm_reply"]["response_json"])
    token = response.pop("flow_token")
    fields = nfm_reply(response, flow_token=token)
    assert fields["type"] == "interactive"
    got = fields["interactive"]
    assert got["type"] == expected["type"] and got["nfm_reply"]["name"] == "flow"
    assert json.loads(got["nfm_reply"]["response_json"]) == json.loads(
        expected["nfm_reply"]["response_json"]
    )


TWO_SCREENS: dict[str, Any] = {
    "version": "6.0",
    "screens": [
        {
            "id": "DETAILS",
            "title": "Your details",
            "data": {
                "plans": {
                    "type": "array",
                    "__example__": [
                        {"id": "basic", "title": "Basic"},
                        {"id": "pro", "title": "Pro"},
                    ],
                },
            },
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {"type": "TextHeading", "text": "Hello"},
                    {
                        "type": "TextInput",
                        "name": "email",
                        "label": "Email",
                        "input-type": "email",
                        "required": True,
                    },
                    {"type": "TextInput", "name": "phone", "label": "Phone", "input-type": "phone"},
                    {"type": "TextInput", "name": "pin", "label": "PIN", "input-type": "passcode"},
                    {
                        "type": "RadioButtonsGroup",
                        "name": "plan",
                        "label": "Plan",
                        "data-source": "${data.plans}",
                        "required": True,
                    },
                    {
                        "type": "CheckboxGroup",
                        "name": "extras",
                        "label": "Extras",
                        "data-source": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
                    },
                    {"type": "TextArea", "name": "notes", "label": "Notes"},
                    {
                        "type": "Footer",
                        "label": "Next",
                        "on-click-action": {
                            "name": "navigate",
                            "next": {"type": "screen", "name": "CONFIRM"},
                            "payload": {
                                "email": "${form.email}",
                                "plan": "${form.plan}",
                                "extras": "${form.extras}",
                                "notes": "${form.notes}",
                                "source": "web",
                            },
                        },
                    },
                ],
            },
        },
        {
            "id": "CONFIRM",
            "title": "Confirm ${data.plan}",
            "terminal": True,
            "data": {
                "email": {"type": "string", "__example__": "x@y.z"},
                "plan": {"type": "string", "__example__": "basic"},
            },
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {"type": "OptIn", "name": "terms", "label": "I accept", "required": True},
                    {"type": "OptIn", "name": "news", "label": "News"},
                    {"type": "DatePicker", "name": "start", "label": "Start"},
                    {
                        "type": "Footer",
                        "label": "Done",
                        "on-click-action": {
                            "name": "complete",
                            "payload": {
                                "email": "${data.email}",
                                "plan": "${data.plan}",
                                "terms": "${form.terms}",
                                "news": "${form.news}",
                                "start": "${form.start}",
                            },
                        },
                    },
                ],
            },
        },
    ],
}


def test_navigate_between_two_screens() -> None:
    first = form_for(TWO_SCREENS, screen=None, data=None, cta="Sign up")
    assert first.screen == "DETAILS" and first.submit == "Next" and first.action == "navigate"
    types = {f.name: f.type for f in first.fields}
    assert types == {
        "email": "email",
        "phone": "phone",
        "pin": "password",
        "plan": "radio",
        "extras": "checkbox",
        "notes": "textarea",
    }
    plan = next(f for f in first.fields if f.name == "plan")
    assert [o.id for o in plan.options] == ["basic", "pro"]  # from the data's __example__
    with pytest.raises(FormError, match="email"):
        submit(first, {"email": "nope", "plan": "pro"})
    with pytest.raises(FormError, match="phone"):
        submit(first, {"email": "a@b.c", "plan": "pro", "phone": "call me"})
    with pytest.raises(FormError, match="extras"):
        submit(first, {"email": "a@b.c", "plan": "pro", "extras": ["c"]})
    result = submit(first, {"email": "a@b.c", "plan": "pro", "extras": ["a", "b"]})
    assert result.kind == "navigate" and result.screen == "CONFIRM"
    # An empty optional field is left out; a literal stays as it is.
    assert result.data == {"email": "a@b.c", "plan": "pro", "extras": ["a", "b"], "source": "web"}

    second = form_for(TWO_SCREENS, screen=result.screen, data=result.data, cta=first.title)
    assert second.title == "Confirm pro"
    assert [f.type for f in second.fields] == ["optin", "optin", "date"]
    with pytest.raises(FormError, match="terms"):
        submit(second, {"terms": False})
    done = submit(second, {"terms": True, "start": "2027-01-31"})
    assert done.kind == "complete"
    assert done.response == {
        "email": "a@b.c",
        "plan": "pro",
        "terms": True,
        "news": False,
        "start": "2027-01-31",
    }


def test_data_exchange_cannot_be_simulated() -> None:
    flow = {
        "screens": [
            {
                "id": "ASK",
                "layout": {
                    "children": [
                        {
                            "type": "Form",
                            "name": "f",
                            "children": [{"type": "TextInput", "name": "q", "label": "Q"}],
                        },
                        {
                            "type": "Footer",
                            "label": "Go",
                            "on-click-action": {
                                "name": "data_exchange",
                                "payload": {"q": "${form.q}"},
                            },
                        },
                    ]
                },
            }
        ]
    }
    form = form_for(flow, screen="ASK", data={}, cta="Ask")
    assert form.title == "Ask" and form.note is not None and "endpoint" in form.note
    result = submit(form, {"q": "hi"})
    assert result.kind == "data_exchange"
    assert result.message is not None and "endpoint" in result.message


def test_freeform_without_flow_json() -> None:
    form = form_for(None, screen="APPOINTMENT", data={"x": 1}, cta="Book!")
    assert isinstance(form, FormSpec)
    (field,) = form.fields
    assert (field.name, field.type) == ("fields", "textarea")
    assert form.note is not None and "--flows" in form.note and "<flow_id>.json" in form.note
    result = submit(form, {"fields": "name = Ada\nparty=4\n\n"})
    assert result.kind == "complete" and result.response == {"name": "Ada", "party": "4"}
    with pytest.raises(FormError):
        submit(form, {"fields": "no equals sign"})
    one_line = submit(form, {"fields": "name=Ada; party=4"})
    assert one_line.response == {"name": "Ada", "party": "4"}
    missing = form_for(BOOKING_FLOW, screen="NOPE", data=None, cta="Book")
    assert missing.action == "freeform" and missing.note is not None and "NOPE" in missing.note


def test_template_with_a_flow_button() -> None:
    o = rendered("send_request_template_flow.json")
    assert o.kind == "template"
    assert o.flow_token == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    assert o.form is not None and o.form.data == {"customer_name": "Pablo"}
    (choice,) = o.choices
    assert choice.reply == {}
    found = rendered("send_request_template_flow.json", appointment_flow=BOOKING_FLOW)
    assert found.form is not None and found.form.title == "Book a table"


def test_session_stub_renders_a_later_form() -> None:
    # The simulator turns a later screen's form into JSON through a bare Outgoing.
    form = form_for(TWO_SCREENS, screen="CONFIRM", data=None, cta="x")
    data = to_json(Outgoing(id="", to="", kind="flow", form=form), seq=0, status=None, time=0.0)
    assert data["form"]["title"] == "Confirm basic"
    assert data["form"]["submit"] == "Done"


# -- odd input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "text"},
        {"type": "text", "text": "not an object"},
        {"type": "text", "text": {"body": 5}},
        {"type": "image", "image": {}},
        {"type": "interactive", "interactive": {"type": "button", "action": {"buttons": "x"}}},
        {"type": "interactive", "interactive": {"type": "list", "action": {"sections": [1, None]}}},
        {"type": "interactive", "interactive": {"type": "flow", "action": None}},
        {"type": "interactive", "interactive": {"type": "voice_call"}},
        {"type": "template", "template": {"components": [{"type": "body"}]}},
        {"type": "reaction", "reaction": {"emoji": 5}},
        {"type": "poll", "poll": {}},
    ],
)
def test_odd_bodies_are_unknown(body: dict[str, Any]) -> None:
    o = render(body, wamid=WAMID)
    assert o.kind == "unknown"
    assert o.text is not None and len(o.text) <= 300
    to_text(o)
    to_json(o, seq=0, status=None, time=0)


def test_not_a_mapping() -> None:
    o = render([1, 2], wamid=WAMID)  # type: ignore[arg-type]
    assert o.kind == "unknown"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
kinds = st.sampled_from(
    [
        "text",
        "image",
        "document",
        "location",
        "contacts",
        "reaction",
        "template",
        "interactive",
        "x",
    ]
)
interactive_types = st.sampled_from(
    ["button", "list", "cta_url", "flow", "location_request_message", "product_list", "x"]
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(kinds)
    body: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    body["type"] = kind
    if kind == "interactive":
        body["interactive"] = {
            "type": draw(interactive_types),
            "header": draw(json_values),
            "body": draw(json_values),
            "action": draw(
                json_values
                | st.fixed_dictionaries(
                    {"parameters": json_values, "buttons": json_values, "sections": json_values}
                )
            ),
        }
    elif kind == "template":
        body["template"] = {
            "name": draw(json_values),
            "components": draw(st.lists(json_values, max_size=3)),
        }
    else:
        body[kind] = draw(json_values)
    return body


@settings(max_examples=200, deadline=None)
@given(st.one_of(hostile_bodies(), st.dictionaries(st.text(max_size=10), json_values)))
def test_render_never_raises(body: dict[str, Any]) -> None:
    o = render(body, wamid=WAMID, flows={"x": {"screens": body.get("screens")}})
    assert o.kind in {
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "reaction",
        "template",
        "interactive",
        "flow",
        "unknown",
    }
    json.dumps(to_json(o, seq=1, status=None, time=0.0), default=str)
    to_text(o)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values), json_values)
def test_forms_from_hostile_flow_json(flow: dict[str, Any], data: Any) -> None:
    form = form_for(flow, screen=None, data=data if isinstance(data, dict) else None, cta="x")
    with contextlib.suppress(FormError):
        submit(form, {})


def test_image_header_built_by_the_bot() -> None:
    buttons = ReplyButtons(
        "Pick", [ReplyButton("a", "A")], header=Image(link="https://x.test/p.jpg")
    )
    o = render(message_body(TO, buttons), wamid=WAMID)
    assert o.media is not None and o.media.name == "p.jpg"
    assert to_text(o).splitlines()[0] == "[image: p.jpg]"


component_types = st.sampled_from(
    [
        "TextInput",
        "TextArea",
        "DatePicker",
        "CalendarPicker",
        "Dropdown",
        "RadioButtonsGroup",
        "CheckboxGroup",
        "OptIn",
        "Footer",
        "Form",
        "TextBody",
    ]
)


@st.composite
def flow_components(draw: st.DrawFn) -> dict[str, Any]:
    component: dict[str, Any] = {"type": draw(component_types), "name": draw(json_values)}
    for key in ("label", "required", "input-type", "data-source", "on-click-action", "children"):
        if draw(st.booleans()):
            component[key] = draw(json_values)
    return component


@settings(max_examples=150, deadline=None)
@given(
    st.lists(flow_components(), max_size=6),
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
def test_odd_flow_screens_never_raise(
    children: list[dict[str, Any]], data: dict[str, Any], values: dict[str, Any]
) -> None:
    flow = {"screens": [{"id": "S", "title": "T", "layout": {"children": children}}]}
    form = form_for(flow, screen="S", data=data, cta="x")
    assert all(f.type in FIELD_TYPES for f in form.fields)
    to_json(Outgoing(id="", to="", kind="flow", form=form), seq=0, status=None, time=0.0)
    with contextlib.suppress(FormError):
        submit(form, values)
    with contextlib.suppress(FormError):
        submit(form, {f.name: "1" for f in form.fields})
