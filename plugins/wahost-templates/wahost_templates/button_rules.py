"""Meta's rules for the buttons of a template (reference/cloudapi.md §15.2's table): at most 10,
quick replies together, per-type counts, texts of at most 25 characters, a URL of at most 2000
with at most one parameter at its end, a phone number of at most 20 characters, a copy-code
example of at most 15, a Flow named once, and the OTP button of authentication templates
(one-tap and zero-tap fields from pywa, UNVERIFIED in Meta text).
"""

from __future__ import annotations

from typing import Any

from wahost_templates.checks import Checker, has_emoji, parameters
from wahost_templates.components import (
    Buttons,
    CatalogButton,
    CopyCodeButton,
    FlowButton,
    MpmButton,
    OtpButton,
    PhoneNumberButton,
    QuickReplyButton,
    UrlButton,
)

__all__ = ["BUTTON_LIMITS", "MAX_BUTTONS", "MAX_BUTTON_TEXT", "check_buttons"]

MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
MAX_URL = 2000
MAX_PHONE = 20
MAX_COPY_CODE = 15
#: Per-type button limits.
BUTTON_LIMITS = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}


def check_buttons(c: Checker, key: str, component: Buttons, category: str) -> None:
    buttons = component.buttons
    if not buttons:
        c.add(key, "at least one button")
        return
    if len(buttons) > MAX_BUTTONS:
        c.add(key, f"at most {MAX_BUTTONS} buttons (got {len(buttons)})")
    quick = [i for i, b in enumerate(buttons) if isinstance(b, QuickReplyButton)]
    if quick and quick[-1] - quick[0] + 1 != len(quick):
        c.add(key, "quick replies must be together, before or after the other buttons")
    counts: dict[str, int] = {}
    for index, button in enumerate(buttons):
        where = f"{key}[{index}]"
        kind = type(button).__struct_config__.tag
        counts[str(kind)] = counts.get(str(kind), 0) + 1
        limit = BUTTON_LIMITS.get(str(kind))
        if limit is not None and counts[str(kind)] == limit + 1:
            c.add(where, f"at most {limit} {kind} button(s)")
        _button(c, where, button, category)


def _button(c: Checker, key: str, button: Any, category: str) -> None:
    auth = category == "AUTHENTICATION"
    if isinstance(button, OtpButton):
        if not auth:
            c.add(key, "OTP buttons are for AUTHENTICATION templates")
        if button.otp_type not in ("copy_code", "one_tap", "zero_tap"):
            c.add(f"{key}.otp_type", f"copy_code, one_tap or zero_tap (got {button.otp_type!r})")
        c.length(f"{key}.text", button.text, MAX_BUTTON_TEXT, required=False)
        for name in ("text", "autofill_text"):
            if has_emoji(getattr(button, name)):
                c.add(f"{key}.{name}", "an AUTHENTICATION template takes no emoji")
        if button.otp_type in ("one_tap", "zero_tap") and not button.supported_apps:
            c.add(f"{key}.supported_apps", f"a {button.otp_type} button names the Android apps")
        if button.otp_type == "zero_tap" and button.zero_tap_terms_accepted is not True:
            c.add(f"{key}.zero_tap_terms_accepted", "zero_tap needs the terms accepted (true)")
        return
    if auth:
        c.add(key, "an AUTHENTICATION template's one button is OTP")
        return
    if isinstance(button, CopyCodeButton):
        c.length(f"{key}.example", button.example, MAX_COPY_CODE)
        return
    c.length(f"{key}.text", button.text, MAX_BUTTON_TEXT)
    c.no_parameters(f"{key}.text", button.text)
    if isinstance(button, UrlButton):
        c.length(f"{key}.url", button.url, MAX_URL)
        if not button.url.startswith(("https://", "http://")):
            c.add(f"{key}.url", f"an http(s) URL (got {button.url!r})")
        names = parameters(button.url)
        if len(names) > 1 or (names and not button.url.rstrip().endswith("}}")):
            c.add(f"{key}.url", "one parameter at most, at the end of the URL")
        elif names and not button.example:
            c.add(f"{key}.example", "a URL with a parameter needs an example URL")
        elif not names and button.example:
            c.add(f"{key}.example", "example given but the URL has no parameter")
    elif isinstance(button, PhoneNumberButton):
        c.length(f"{key}.phone_number", button.phone_number, MAX_PHONE)
    elif isinstance(button, FlowButton):
        given = [n for n in ("flow_id", "flow_name", "flow_json") if getattr(button, n)]
        if len(given) != 1:
            c.add(key, "exactly one of flow_id, flow_name or flow_json")
        if button.navigate_screen and button.flow_action == "data_exchange":
            c.add(f"{key}.navigate_screen", "only with flow_action navigate")
    elif isinstance(button, CatalogButton | MpmButton | QuickReplyButton):
        pass
