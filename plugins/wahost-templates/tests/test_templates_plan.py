"""How push compares a declared template with the live one (wahost_templates.sync.plan):
only what the file sets, examples aside, tags in any case, OTP listed back as URL, and what
Meta would refuse reported as blocked instead of sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wahost_templates import (
    Body,
    Buttons,
    Declared,
    Footer,
    Header,
    OtpButton,
    QuickReplyButton,
    TemplateSpec,
    plan,
)


def declared(*components: Any, category: str = "UTILITY") -> list[Declared]:
    spec = TemplateSpec(
        name="order_update",
        language="en_US",
        category=category,  # type: ignore[arg-type]
        components=list(components),
    )
    return [Declared(spec, Path("templates/order_update.toml"))]


def live(components: list[Any], status: str = "APPROVED", category: str = "UTILITY") -> Any:
    return [
        {
            "id": "1",
            "name": "order_update",
            "language": "en_US",
            "status": status,
            "category": category,
            "components": components,
        }
    ]


def test_same_template_in_meta_s_listing_plans_nothing() -> None:
    mine = declared(
        Header.image("4::upload-handle"),
        Body.positional("Hi {{1}}", "Pablo"),
        Buttons(buttons=[QuickReplyButton(text="Track")]),
    )
    theirs = live(
        [
            {"type": "header", "format": "image",
             "example": {"header_handle": ["https://scontent.example/x.jpg"]}},
            {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Someone"]]}},
            {"type": "BUTTONS", "buttons": [{"type": "quick_reply", "text": "Track"}]},
        ]
    )  # fmt: skip
    assert plan(mine, theirs) == []


def test_authentication_otp_button_matches_the_url_meta_lists() -> None:
    mine = declared(
        Body.authentication(),
        Footer(code_expiration_minutes=10),
        Buttons(buttons=[OtpButton(otp_type="copy_code", text="Copy code")]),
        category="AUTHENTICATION",
    )
    theirs = live(
        [
            {"type": "BODY", "text": "*{{1}}* is your verification code.",
             "add_security_recommendation": True},
            {"type": "FOOTER", "text": "This code expires in 10 minutes.",
             "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copy code",
                                              "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE"}]},
        ],
        category="AUTHENTICATION",
    )  # fmt: skip
    assert plan(mine, theirs) == []


def test_what_differs_is_an_edit_or_blocked() -> None:
    mine = declared(Body(text="Hello"), Footer(text="Thanks"))
    assert plan(mine, live([{"type": "BODY", "text": "Hello"}]))[0].action == "edit"
    [edit] = plan(
        mine, live([{"type": "BODY", "text": "Hi"}, {"type": "FOOTER", "text": "Thanks"}])
    )
    assert (edit.action, edit.detail, edit.template_id) == ("edit", "components", "1")
    [pending] = plan(mine, live([{"type": "BODY", "text": "Hi"}], status="PENDING"))
    assert pending.action == "blocked"
    same = [{"type": "BODY", "text": "Hello"}, {"type": "FOOTER", "text": "Thanks"}]
    [category] = plan(mine, live(same, category="MARKETING"))
    assert (category.action, category.detail) == (
        "blocked",
        "an approved template's category cannot change",
    )
    [rejected] = plan(mine, live(same, status="REJECTED", category="MARKETING"))
    assert (rejected.action, rejected.detail) == ("edit", "category MARKETING -> UTILITY")
    assert plan(mine, [])[0].action == "create"
