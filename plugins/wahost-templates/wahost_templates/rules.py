"""Meta's rules for creating a template, checked locally before any request.

From reference/cloudapi.md §15.2 unless marked: the name (at most 512 characters, lower-case
letters, digits and ``_``), one BODY of at most 1024 characters, a TEXT header of at most 60
characters with at most one parameter, a FOOTER of at most 60 without parameters, media
headers with an upload handle, an example for every parameter, at most 10 buttons with the
quick replies kept together, per-type button counts and lengths, authentication templates
(body, footer with ``code_expiration_minutes`` 1-90, one OTP button; no URL, media or
emoji).

From Meta's pages on limited-time offers and media card carousels (not yet in the
reference, UNVERIFIED here): a limited-time offer is a MARKETING template without a footer, an
offer text of at most 16 characters, a body of at most 600 and an image or video header if
any; a carousel is a MARKETING template of a body and 2 to 10 cards, each card an image or
video header, an optional body of at most 160 characters (all cards or none) and 1 or 2 quick
reply, URL or phone buttons, the same make on every card.

Lengths are counted in code points (Python's ``len``). Each problem names the field by its
path in the template (``components[2].buttons[0].text``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from wahost_templates.components import (
    CATEGORIES,
    HEADER_FORMATS,
    Body,
    Buttons,
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
    TemplateSpec,
    UrlButton,
)

__all__ = [
    "MAX_BODY",
    "MAX_BUTTONS",
    "MAX_BUTTON_TEXT",
    "MAX_FOOTER",
    "MAX_HEADER_TEXT",
    "MAX_NAME",
    "Problem",
    "TemplateError",
    "parameter_format",
    "parameters",
    "problems",
]

MAX_NAME = 512
MAX_HEADER_TEXT = 60
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
MAX_URL = 2000
MAX_PHONE = 20
MAX_COPY_CODE = 15
#: Per-type button limits (§15.2's table).
BUTTON_LIMITS = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}
# UNVERIFIED (Meta's limited-time offer and carousel pages, not the reference):
MAX_OFFER_TEXT = 16
MAX_OFFER_BODY = 600
MAX_CARD_BODY = 160
CARD_BUTTON_TYPES = (QuickReplyButton, UrlButton, PhoneNumberButton)

_NAME = re.compile(r"[a-z0-9_]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]{2,4})?")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# The reference says named parameters are lower-case letters and "_"; digits after the first
# letter are accepted too (Meta's own examples use none, so refusing them would be a guess).
_NAMED = re.compile(r"[a-z_][a-z0-9_]*")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


class Problem(NamedTuple):
    """A broken rule: ``key`` is the field's path in the template, ``reason`` says why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class TemplateError(ValueError):
    """A template breaks Meta's rules; ``problems`` lists each, the message names the first."""

    def __init__(self, problems: Sequence[Problem], *, where: str = "") -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{problems[0]}{more}")


def parameters(text: str | None) -> list[str]:
    """The parameter names in ``text`` in order (``"1"`` for ``{{1}}``)."""
    return [match.group(1) for match in _VARIABLE.finditer(text or "")]


def parameter_format(spec: TemplateSpec) -> str:
    """``named`` when the header or body text uses ``{{name}}`` parameters, else
    ``positional``."""
    for component in spec.components:
        if isinstance(component, Header | Body) and any(
            not name.isdigit() for name in parameters(component.text)
        ):
            return "named"
    return "positional"


class _Checker:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.found.append(Problem(key, reason))

    def length(self, key: str, value: str | None, limit: int, *, required: bool = True) -> None:
        if value is None or value == "":
            if required:
                self.add(key, "is required")
            return
        if not isinstance(value, str):
            self.add(key, f"must be a string (got {value!r})")
        elif len(value) > limit:
            self.add(key, f"at most {limit} characters (got {len(value)})")

    def no_parameters(self, key: str, text: str | None) -> None:
        if parameters(text):
            self.add(key, "takes no parameters")

    def text_parameters(
        self,
        key: str,
        text: str | None,
        style: str,
        positional: list[str] | None,
        named: list[Any] | None,
        example_key: str,
    ) -> None:
        """Parameters are all numbered 1..n or all named, each with an example."""
        names = parameters(text)
        if not names:
            if positional or named:
                self.add(example_key, "examples given but the text has no parameters")
            return
        numbered = [name.isdigit() for name in names]
        if any(numbered) and not all(numbered):
            self.add(key, "mixes numbered and named parameters")
            return
        if style == "positional":
            if not all(numbered):
                self.add(key, "named parameters, but parameter_format is positional")
                return
            numbers = sorted({int(name) for name in names})
            if numbers != list(range(1, len(numbers) + 1)):
                self.add(
                    key,
                    f"parameters must be numbered from {{{{1}}}} on without gaps "
                    f"(got {', '.join(f'{{{{{n}}}}}' for n in numbers)})",
                )
            if positional is None or len(positional) != len(numbers):
                self.add(
                    example_key,
                    f"needs one example per parameter ({len(numbers)}), "
                    f"got {len(positional or [])}",
                )
            elif any(not isinstance(v, str) or not v for v in positional):
                self.add(example_key, "examples must be non-empty strings")
            return
        bad = [name for name in names if not _NAMED.fullmatch(name)]
        if bad:
            self.add(
                key,
                f"parameter {{{{{bad[0]}}}}}: named parameters are lower-case "
                "letters, digits and _",
            )
            return
        given = {getattr(item, "param_name", None): item for item in named or []}
        missing = [name for name in dict.fromkeys(names) if name not in given]
        if missing:
            self.add(example_key, f"no example for {{{{{missing[0]}}}}}")
        extra = [name for name in given if name not in names]
        if extra:
            self.add(example_key, f"example for {extra[0]!r}, which the text does not use")


