"""Typed builders of message templates, in the shape Meta's create endpoint takes.

The structs carry Meta's own field names (reference/cloudapi.md §15.2), so one struct is both
what a bot author builds in Python and what a declared file holds: ``msgspec.convert`` reads a
file's table into them, :meth:`TemplateSpec.to_wire` gives the body of
``POST /<WABA_ID>/message_templates``. Components and buttons are told apart by their
``type`` (``format`` for a header), written in upper case as the list endpoint returns them;
:func:`upper_tags` accepts the lower case of Meta's creation samples too.

Building checks nothing: :func:`wahost_templates.rules.problems` (or
:meth:`TemplateSpec.check`) does, before any request.
"""

from __future__ import annotations

import typing
from typing import Any, Literal, Self

import msgspec

__all__ = [
    "CATEGORIES",
    "HEADER_FORMATS",
    "Body",
    "BodyExample",
    "Button",
    "Buttons",
    "Card",
    "CardComponent",
    "Carousel",
    "CatalogButton",
    "Component",
    "CopyCodeButton",
    "FlowButton",
    "Footer",
    "Header",
    "HeaderExample",
    "LimitedTimeOffer",
    "MpmButton",
    "NamedExample",
    "OfferDetails",
    "OtpButton",
    "PhoneNumberButton",
    "QuickReplyButton",
    "SupportedApp",
    "TemplateSpec",
    "UrlButton",
    "upper_tags",
]

Category = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
CATEGORIES: tuple[str, ...] = typing.get_args(Category)
HeaderFormat = Literal["TEXT", "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION", "PRODUCT"]
HEADER_FORMATS: tuple[str, ...] = (
    "TEXT",
    "IMAGE",
    "VIDEO",
    "GIF",
    "DOCUMENT",
    "LOCATION",
    "PRODUCT",
)
ParameterFormat = Literal["named", "positional"]


