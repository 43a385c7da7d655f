"""Outbound messages: every ``send_request_*.json`` fixture rebuilt with the builders, the
read/typing bodies, ``coerce`` and the request-level checks of ``message_body``.

Two fixtures are normalised, each where Meta's own examples differ from one another:

* ``send_request_contacts.json``: Meta's contacts example has no ``recipient_type``; all its
  other examples send ``"individual"``, which ``message_body`` always sends.
* ``send_request_text_reply_context.json``: Meta's reply example has no ``preview_url``; its text
  example sends it, and omitting it means false (M-text-send). ``Text`` always sends it.

Locations need no normalisation: Meta types latitude and longitude as strings and so does
``Location.content()`` (see its docstring).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from wahost import outbound
from wahost.outbound import (
    Audio,
    Contact,
    Contacts,
    CtaUrl,
    Document,
    Email,
    FlowMessage,
    Image,
    ListMessage,
    Location,
    LocationRequest,
    Name,
    Org,
    Phone,
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
    Url,
    Video,
    coerce,
    encode_body,
    mark_read_body,
    message_body,
    typing_body,
)
from wahost.testing.harness import FIXTURES

USER = "+16505551234"
WAMID_REACTED = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA="
EN_DASH = "\u2013"  # Meta's list example writes its ranges with en dashes
WAMID_INBOUND = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _add_recipient_type(expected: dict[str, Any]) -> None:
    expected.setdefault("recipient_type", "individual")


def _add_preview_url(expected: dict[str, Any]) -> None:
    expected["text"].setdefault("preview_url", False)


# fixture name -> (the body built with wahost.outbound, normalisation of the fixture or None)
CASES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None] | None]] = {
    "send_request_text": (
        lambda: message_body(
            USER,
            Text(
                "As requested, here's the link to our latest product: "
                "https://www.meta.com/quest/quest-3/",
                preview_url=True,
            ),
        ),
        None,
    ),
    "send_request_text_reply_context": (
        lambda: message_body(
            USER,
            Text("You're welcome, Pablo!"),
            reply_to="wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA=",
        ),
        _add_preview_url,
    ),
    "send_request_text_with_callback_data": (
        lambda: message_body(
            USER,
            Text("Your order #7F3A9C is confirmed."),
            biz_opaque_callback_data="order-7f3a9c;flow=checkout;step=confirm",
        ),
        None,
    ),
    "send_request_image_by_id": (
        lambda: message_body(
            USER, Image(id="1479537139650973", caption="The best succulent ever?")
        ),
        None,
    ),
    "send_request_video": (
        lambda: message_body(USER, Video(id="1166846181421424", caption="A succulent eclipse!")),
        None,
    ),
    "send_request_audio_voice": (
        lambda: message_body(USER, Audio(id="1013859600285441", voice=True)),
        None,
    ),
    "send_request_document_by_link": (
        lambda: message_body(
            USER,
            Document(
                link="https://www.luckyshrub.com/invoices/FmOzfD9cKf/lucky-shrub-invoice.pdf",
                caption="Lucky Shrub Invoice",
                filename="order_abc123.pdf",
            ),
        ),
        None,
    ),
    "send_request_sticker": (
        lambda: message_body(USER, Sticker(id="798882015472548")),
        None,
    ),
    "send_request_location": (
        lambda: message_body(
            USER,
            Location(
                37.44216251868683,
                -122.16153582049394,
                name="Philz Coffee",
                address="101 Forest Ave, Palo Alto, CA 94301",
            ),
        ),
        None,
    ),
    "send_request_contacts": (
        lambda: message_body(
            USER,
            Contacts(
                [
                    Contact(
                        name=Name(
                            formatted_name="Barbara J. Johnson",
                            first_name="Barbara",
                            last_name="Johnson",
                        ),
                        org=Org(company="Lucky Shrub", department="Legal", title="Lead Counsel"),
                        phones=[
                            Phone(phone="+16505559999", type="Landline"),
                            Phone(phone="+19175559999", type="Mobile", wa_id="19175559999"),
                        ],
                        emails=[Email(email="bjohnson@luckyshrub.com", type="Work")],
                        urls=[Url(url="https://www.luckyshrub.com", type="Company")],
                    )
                ]
            ),
        ),
        _add_recipient_type,
    ),
    "send_request_reaction": (
        lambda: message_body(USER, Reaction(WAMID_REACTED, "😀")),
        None,
    ),
    "send_request_reaction_remove": (
        lambda: message_body(USER, Reaction.remove(WAMID_REACTED)),
        None,
    ),
    "send_request_interactive_button": (
        lambda: message_body(
            USER,
            ReplyButtons(
                "Hi Pablo! Your gardening workshop is scheduled for 9am tomorrow. "
                "Use the buttons if you need to reschedule. Thank you!",
                [ReplyButton("change-button", "Change"), ReplyButton("cancel-button", "Cancel")],
                header=Image(id="2762702990552401"),
                footer="Lucky Shrub: Your gateway to succulents!™",
            ),
        ),
        None,
    ),
    "send_request_interactive_list": (
        lambda: message_body(
            USER,
            ListMessage(
                "Which shipping option do you prefer?",
                "Shipping Options",
                [
                    Section(
                        "I want it ASAP!",
                        [
                            Row("priority_express", "Priority Mail Express", "Next Day to 2 Days"),
                            Row("priority_mail", "Priority Mail", f"1{EN_DASH}3 Days"),
                        ],
                    ),
                    Section(
                        "I can wait a bit",
                        [
                            Row(
                                "usps_ground_advantage",
                                "USPS Ground Advantage",
                                f"2{EN_DASH}5 Days",
                            ),
                            Row("media_mail", "Media Mail", f"2{EN_DASH}8 Days"),
                        ],
                    ),
                ],
                header="Choose Shipping Option",
                footer="Lucky Shrub: Your gateway to succulents™",
            ),
        ),
        None,
    ),
    "send_request_interactive_cta_url": (
        lambda: message_body(
            USER,
            CtaUrl(
                "Tap the button below to see available dates.",
                "See Dates",
                "https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4",
                header=Image(
                    link="https://www.luckyshrub.com/assets/lucky-shrub-banner-logo-v1.png"
                ),
                footer="Dates subject to change.",
            ),
        ),
        None,
    ),
    "send_request_interactive_location_request": (
        lambda: message_body(
            USER,
            LocationRequest(
                "Let's start with your pickup. You can either manually *enter an address* "
                "or *share your current location*."
            ),
        ),
        None,
    ),
    "send_request_interactive_flow": (
        lambda: message_body(
            USER,
            FlowMessage(
                "Book!",
                "Flow message body",
                flow_id="1234567890123456",
                flow_token="AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
                screen="APPOINTMENT",
                data={
                    "product_name": "name",
                    "product_description": "description",
                    "product_price": 100,
                },
                header="Flow message header",
                footer="Flow message footer",
            ),
        ),
        None,
    ),
    "send_request_template": (
        lambda: message_body(
            USER,
            Template(
                "order_confirmation",
                "en_US",
                [
                    TemplateHeader(Image(id="2762702990552401")),
                    TemplateBody.positional("Pablo", "#7F3A9C"),
                    TemplateButton.quick_reply(0, "TRACK_7F3A9C"),
                ],
            ),
        ),
        None,
    ),
    "send_request_template_flow": (
        lambda: message_body(
            USER,
            Template(
                "appointment_flow",
                "en_US",
                [
                    TemplateButton.flow(
                        0,
                        flow_token="AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
                        flow_action_data={"customer_name": "Pablo"},
                    )
                ],
            ),
        ),
        None,
    ),
    "send_request_mark_read": (lambda: mark_read_body(WAMID_INBOUND), None),
    "send_request_typing_indicator": (lambda: typing_body(WAMID_INBOUND), None),
}


def test_every_send_request_fixture_has_a_case() -> None:
    names = {path.stem for path in FIXTURES.glob("send_request_*.json")}
    assert names == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_builders_reproduce_the_fixture(name: str) -> None:
    build, normalise = CASES[name]
    expected = load(name)
    if normalise is not None:
        normalise(expected)
    body = build()
    assert body == expected
    # What goes on the wire decodes to the same JSON.
    assert msgspec.json.decode(encode_body(body)) == expected


def test_encode_body_is_compact_utf8_json() -> None:
    body = message_body(USER, Reaction(WAMID_REACTED, "😀"))
    raw = encode_body(body)
    assert raw.startswith(b'{"messaging_product":"whatsapp",')
    assert "😀".encode() in raw


def test_optional_fields_that_are_none_are_omitted() -> None:
    assert Image(id="1").content() == {"id": "1"}
    assert Document(id="1").content() == {"id": "1"}
    assert Location(1.0, 2.0).content() == {"latitude": "1.0", "longitude": "2.0"}
    assert Row("a", "A").content() == {"id": "a", "title": "A"}
    assert Template("hello_world", "en_US").content() == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }
    body = message_body(USER, Text("hi"))
    assert "context" not in body and "biz_opaque_callback_data" not in body


def test_audio_sends_voice_only_when_true() -> None:
    # Meta: "To send a basic audio message, set to false or omit entirely" (M-audio-send).
    assert Audio(link="https://example.com/a.mp3").content() == {
        "link": "https://example.com/a.mp3"
    }


def test_location_coordinates_are_shortest_round_trip_strings() -> None:
    content = Location(-33.8688, 151, name="Sydney").content()
    assert content == {"latitude": "-33.8688", "longitude": "151.0", "name": "Sydney"}
    assert float(content["latitude"]) == -33.8688


def test_interactive_headers_of_every_kind() -> None:
    def header(value: Any) -> Any:
        return ReplyButtons("b", [ReplyButton("a", "A")], header=value).content()["header"]

    assert header("Workshop") == {"type": "text", "text": "Workshop"}
    assert header(Video(id="9")) == {"type": "video", "video": {"id": "9"}}
    assert header(Document(id="9", filename="a.pdf")) == {
        "type": "document",
        "document": {"id": "9", "filename": "a.pdf"},
    }


def test_flow_message_defaults_draft_mode_and_data_exchange() -> None:
    minimal = FlowMessage("Sign up", "Join us", flow_name="signup").content()
    assert minimal["action"] == {
        "name": "flow",
        "parameters": {
            "flow_message_version": "3",
            "flow_token": "unused",
            "flow_name": "signup",
            "flow_cta": "Sign up",
            "flow_action": "navigate",
        },
    }
    draft = FlowMessage("Go", "b", flow_id="1", mode="draft", flow_action="data_exchange").content()
    assert draft["action"]["parameters"]["mode"] == "draft"
    assert draft["action"]["parameters"]["flow_action"] == "data_exchange"
    assert "flow_action_payload" not in draft["action"]["parameters"]


def test_template_parameters_of_every_kind() -> None:
    template = Template(
        "everything",
        "pt_BR",
        [
            TemplateHeader(
                Location(37.483307, -122.148981, name="Pablo Morales", address="1 Hacker Way")
            ),
            TemplateBody.named(
                customer_name="Pablo",
                total=outbound.CurrencyParameter("$100.99", "USD", 100990),
                when=outbound.DateTimeParameter("February 25, 1977"),
            ),
            TemplateButton.url(0, "J$FpnYnP"),
            TemplateButton.copy_code(1, "SAVE30"),
            TemplateButton.flow(2),
        ],
    )
    assert template.content()["components"] == [
        {
            "type": "header",
            "parameters": [
                {
                    "type": "location",
                    "location": {
                        "latitude": "37.483307",
                        "longitude": "-122.148981",
                        "name": "Pablo Morales",
                        "address": "1 Hacker Way",
                    },
                }
            ],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "customer_name", "text": "Pablo"},
                {
                    "type": "currency",
                    "parameter_name": "total",
                    "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990},
                },
                {
                    "type": "date_time",
                    "parameter_name": "when",
                    "date_time": {"fallback_value": "February 25, 1977"},
                },
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "J$FpnYnP"}],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "1",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE30"}],
        },
        {
            "type": "button",
            "sub_type": "flow",
            "index": "2",
            "parameters": [{"type": "action", "action": {}}],
        },
    ]


def test_template_text_header_and_positional_text_parameters() -> None:
    content = Template(
        "t", "en", [TemplateHeader("Hi"), TemplateBody([outbound.TextParameter("a"), "b"])]
    ).content()
    assert content["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "Hi"}]},
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
    ]


# -- message_body --------------------------------------------------------------------------


def test_group_recipient_type() -> None:
    body = message_body("120363000000000000@g.us", Text("hi"), recipient_type="group")
    assert body["recipient_type"] == "group"


def test_message_body_revalidates_a_message_changed_after_it_was_built() -> None:
    message = ReplyButtons("b", [ReplyButton("a", "A")])
    message.buttons.append(ReplyButton("a", "Again"))
    with pytest.raises(ValueError, match=r"ReplyButtons\.buttons\[1\]\.id: duplicate id 'a'"):
        message_body(USER, message)


def test_message_body_refuses_what_is_not_a_message() -> None:
    with pytest.raises(TypeError, match="Outbound"):
        message_body(USER, "hi")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="base class"):
        message_body(USER, outbound.Media(id="1"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": ""}, "to: must not be empty"),
        ({"recipient_type": "broadcast"}, "recipient_type: must be one of 'individual', 'group'"),
        ({"reply_to": ""}, "reply_to: must not be empty"),
        (
            {"biz_opaque_callback_data": "x" * 513},
            "biz_opaque_callback_data: at most 512 characters (got 513)",
        ),
    ],
)
def test_message_body_checks_its_own_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"to": USER, **kwargs}
    to = arguments.pop("to")
    with pytest.raises(ValueError) as info:
        message_body(to, Text("hi"), **arguments)
    assert str(info.value).startswith(message)


def test_callback_data_of_exactly_512_characters_passes() -> None:
    body = message_body(USER, Text("hi"), biz_opaque_callback_data="x" * 512)
    assert len(body["biz_opaque_callback_data"]) == 512


def test_a_reaction_cannot_be_a_reply() -> None:
    with pytest.raises(ValueError, match="reply_to: a reaction cannot be sent as a reply"):
        message_body(USER, Reaction(WAMID_REACTED, "👍"), reply_to=WAMID_INBOUND)
    with pytest.raises(ValueError, match="reply_to"):
        message_body(USER, Reaction.remove(WAMID_REACTED), reply_to=WAMID_INBOUND)


@pytest.mark.parametrize("build", [mark_read_body, typing_body])
def test_read_bodies_need_a_message_id(build: Callable[[str], Any]) -> None:
    with pytest.raises(ValueError, match="message_id: must not be empty"):
        build("")


# -- coerce --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("hi",), {}, Text("hi")),
        (("hi",), {"preview_url": True}, Text("hi", preview_url=True)),
        ((), {"text": "hi"}, Text("hi")),
        (
            (),
            {"text": "see https://a.example", "preview_url": True},
            Text("see https://a.example", True),
        ),
        ((), {"image": "12345"}, Image(id="12345")),
        (
            (),
            {"image": "https://a.example/p.png", "caption": "c"},
            Image(link="https://a.example/p.png", caption="c"),
        ),
        ((), {"video": "HTTP://a.example/v.mp4"}, Video(link="HTTP://a.example/v.mp4")),
        ((), {"audio": "9", "voice": True}, Audio(id="9", voice=True)),
        (
            (),
            {"document": "9", "filename": "a.pdf", "caption": "c"},
            Document(id="9", caption="c", filename="a.pdf"),
        ),
        ((), {"sticker": "9"}, Sticker(id="9")),
        ((), {"reaction": "👍", "message_id": "wamid.1"}, Reaction("wamid.1", "👍")),
        ((), {"reaction": "", "message_id": "wamid.1"}, Reaction.remove("wamid.1")),
        (
            (),
            {"buttons": ["Yes", ("no-id", "No"), ReplyButton("m", "Maybe")], "body": "Sure?"},
            ReplyButtons(
                "Sure?",
                [ReplyButton("Yes", "Yes"), ReplyButton("no-id", "No"), ReplyButton("m", "Maybe")],
            ),
        ),
        (
            (),
            {"buttons": ("A",), "body": "b", "header": "H", "footer": "F"},
            ReplyButtons("b", [ReplyButton("A", "A")], header="H", footer="F"),
        ),
        ((), {"location": (1.5, -2)}, Location(1.5, -2)),
        ((), {"location": [1.5, 2.5], "name": "N", "address": "A"}, Location(1.5, 2.5, "N", "A")),
    ],
)
def test_coerce(args: tuple[Any, ...], kwargs: dict[str, Any], expected: outbound.Outbound) -> None:
    assert coerce(*args, **kwargs) == expected


def test_coerce_passes_a_message_through() -> None:
    message = Sticker(id="1")
    assert coerce(message) is message


@pytest.mark.parametrize(
    ("args", "kwargs", "names"),
    [
        ((), {}, "nothing to send"),
        ((), {"txt": "hi"}, "unknown keyword argument txt="),
        ((), {"text": "a", "image": "1"}, "ambiguous, text=, image="),
        ((), {"text": "a", "buttons": ["A"]}, "use body="),
        ((), {"text": "a", "caption": "c"}, "caption= does not apply to text="),
        ((), {"sticker": "1", "caption": "c"}, "caption= does not apply to sticker="),
        ((), {"image": "1", "filename": "f"}, "filename= does not apply to image="),
        ((), {"reaction": "👍"}, "reaction= needs message_id="),
        ((), {"buttons": ["A"]}, "buttons= needs body="),
        ((), {"buttons": "A", "body": "b"}, "buttons= takes a list"),
        ((), {"buttons": [1], "body": "b"}, "each of buttons="),
        ((), {"location": 1.5}, "location= takes (latitude, longitude)"),
        ((), {"text": 5}, "text= takes a str"),
        ((), {"image": None}, "image= takes a str"),
        ((Text("a"),), {"caption": "c"}, "caption= cannot be given with a message"),
        (("a",), {"caption": "c"}, "caption= does not apply to a text message"),
        ((5,), {}, "expected an Outbound message or a str"),
    ],
)
def test_coerce_type_errors_name_the_keyword(
    args: tuple[Any, ...], kwargs: dict[str, Any], names: str
) -> None:
    with pytest.raises(TypeError) as info:
        coerce(*args, **kwargs)
    assert names in str(info.value)


def test_coerce_validates_what_it_builds() -> None:
    with pytest.raises(ValueError, match=r"ReplyButtons\.buttons\[0\]\.title: at most 20"):
        coerce(buttons=["x" * 21], body="b")
    with pytest.raises(ValueError, match=r"Image\.link: must be an http"):
        coerce(image="ftp://a.example/p.png")