def problems(spec: TemplateSpec) -> list[Problem]:
    """Every rule ``spec`` breaks, in the order of its fields (empty: it may be sent)."""
    c = _Checker()
    if not isinstance(spec.name, str) or not spec.name:
        c.add("name", "is required")
    elif len(spec.name) > MAX_NAME:
        c.add("name", f"at most {MAX_NAME} characters (got {len(spec.name)})")
    elif not _NAME.fullmatch(spec.name):
        c.add("name", f"only lower-case letters, digits and _ (got {spec.name!r})")
    if not isinstance(spec.language, str) or not _LANGUAGE.fullmatch(spec.language):
        c.add("language", f"a language code such as en_US (got {spec.language!r})")
    if spec.category not in CATEGORIES:
        c.add("category", f"one of {', '.join(CATEGORIES)} (got {spec.category!r})")
    style = spec.parameter_format or parameter_format(spec)
    if style not in ("named", "positional"):
        c.add("parameter_format", f'"named" or "positional" (got {style!r})')
    ttl = spec.message_send_ttl_seconds
    if ttl is not None and (not isinstance(ttl, int) or ttl <= 0):
        c.add("message_send_ttl_seconds", f"a positive number of seconds (got {ttl!r})")

    kinds: dict[str, list[int]] = {}
    for index, component in enumerate(spec.components):
        kinds.setdefault(type(component).__name__, []).append(index)
    for kind, indexes in kinds.items():
        if len(indexes) > 1:
            c.add(f"components[{indexes[1]}]", f"a second {kind} component (one only)")
    if "Body" not in kinds:
        c.add("components", "a BODY component is required")

    auth = spec.category == "AUTHENTICATION"
    offer = "LimitedTimeOffer" in kinds
    carousel = "Carousel" in kinds
    for index, component in enumerate(spec.components):
        key = f"components[{index}]"
        if isinstance(component, Header):
            _header(c, key, component, spec.category, style)
            if auth:
                c.add(key, "an AUTHENTICATION template has no header")
            if offer and component.format not in ("IMAGE", "VIDEO"):
                c.add(f"{key}.format", "a limited-time offer's header is IMAGE or VIDEO")
            if carousel:
                c.add(key, "a carousel template has no header: each card has its own")
        elif isinstance(component, Body):
            _body(c, key, component, style, auth, MAX_OFFER_BODY if offer else MAX_BODY)
        elif isinstance(component, Footer):
            _footer(c, key, component, auth)
            if offer or carousel:
                c.add(key, f"a {'limited-time offer' if offer else 'carousel'} has no footer")
        elif isinstance(component, Buttons):
            _buttons(c, f"{key}.buttons", component, spec.category)
            if carousel:
                c.add(key, "a carousel template's buttons are on its cards")
        elif isinstance(component, LimitedTimeOffer):
            if spec.category != "MARKETING":
                c.add(key, "a limited-time offer is a MARKETING template")
            c.length(
                f"{key}.limited_time_offer.text", component.limited_time_offer.text, MAX_OFFER_TEXT
            )
            if component.limited_time_offer.has_expiration and not _has_button(
                spec, CopyCodeButton
            ):
                c.add(key, "has_expiration needs a COPY_CODE button with the offer code")
        elif isinstance(component, Carousel):
            _carousel(c, key, component, spec.category, style)
        else:
            c.add(key, f"unknown component {component!r}")
    if auth:
        otp = [b for b in _all_buttons(spec) if isinstance(b, OtpButton)]
        if len(otp) != 1 or len(_all_buttons(spec)) != 1:
            c.add("components", "an AUTHENTICATION template has exactly one button, an OTP one")
    return c.found


def _all_buttons(spec: TemplateSpec) -> list[Any]:
    return [b for comp in spec.components if isinstance(comp, Buttons) for b in comp.buttons]


def _has_button(spec: TemplateSpec, kind: type) -> bool:
    return any(isinstance(b, kind) for b in _all_buttons(spec))


