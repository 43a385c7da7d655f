"""Template messages: a pre-approved template filled with parameters.

Templates are the only messages allowed outside the 24-hour customer service window
(reference/cloudapi.md §6). A template is sent by name and language code with one component per
variable part: the header, the body, and each button that takes a value::

    Template("order_confirmation", "en_US", components=[
        TemplateHeader(Image(id="2762702990552401")),
        TemplateBody.positional("Pablo", "#7F3A9C"),
        TemplateButton.quick_reply(0, "TRACK_7F3A9C"),
    ])

The component and parameter shapes come from Meta's template component syntax
(M-send-messages, M-auth-templates, M-send-flow). Named parameters (``parameter_name``), the
currency and date_time parameters, location headers and the ``copy_code`` button of coupon
templates are not in reference/cloudapi.md; their shapes follow Meta's template docs as widely
used by client libraries (UNVERIFIED here).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import msgspec

from wahost.outbound.base import (
    Outbound,
    Part,
    check_instance,
    check_items,
    check_optional_text,
    check_text,
    check_unique,
    compact,
)
from wahost.outbound.media import Document, Image, Video
from wahost.outbound.messages import Location

__all__ = [
    "BodyParameter",
    "ButtonParameter",
    "CouponCodeParameter",
    "CurrencyParameter",
    "DateTimeParameter",
    "FlowActionParameter",
    "HeaderParameter",
    "PayloadParameter",
    "Template",
    "TemplateBody",
    "TemplateButton",
    "TemplateComponent",
    "TemplateHeader",
    "TextParameter",
]


class TextParameter(Part, frozen=True):
    """A text value. ``parameter_name`` fills a named variable (``{{customer_name}}``) instead
    of a positional one (``{{1}}``); a ``str`` given where a parameter is expected is a
    positional text parameter."""

    text: str
    parameter_name: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.text", self.text)
        check_optional_text(f"{path}.parameter_name", self.parameter_name)

    def content(self) -> dict[str, Any]:
        return compact(type="text", parameter_name=self.parameter_name, text=self.text)


class CurrencyParameter(Part, frozen=True):
    """An amount of money. ``amount_1000`` is the amount times 1000 (``100990`` for 100.99);
    ``fallback_value`` is shown where the client cannot localise it."""

    fallback_value: str
    code: str
    """The ISO 4217 code, e.g. ``"USD"``."""

    amount_1000: int
    parameter_name: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.fallback_value", self.fallback_value)
        check_text(f"{path}.code", self.code)
        if not (len(self.code) == 3 and self.code.isascii() and self.code.isalpha()):
            raise ValueError(f"{path}.code: must be a 3-letter ISO 4217 code (got {self.code!r})")
        if isinstance(self.amount_1000, bool) or not isinstance(self.amount_1000, int):
            raise ValueError(f"{path}.amount_1000: must be an int (got {self.amount_1000!r})")
        check_optional_text(f"{path}.parameter_name", self.parameter_name)

    def content(self) -> dict[str, Any]:
        currency = {
            "fallback_value": self.fallback_value,
            "code": self.code,
            "amount_1000": self.amount_1000,
        }
        return compact(type="currency", parameter_name=self.parameter_name, currency=currency)


class DateTimeParameter(Part, frozen=True):
    """A date and time, sent as the text to show (``fallback_value``)."""

    fallback_value: str
    parameter_name: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.fallback_value", self.fallback_value)
        check_optional_text(f"{path}.parameter_name", self.parameter_name)

    def content(self) -> dict[str, Any]:
        date_time = {"fallback_value": self.fallback_value}
        return compact(type="date_time", parameter_name=self.parameter_name, date_time=date_time)


class PayloadParameter(Part, frozen=True):
    """The payload of a quick-reply button, returned in the ``button`` message it triggers."""

    payload: str

    def _check(self, path: str) -> None:
        check_text(f"{path}.payload", self.payload)

    def content(self) -> dict[str, Any]:
        return {"type": "payload", "payload": self.payload}


class FlowActionParameter(Part, frozen=True):
    """The parameter of a Flow button: the flow token (Meta's default ``"unused"``) and the data
    for the first screen (M-send-flow)."""

    flow_token: str | None = None
    flow_action_data: dict[str, Any] | None = None

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.flow_token", self.flow_token)
        if self.flow_action_data is not None:
            if not isinstance(self.flow_action_data, dict):
                raise ValueError(f"{path}.flow_action_data: must be a dict")
            try:
                msgspec.json.encode(self.flow_action_data)
            except TypeError as error:
                raise ValueError(f"{path}.flow_action_data: not JSON-encodable ({error})") from None

    def content(self) -> dict[str, Any]:
        action = compact(flow_token=self.flow_token, flow_action_data=self.flow_action_data)
        return {"type": "action", "action": action}


class CouponCodeParameter(Part, frozen=True):
    """The code copied by the ``copy_code`` button of a coupon template (UNVERIFIED shape)."""

    coupon_code: str

    def _check(self, path: str) -> None:
        check_text(f"{path}.coupon_code", self.coupon_code)

    def content(self) -> dict[str, Any]:
        return {"type": "coupon_code", "coupon_code": self.coupon_code}


HeaderParameter = str | TextParameter | Image | Video | Document | Location
"""What fills a template header: text, media (without caption) or a location."""

BodyParameter = str | TextParameter | CurrencyParameter | DateTimeParameter
"""What fills a variable of a template body."""

ButtonParameter = TextParameter | PayloadParameter | FlowActionParameter | CouponCodeParameter
"""What fills a template button: built by the :class:`TemplateButton` constructors."""

_HEADER_KINDS = (str, TextParameter, Image, Video, Document, Location)
_BODY_KINDS = (str, TextParameter, CurrencyParameter, DateTimeParameter)
_BUTTON_KINDS = (TextParameter, PayloadParameter, FlowActionParameter, CouponCodeParameter)


def _parameter_content(parameter: Any) -> dict[str, Any]:
    if isinstance(parameter, str):
        return {"type": "text", "text": parameter}
    if isinstance(parameter, Image | Video | Document | Location):
        return {"type": parameter.type, parameter.type: parameter.content()}
    content: dict[str, Any] = parameter.content()
    return content


def _check_parameters(path: str, parameters: list[Any]) -> None:
    """Named and positional parameters don't mix, and names are unique."""
    for index, parameter in enumerate(parameters):
        if isinstance(parameter, str):
            check_text(f"{path}[{index}]", parameter)
        else:
            parameter._check(f"{path}[{index}]")
            if isinstance(parameter, Image | Video | Document) and parameter.caption is not None:
                raise ValueError(f"{path}[{index}].caption: not allowed in a template header")
    names = [
        (f"{path}[{index}].parameter_name", name)
        for index, parameter in enumerate(parameters)
        if (name := getattr(parameter, "parameter_name", None)) is not None
    ]
    if names and len(names) != len(parameters):
        raise ValueError(f"{path}: named and positional parameters cannot be mixed")
    check_unique(names, "parameter_name")


class TemplateHeader(Part, frozen=True):
    """The header component: one parameter (text, image, video, document or location)."""

    parameter: HeaderParameter

    def _check(self, path: str) -> None:
        check_instance(f"{path}.parameter", self.parameter, _HEADER_KINDS)
        _check_parameters(f"{path}.parameter", [self.parameter])

    def content(self) -> dict[str, Any]:
        return {"type": "header", "parameters": [_parameter_content(self.parameter)]}


class TemplateBody(Part, frozen=True):
    """The body component: its variables in order, or all by name."""

    parameters: list[BodyParameter]

    @classmethod
    def positional(cls, *values: BodyParameter) -> Self:
        """Fill ``{{1}}``, ``{{2}}``, … in order."""
        return cls(list(values))

    @classmethod
    def named(cls, **values: str | CurrencyParameter | DateTimeParameter) -> Self:
        """Fill named variables: ``TemplateBody.named(customer_name="Pablo")``."""
        parameters: list[BodyParameter] = []
        for name, value in values.items():
            if isinstance(value, str):
                parameters.append(TextParameter(value, parameter_name=name))
            else:
                parameters.append(msgspec.structs.replace(value, parameter_name=name))
        return cls(parameters)

    def _check(self, path: str) -> None:
        check_items(f"{path}.parameters", self.parameters, _BODY_KINDS, 1, None, "parameter")
        _check_parameters(f"{path}.parameters", self.parameters)

    def content(self) -> dict[str, Any]:
        return {"type": "body", "parameters": [_parameter_content(p) for p in self.parameters]}


class TemplateButton(Part, frozen=True):
    """A button component: the ``index`` of the button in the template (0 to 9) and its value.

    Build one with :meth:`quick_reply`, :meth:`url`, :meth:`flow` or :meth:`copy_code`.
    """

    sub_type: str
    index: int
    parameters: list[ButtonParameter]

    @classmethod
    def quick_reply(cls, index: int, payload: str) -> Self:
        """A quick-reply button and the payload its tap sends back."""
        return cls("quick_reply", index, [PayloadParameter(payload)])

    @classmethod
    def url(cls, index: int, text: str) -> Self:
        """A URL button and the text appended to its dynamic URL. Authentication templates send
        their one-time code this way too (M-auth-templates: at most 15 characters there)."""
        return cls("url", index, [TextParameter(text)])

    @classmethod
    def flow(
        cls,
        index: int,
        flow_token: str | None = None,
        flow_action_data: dict[str, Any] | None = None,
    ) -> Self:
        """A Flow button, with the flow token and the data for the first screen."""
        return cls("flow", index, [FlowActionParameter(flow_token, flow_action_data)])

    @classmethod
    def copy_code(cls, index: int, coupon_code: str) -> Self:
        """The copy-code button of a coupon template (UNVERIFIED shape)."""
        return cls("copy_code", index, [CouponCodeParameter(coupon_code)])

    def _check(self, path: str) -> None:
        check_text(f"{path}.sub_type", self.sub_type)
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise ValueError(f"{path}.index: must be an int (got {self.index!r})")
        # A template has at most 10 buttons, indexed 0 to 9 (Meta's template docs; UNVERIFIED).
        if not 0 <= self.index <= 9:
            raise ValueError(f"{path}.index: must be between 0 and 9 (got {self.index})")
        parameters = check_items(
            f"{path}.parameters", self.parameters, _BUTTON_KINDS, 1, None, "parameter"
        )
        for index, parameter in enumerate(parameters):
            parameter._check(f"{path}.parameters[{index}]")

    def content(self) -> dict[str, Any]:
        return {
            "type": "button",
            "sub_type": self.sub_type,
            # Meta's examples send the index as a string.
            "index": str(self.index),
            "parameters": [parameter.content() for parameter in self.parameters],
        }


TemplateComponent = TemplateHeader | TemplateBody | TemplateButton
"""One component of a :class:`Template`."""


class Template(Outbound, frozen=True):
    """A template message: the template's ``name``, its ``language`` code (``"en_US"``) and the
    components that fill its variables (at most one header and one body, one component per
    button index). A template without variables takes no components."""

    type: ClassVar[str] = "template"

    name: str
    """Up to 512 characters."""

    language: str
    """The language and locale code the template was approved in, e.g. ``"en_US"``."""

    components: list[TemplateComponent] = []

    def _check(self, path: str) -> None:
        check_text(f"{path}.name", self.name, 512)
        check_text(f"{path}.language", self.language)
        kinds = (TemplateHeader, TemplateBody, TemplateButton)
        components = check_items(f"{path}.components", self.components, kinds, 0, None, "component")
        seen: list[tuple[str, str]] = []
        for index, component in enumerate(components):
            where = f"{path}.components[{index}]"
            component._check(where)
            if isinstance(component, TemplateHeader):
                key = "header"
            elif isinstance(component, TemplateBody):
                key = "body"
            else:
                key = f"button index {component.index}"
            seen.append((where, key))
        check_unique(seen, "component")

    def content(self) -> dict[str, Any]:
        template: dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if self.components:
            template["components"] = [component.content() for component in self.components]
        return template