class _Wire(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Base of every struct here: unset fields are left out of the wire form."""


class NamedExample(_Wire):
    """The example value of one named parameter (``{{order_id}}``)."""

    param_name: str
    example: str


class HeaderExample(_Wire):
    """``example`` of a header: the text parameter's example, or a media upload handle."""

    header_text: list[str] | None = None
    header_text_named_params: list[NamedExample] | None = None
    header_handle: list[str] | None = None


class BodyExample(_Wire):
    """``example`` of a body: ``body_text`` is one list of positional examples, nested in a
    list as Meta's samples write it."""

    body_text: list[list[str]] | None = None
    body_text_named_params: list[NamedExample] | None = None


def _text_example(
    positional: tuple[str, ...], named: dict[str, str]
) -> tuple[list[str] | None, list[NamedExample] | None]:
    if positional and named:
        raise TypeError("give the examples by position or by name, not both")
    if named:
        return None, [NamedExample(param_name=k, example=v) for k, v in named.items()]
    return (list(positional) or None), None


class Header(_Wire, tag="HEADER", tag_field="type"):
    """``HEADER``: text (at most 60 characters, one parameter), a media file given by an
    upload handle (§18.6), a location filled at send time, or a product."""

    format: HeaderFormat
    text: str | None = None
    example: HeaderExample | None = None

    @classmethod
    def with_text(cls, text: str, *examples: str, **named_examples: str) -> Self:
        """A text header; its parameter's example by position or by name."""
        positional, named = _text_example(examples, named_examples)
        example = None
        if positional or named:
            example = HeaderExample(header_text=positional, header_text_named_params=named)
        return cls(format="TEXT", text=text, example=example)

    @classmethod
    def media(cls, format: Literal["IMAGE", "VIDEO", "GIF", "DOCUMENT"], handle: str) -> Self:
        """A media header and the example file's resumable-upload handle."""
        return cls(format=format, example=HeaderExample(header_handle=[handle]))

    @classmethod
    def image(cls, handle: str) -> Self:
        return cls.media("IMAGE", handle)

    @classmethod
    def video(cls, handle: str) -> Self:
        return cls.media("VIDEO", handle)

    @classmethod
    def gif(cls, handle: str) -> Self:
        return cls.media("GIF", handle)

    @classmethod
    def document(cls, handle: str) -> Self:
        return cls.media("DOCUMENT", handle)

    @classmethod
    def location(cls) -> Self:
        return cls(format="LOCATION")

    @classmethod
    def product(cls) -> Self:
        return cls(format="PRODUCT")


class Body(_Wire, tag="BODY", tag_field="type"):
    """``BODY``: the text with ``{{1}}`` or ``{{name}}`` parameters and an example of each.
    An authentication template's body has no text (Meta writes it), only
    ``add_security_recommendation``."""

    text: str | None = None
    example: BodyExample | None = None
    add_security_recommendation: bool | None = None

    @classmethod
    def positional(cls, text: str, *examples: str) -> Self:
        """A body with ``{{1}}``, ``{{2}}``, ... and their examples in order."""
        return cls(text=text, example=BodyExample(body_text=[list(examples)]) if examples else None)

    @classmethod
    def named(cls, text: str, **examples: str) -> Self:
        """A body with ``{{name}}`` parameters and their examples by name."""
        _, named = _text_example((), examples)
        return cls(text=text, example=BodyExample(body_text_named_params=named) if named else None)

    @classmethod
    def authentication(cls, add_security_recommendation: bool = True) -> Self:
        return cls(add_security_recommendation=add_security_recommendation)


class Footer(_Wire, tag="FOOTER", tag_field="type"):
    """``FOOTER``: at most 60 characters without parameters; an authentication template's
    footer gives ``code_expiration_minutes`` (1 to 90) instead."""

    text: str | None = None
    code_expiration_minutes: int | None = None


class QuickReplyButton(_Wire, tag="QUICK_REPLY", tag_field="type"):
    text: str


class UrlButton(_Wire, tag="URL", tag_field="type"):
    """A URL button; a dynamic URL ends with ``{{1}}`` and gives a full example URL."""

    text: str
    url: str
    example: list[str] | None = None

    @classmethod
    def dynamic(cls, text: str, url: str, example_url: str) -> Self:
        return cls(text=text, url=url, example=[example_url])


class PhoneNumberButton(_Wire, tag="PHONE_NUMBER", tag_field="type"):
    text: str
    phone_number: str


class CopyCodeButton(_Wire, tag="COPY_CODE", tag_field="type"):
    """A copy-code (coupon) button: ``example`` is an example code of at most 15 characters."""

    example: str


class SupportedApp(_Wire):
    """An Android app that may receive a one-tap or zero-tap code."""

    package_name: str
    signature_hash: str


class OtpButton(_Wire, tag="OTP", tag_field="type"):
    """The one-time-password button of an authentication template (it reads back as ``URL``;
    the one-tap and zero-tap fields come from pywa, UNVERIFIED in Meta text)."""

    otp_type: Literal["copy_code", "one_tap", "zero_tap"]
    text: str | None = None
    autofill_text: str | None = None
    supported_apps: list[SupportedApp] | None = None
    zero_tap_terms_accepted: bool | None = None


class FlowButton(_Wire, tag="FLOW", tag_field="type"):
    """Opens a Flow given by exactly one of ``flow_id``, ``flow_name`` or ``flow_json``."""

    text: str
    flow_id: str | None = None
    flow_name: str | None = None
    flow_json: str | None = None
    flow_action: Literal["navigate", "data_exchange"] | None = None
    navigate_screen: str | None = None
    icon: Literal["DOCUMENT", "PROMOTION", "REVIEW"] | None = None


class CatalogButton(_Wire, tag="CATALOG", tag_field="type"):
    text: str


class MpmButton(_Wire, tag="MPM", tag_field="type"):
    """The button of a multi-product message template."""

    text: str


Button = (
    QuickReplyButton
    | UrlButton
    | PhoneNumberButton
    | CopyCodeButton
    | OtpButton
    | FlowButton
    | CatalogButton
    | MpmButton
)


class Buttons(_Wire, tag="BUTTONS", tag_field="type"):
    """``BUTTONS``: every button of the template, at most 10."""

    buttons: list[Button]


class OfferDetails(_Wire):
    text: str
    has_expiration: bool | None = None


class LimitedTimeOffer(_Wire, tag="LIMITED_TIME_OFFER", tag_field="type"):
    """``limited_time_offer``: the offer's headline and whether it shows a countdown."""

    limited_time_offer: OfferDetails

    @classmethod
    def of(cls, text: str, *, has_expiration: bool | None = None) -> Self:
        return cls(limited_time_offer=OfferDetails(text=text, has_expiration=has_expiration))


CardComponent = Header | Body | Buttons


class Card(_Wire):
    """One card of a carousel: an image or video header, an optional body, its buttons."""

    components: list[CardComponent]


class Carousel(_Wire, tag="CAROUSEL", tag_field="type"):
    """``CAROUSEL``: 2 to 10 cards of the same make."""

    cards: list[Card]


Component = Header | Body | Footer | Buttons | LimitedTimeOffer | Carousel


class TemplateSpec(_Wire):
    """One template in one language: the body of ``POST /<WABA_ID>/message_templates``.

    ``parameter_format`` is worked out from the texts when left out (``named`` when they use
    ``{{name}}`` parameters; Meta's default is positional).
    """

    name: str
    language: str
    category: Category
    components: list[Component]
    parameter_format: ParameterFormat | None = None
    message_send_ttl_seconds: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The creation body, with ``parameter_format`` set when the parameters are named."""
        from wahost_templates.rules import parameter_format

        body: dict[str, Any] = msgspec.to_builtins(self)
        detected = self.parameter_format or parameter_format(self)
        if detected == "named":
            body["parameter_format"] = "named"
        return body

    def check(self) -> None:
        """Raise :class:`~wahost_templates.rules.TemplateError` naming the first broken rule."""
        from wahost_templates.rules import TemplateError, problems

        found = problems(self)
        if found:
            raise TemplateError(found)


_TAG_KEYS = ("type", "format", "category")


def upper_tags(value: Any) -> Any:
    """``value`` (a template or component in its JSON form) with ``type``, ``format`` and
    ``category`` in upper case: Meta's creation samples write them in lower case, its list
    endpoint in upper case, and the structs are tagged in upper case."""
    if isinstance(value, list):
        return [upper_tags(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (
            item.upper()
            if key in _TAG_KEYS and isinstance(item, str)
            else upper_tags(item)
            if key in ("components", "buttons", "cards")
            else item
        )
        for key, item in value.items()
    }