def _header(c: _Checker, key: str, header: Header, category: str, style: str) -> None:
    if header.format not in HEADER_FORMATS:
        c.add(f"{key}.format", f"one of {', '.join(HEADER_FORMATS)} (got {header.format!r})")
        return
    example = header.example
    if header.format == "TEXT":
        c.length(f"{key}.text", header.text, MAX_HEADER_TEXT)
        if len(parameters(header.text)) > 1:
            c.add(f"{key}.text", "a text header takes at most one parameter")
            return
        c.text_parameters(
            f"{key}.text",
            header.text,
            style,
            example.header_text if example else None,
            example.header_text_named_params if example else None,
            f"{key}.example",
        )
        return
    if header.text is not None:
        c.add(f"{key}.text", f"a {header.format} header has no text")
    if header.format in ("IMAGE", "VIDEO", "GIF", "DOCUMENT"):
        handles = example.header_handle if example else None
        if not handles or not all(isinstance(h, str) and h for h in handles):
            c.add(
                f"{key}.example.header_handle",
                f"a {header.format} header needs an upload handle of an example file",
            )
    if header.format == "GIF" and category != "MARKETING":
        c.add(f"{key}.format", "GIF headers are for MARKETING templates")
    if header.format == "LOCATION" and category not in ("UTILITY", "MARKETING"):
        c.add(f"{key}.format", "LOCATION headers are for UTILITY and MARKETING templates")


def _body(c: _Checker, key: str, body: Body, style: str, auth: bool, limit: int) -> None:
    if auth:
        if body.text is not None:
            c.add(f"{key}.text", "an AUTHENTICATION template's body text is Meta's; leave it out")
        return
    if body.add_security_recommendation is not None:
        c.add(f"{key}.add_security_recommendation", "only AUTHENTICATION templates take it")
    c.length(f"{key}.text", body.text, limit)
    positional = None
    if body.example is not None and body.example.body_text is not None:
        rows = body.example.body_text
        if len(rows) != 1:
            c.add(f"{key}.example.body_text", "one list of examples, nested: [[...]]")
            return
        positional = rows[0]
    named = body.example.body_text_named_params if body.example else None
    c.text_parameters(f"{key}.text", body.text, style, positional, named, f"{key}.example")


def _footer(c: _Checker, key: str, footer: Footer, auth: bool) -> None:
    minutes = footer.code_expiration_minutes
    if auth:
        if footer.text is not None:
            c.add(f"{key}.text", "an AUTHENTICATION template's footer has no text")
        if minutes is not None and not (isinstance(minutes, int) and 1 <= minutes <= 90):
            c.add(f"{key}.code_expiration_minutes", f"1 to 90 (got {minutes!r})")
        return
    if minutes is not None:
        c.add(f"{key}.code_expiration_minutes", "only AUTHENTICATION templates take it")
    c.length(f"{key}.text", footer.text, MAX_FOOTER)
    c.no_parameters(f"{key}.text", footer.text)


def _buttons(c: _Checker, key: str, component: Buttons, category: str) -> None:
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


def _button(c: _Checker, key: str, button: Any, category: str) -> None:
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


def _carousel(c: _Checker, key: str, carousel: Carousel, category: str, style: str) -> None:
    if category != "MARKETING":
        c.add(key, "a carousel is a MARKETING template")
    cards = carousel.cards
    if not 2 <= len(cards) <= 10:
        c.add(f"{key}.cards", f"2 to 10 cards (got {len(cards)})")
    makes: list[tuple[Any, ...]] = []
    for index, card in enumerate(cards):
        where = f"{key}.cards[{index}]"
        headers = [x for x in card.components if isinstance(x, Header)]
        bodies = [x for x in card.components if isinstance(x, Body)]
        buttons = [b for x in card.components if isinstance(x, Buttons) for b in x.buttons]
        if len(headers) != 1 or headers[0].format not in ("IMAGE", "VIDEO"):
            c.add(f"{where}.components", "a card has one IMAGE or VIDEO header")
        for i, x in enumerate(card.components):
            if isinstance(x, Header):
                _header(c, f"{where}.components[{i}]", x, category, style)
            elif isinstance(x, Body):
                _body(c, f"{where}.components[{i}]", x, style, False, MAX_CARD_BODY)
            elif isinstance(x, Buttons):
                _buttons(c, f"{where}.components[{i}].buttons", x, category)
                for j, b in enumerate(x.buttons):
                    if not isinstance(b, CARD_BUTTON_TYPES):
                        c.add(
                            f"{where}.components[{i}].buttons[{j}]",
                            "a card's buttons are QUICK_REPLY, URL or PHONE_NUMBER",
                        )
        if len(bodies) > 1:
            c.add(f"{where}.components", "one body per card")
        if not 1 <= len(buttons) <= 2:
            c.add(f"{where}.components", f"1 or 2 buttons per card (got {len(buttons)})")
        makes.append(
            (
                headers[0].format if headers else None,
                bool(bodies),
                tuple(type(b).__name__ for b in buttons),
            )
        )
    for index, make in enumerate(makes[1:], start=1):
        if make != makes[0]:
            c.add(
                f"{key}.cards[{index}]",
                "every card has the same header format, body or not, and buttons as card 0",
            )
            break


def has_emoji(text: str | None) -> bool:
    """Whether ``text`` holds a pictograph (authentication templates allow none)."""
    return bool(_EMOJI.search(text or ""))
