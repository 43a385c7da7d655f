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
path in the template (``components[2].buttons[0].text``). The button rules are in
:mod:`wahost_templates.button_rules`, the shared checker in :mod:`wahost_templates.checks`.
"""

from __future__ import annotations

import re
from typing import Any

from wahost_templates.button_rules import MAX_BUTTON_TEXT, MAX_BUTTONS, check_buttons
from wahost_templates.checks import Checker, Problem, TemplateError, has_emoji, parameters
from wahost_templates.components import (
    CATEGORIES,
    HEADER_FORMATS,
    Body,
    Buttons,
    Carousel,
    CopyCodeButton,
    Footer,
    Header,
    LimitedTimeOffer,
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
    "has_emoji",
    "parameter_format",
    "parameters",
    "problems",
]

MAX_NAME = 512
MAX_HEADER_TEXT = 60
MAX_BODY = 1024
MAX_FOOTER = 60
# UNVERIFIED (Meta's limited-time offer and carousel pages, not the reference):
MAX_OFFER_TEXT = 16
MAX_OFFER_BODY = 600
MAX_CARD_BODY = 160
CARD_BUTTON_TYPES = (QuickReplyButton, UrlButton, PhoneNumberButton)

_NAME = re.compile(r"[a-z0-9_]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]{2,4})?")


def parameter_format(spec: TemplateSpec) -> str:
    """``named`` when the header or body text uses ``{{name}}`` parameters, else
    ``positional``."""
    for component in spec.components:
        if isinstance(component, Header | Body) and any(
            not name.isdigit() for name in parameters(component.text)
        ):
            return "named"
    return "positional"


def problems(spec: TemplateSpec) -> list[Problem]:
    """Every rule ``spec`` breaks, in the order of its fields (empty: it may be sent)."""
    c = Checker()
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
            check_buttons(c, f"{key}.buttons", component, spec.category)
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


def _header(c: Checker, key: str, header: Header, category: str, style: str) -> None:
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


def _body(c: Checker, key: str, body: Body, style: str, auth: bool, limit: int) -> None:
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


def _footer(c: Checker, key: str, footer: Footer, auth: bool) -> None:
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


def _carousel(c: Checker, key: str, carousel: Carousel, category: str, style: str) -> None:
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
                check_buttons(c, f"{where}.components[{i}].buttons", x, category)
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
