"""The typed builders give Meta's creation bodies, and Meta's rules are checked locally with
errors that name the field (reference/cloudapi.md §15.2)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from wahost_templates import (
    Body,
    Buttons,
    Card,
    Carousel,
    CatalogButton,
    CopyCodeButton,
    FlowButton,
    Footer,
    Header,
    LimitedTimeOffer,
    MpmButton,
    OtpButton,
    PhoneNumberButton,
    QuickReplyButton,
    SupportedApp,
    TemplateError,
    TemplateSpec,
    UrlButton,
    problems,
)
from wahost_templates.components import upper_tags


def spec(*components: Any, category: str = "UTILITY", **fields: Any) -> TemplateSpec:
    return TemplateSpec(
        name=fields.pop("name", "order_update"),
        language=fields.pop("language", "en_US"),
        category=category,  # type: ignore[arg-type]
        components=list(components),
        **fields,
    )


def keys(template: TemplateSpec) -> list[str]:
    return [str(problem) for problem in problems(template)]


def test_a_full_utility_template_is_meta_s_creation_body() -> None:
    template = spec(
        Header.with_text("Order {{1}}", "A-17"),
        Body.positional("Hi {{1}}, your order ships on {{2}}.", "Pablo", "May 3"),
        Footer(text="Reply STOP to opt out"),
        Buttons(
            buttons=[
                QuickReplyButton(text="Track"),
                QuickReplyButton(text="Help"),
                UrlButton.dynamic(
                    "Open", "https://shop.example/o/{{1}}", "https://shop.example/o/A"
                ),
                PhoneNumberButton(text="Call us", phone_number="+15550100"),
            ]
        ),
    )
    assert problems(template) == []
    assert template.to_wire() == {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}",
             "example": {"header_text": ["A-17"]}},
            {"type": "BODY", "text": "Hi {{1}}, your order ships on {{2}}.",
             "example": {"body_text": [["Pablo", "May 3"]]}},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Track"},
                {"type": "QUICK_REPLY", "text": "Help"},
                {"type": "URL", "text": "Open", "url": "https://shop.example/o/{{1}}",
                 "example": ["https://shop.example/o/A"]},
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550100"},
            ]},
        ],
    }  # fmt: skip


def test_named_parameters_set_parameter_format_and_need_an_example_each() -> None:
    template = spec(
        Header.with_text("Hello {{first_name}}", first_name="Pablo"),
        Body.named("Your code {{code}} expires {{when}}.", code="X1", when="soon"),
    )
    assert problems(template) == []
    wire = template.to_wire()
    assert wire["parameter_format"] == "named"
    assert wire["components"][1]["example"] == {
        "body_text_named_params": [
            {"param_name": "code", "example": "X1"},
            {"param_name": "when", "example": "soon"},
        ]
    }
    missing = spec(Body.named("Your code {{code}} expires {{when}}.", code="X1"))
    assert keys(missing) == ["components[0].example: no example for {{when}}"]
    mixed = spec(Header.with_text("Order {{1}}", "A-17"), Body.named("Hi {{name}}", name="x"))
    assert keys(mixed) == [
        "components[0].text: numbered parameters, but the template's parameters are named"
    ]
    upper = spec(Body.named("Hi {{First}}", First="x"))
    assert keys(upper)[0].startswith("components[0].text: parameter {{First}}")


def test_positional_parameters_are_numbered_without_gaps_with_one_example_each() -> None:
    assert keys(spec(Body.positional("Hi {{1}} and {{3}}", "a", "b"))) == [
        "components[0].text: parameters must be numbered from {{1}} on without gaps "
        "(got {{1}}, {{3}})"
    ]
    assert keys(spec(Body(text="Hi {{1}}"))) == [
        "components[0].example: needs one example per parameter (1), got 0"
    ]
    assert keys(spec(Body.positional("Hi {{1}} {{name}}", "a"))) == [
        "components[0].text: mixes numbered and named parameters"
    ]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (spec(Body(text="x"), name="Order-Update"),
         "name: only lower-case letters, digits and _ (got 'Order-Update')"),
        (spec(Body(text="x"), name="a" * 513), "name: at most 512 characters (got 513)"),
        (spec(Body(text="x"), language="english"),
         "language: a language code such as en_US (got 'english')"),
        (spec(Body(text="x"), category="PROMO"),
         "category: one of MARKETING, UTILITY, AUTHENTICATION (got 'PROMO')"),
        (spec(Footer(text="f")), "components: a BODY component is required"),
        (spec(Body(text="x" * 1025)), "components[0].text: at most 1024 characters (got 1025)"),
        (spec(Header.with_text("h" * 61), Body(text="x")),
         "components[0].text: at most 60 characters (got 61)"),
        (spec(Header.with_text("{{1}} {{2}}", "a", "b"), Body(text="x")),
         "components[0].text: a text header takes at most one parameter"),
        (spec(Header.image(""), Body(text="x")),
         "components[0].example.header_handle: a IMAGE header needs an upload handle of an "
         "example file"),
        (spec(Header.gif("h"), Body(text="x")),
         "components[0].format: GIF headers are for MARKETING templates"),
        (spec(Body(text="x"), Footer(text="f" * 61)),
         "components[1].text: at most 60 characters (got 61)"),
        (spec(Body(text="x"), Footer(text="see {{1}}")), "components[1].text: takes no parameters"),
        (spec(Body(text="x"), Body(text="y")), "components[1]: a second Body component (one only)"),
    ],
)  # fmt: skip
def test_each_broken_rule_names_its_field(template: TemplateSpec, expected: str) -> None:
    assert keys(template)[0] == expected
    with pytest.raises(TemplateError, match=re.escape(expected.split(":")[0])):
        template.check()


def test_every_header_format_builds_and_checks() -> None:
    for header in (Header.image("4::aW"), Header.video("4::aW"), Header.document("4::aW")):
        assert problems(spec(header, Body(text="x"))) == []
    assert problems(spec(Header.gif("4::aW"), Body(text="x"), category="MARKETING")) == []
    assert problems(spec(Header.location(), Body(text="x"))) == []
    assert problems(spec(Header.product(), Body(text="x"), category="MARKETING")) == []
    assert Header.video("4::aW").example is not None
    assert msgspec.to_builtins(Header.location()) == {"type": "HEADER", "format": "LOCATION"}


def button_problems(*buttons: Any, category: str = "MARKETING") -> list[str]:
    return keys(spec(Body(text="x"), Buttons(buttons=list(buttons)), category=category))


def test_button_rules() -> None:
    qr = QuickReplyButton(text="Yes")
    url = UrlButton(text="Site", url="https://a.example")
    assert button_problems(qr, qr, url, PhoneNumberButton(text="Call", phone_number="+1555")) == []
    assert button_problems(qr, url, qr) == [
        "components[1].buttons: quick replies must be together, before or after the other buttons"
    ]
    assert button_problems(*[qr] * 11)[0] == "components[1].buttons: at most 10 buttons (got 11)"
    assert button_problems(url, url, url) == ["components[1].buttons[2]: at most 2 URL button(s)"]
    assert button_problems(QuickReplyButton(text="x" * 26)) == [
        "components[1].buttons[0].text: at most 25 characters (got 26)"
    ]
    assert button_problems(UrlButton(text="a", url="https://a.example/{{1}}/x")) == [
        "components[1].buttons[0].url: one parameter at most, at the end of the URL"
    ]
    assert button_problems(UrlButton(text="a", url="https://a.example/{{1}}")) == [
        "components[1].buttons[0].example: a URL with a parameter needs an example URL"
    ]
    assert button_problems(PhoneNumberButton(text="a", phone_number="1" * 21)) == [
        "components[1].buttons[0].phone_number: at most 20 characters (got 21)"
    ]
    assert button_problems(CopyCodeButton(example="CODE" * 4)) == [
        "components[1].buttons[0].example: at most 15 characters (got 16)"
    ]
    assert button_problems(FlowButton(text="Book", flow_id="1", flow_name="book")) == [
        "components[1].buttons[0]: exactly one of flow_id, flow_name or flow_json"
    ]
    flow = FlowButton(text="Book", flow_id="1", flow_action="navigate", navigate_screen="A")
    assert button_problems(flow, CatalogButton(text="View"), MpmButton(text="Products")) == []
    assert button_problems(OtpButton(otp_type="copy_code")) == [
        "components[1].buttons[0]: OTP buttons are for AUTHENTICATION templates"
    ]


def test_authentication_templates() -> None:
    def auth(*components: Any) -> list[str]:
        return keys(spec(*components, category="AUTHENTICATION", name="login_code"))

    otp = OtpButton(otp_type="copy_code", text="Copy code")
    good = (Body.authentication(), Footer(code_expiration_minutes=10), Buttons(buttons=[otp]))
    assert auth(*good) == []
    assert spec(*good, category="AUTHENTICATION").to_wire()["components"] == [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {"type": "BUTTONS",
         "buttons": [{"type": "OTP", "otp_type": "copy_code", "text": "Copy code"}]},
    ]  # fmt: skip
    expiring = Footer(code_expiration_minutes=91)
    assert auth(Body.authentication(), expiring, Buttons(buttons=[otp])) == [
        "components[1].code_expiration_minutes: 1 to 90 (got 91)"
    ]  # fmt: skip
    assert auth(Body(text="Your code"), Buttons(buttons=[otp])) == [
        "components[0].text: an AUTHENTICATION template's body text is Meta's; leave it out"
    ]
    assert auth(Header.image("h"), Body.authentication(), Buttons(buttons=[otp]))[0] == (
        "components[0]: an AUTHENTICATION template has no header"
    )
    assert auth(Body.authentication(), Buttons(buttons=[QuickReplyButton(text="x")])) == [
        "components[1].buttons[0]: an AUTHENTICATION template's one button is OTP",
        "components: an AUTHENTICATION template has exactly one button, an OTP one",
    ]
    one_tap = OtpButton(otp_type="one_tap", text="Autofill")
    assert auth(Body.authentication(), Buttons(buttons=[one_tap])) == [
        "components[1].buttons[0].supported_apps: a one_tap button names the Android apps"
    ]
    zero_tap = OtpButton(
        otp_type="zero_tap",
        supported_apps=[SupportedApp(package_name="com.example", signature_hash="K8a/AINcGX7")],
    )
    assert auth(Body.authentication(), Buttons(buttons=[zero_tap])) == [
        "components[1].buttons[0].zero_tap_terms_accepted: zero_tap needs the terms accepted (true)"
    ]
    emoji = OtpButton(otp_type="copy_code", text="Copy \U0001f511")
    assert auth(Body.authentication(), Buttons(buttons=[emoji])) == [
        "components[1].buttons[0].text: an AUTHENTICATION template takes no emoji"
    ]


def test_limited_time_offer() -> None:
    offer = (
        Header.image("4::aW"),
        LimitedTimeOffer.of("Expiring offer!", has_expiration=True),
        Body.positional("Good news, {{1}}! Use code {{2}}.", "Pablo", "CARIBE25"),
        Buttons(buttons=[CopyCodeButton(example="CARIBE25"),
                         UrlButton(text="Book", url="https://a.example")]),
    )  # fmt: skip
    assert keys(spec(*offer, category="MARKETING")) == []
    assert spec(*offer, category="MARKETING").to_wire()["components"][1] == {
        "type": "LIMITED_TIME_OFFER",
        "limited_time_offer": {"text": "Expiring offer!", "has_expiration": True},
    }
    assert keys(spec(*offer)) == ["components[1]: a limited-time offer is a MARKETING template"]
    long = spec(LimitedTimeOffer.of("x" * 17), Body(text="y" * 601), category="MARKETING")
    assert keys(long) == [
        "components[0].limited_time_offer.text: at most 16 characters (got 17)",
        "components[1].text: at most 600 characters (got 601)",
    ]
    no_code = spec(LimitedTimeOffer.of("Hurry", has_expiration=True), Body(text="y"),
                   Footer(text="f"), category="MARKETING")  # fmt: skip
    assert keys(no_code) == [
        "components[0]: has_expiration needs a COPY_CODE button with the offer code",
        "components[2]: a limited-time offer has no footer",
    ]


def card(*buttons: Any, body: str | None = "Card", header: Header | None = None) -> Card:
    parts: list[Any] = [header or Header.image("4::aW")]
    if body is not None:
        parts.append(Body(text=body))
    parts.append(Buttons(buttons=list(buttons)))
    return Card(components=parts)


def test_carousel() -> None:
    qr = QuickReplyButton(text="Buy")
    url = UrlButton(text="See", url="https://a.example")
    good = spec(Body(text="Our picks"), Carousel(cards=[card(qr, url), card(qr, url)]),
                category="MARKETING")  # fmt: skip
    assert keys(good) == []
    assert good.to_wire()["components"][1]["cards"][0]["components"][0] == {
        "type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW"]}
    }  # fmt: skip
    assert keys(spec(Body(text="x"), Carousel(cards=[card(qr)]), category="MARKETING")) == [
        "components[1].cards: 2 to 10 cards (got 1)"
    ]
    mixed = Carousel(cards=[card(qr, url), card(url, qr)])
    assert keys(spec(Body(text="x"), mixed, category="MARKETING")) == [
        "components[1].cards[1]: every card has the same header format, body or not, and "
        "buttons as card 0"
    ]
    bad = Carousel(cards=[card(qr, body="b" * 161, header=Header.document("h")), card(qr, qr, qr)])
    assert keys(spec(Body(text="x"), bad, category="UTILITY")) == [
        "components[1]: a carousel is a MARKETING template",
        "components[1].cards[0].components: a card has one IMAGE or VIDEO header",
        "components[1].cards[0].components[1].text: at most 160 characters (got 161)",
        "components[1].cards[1].components: 1 or 2 buttons per card (got 3)",
        "components[1].cards[1]: every card has the same header format, body or not, and "
        "buttons as card 0",
    ]


def test_a_lower_case_json_template_reads_into_the_structs() -> None:
    raw = {
        "name": "summer_sale",
        "language": "en_US",
        "category": "marketing",
        "components": [
            {"type": "body", "text": "Sale {{1}}", "example": {"body_text": [["now"]]}},
            {"type": "buttons", "buttons": [{"type": "quick_reply", "text": "Stop"}]},
        ],
    }
    template = msgspec.convert(upper_tags(raw), TemplateSpec)
    assert isinstance(template.components[1], Buttons)
    assert problems(template) == []
    with pytest.raises(msgspec.ValidationError, match="components"):
        msgspec.convert(
            upper_tags({**raw, "components": [{"type": "body", "txt": "x"}]}), TemplateSpec
        )
