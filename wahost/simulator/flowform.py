"""A WhatsApp Flow shown as a form: one screen of its Flow JSON, filled in, checked and sent.

The simulator has no WhatsApp client to draw a Flow, so :func:`form_for` reads the screen's
inputs (``TextInput``, ``TextArea``, ``DatePicker``, ``Dropdown``, ...) into a
:class:`FormSpec` that a terminal or a browser can ask for. :func:`submit` checks the
answers as the WhatsApp client would and resolves the ``Footer``'s ``on-click-action``: the
Flow completes (the bot gets an ``nfm_reply``, built by :func:`nfm_reply`), moves on to the
next screen, or needs the bot's encrypted data-exchange endpoint, which the simulator cannot
call (reference/cloudapi.md §9).

Without the Flow JSON (it lives in Meta's Flow builder, not in the message) the form is
freeform: ``key=value`` lines that become the ``response_json``.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wahost.errors import FormError as FormError
from wahost.outbound.parse import as_list as _list
from wahost.outbound.parse import as_map as _map
from wahost.outbound.parse import as_text as _str

__all__ = [
    "FieldSpec",
    "FormError",
    "FormResult",
    "FormSpec",
    "Option",
    "form_for",
    "nfm_reply",
    "submit",
]

#: The field types a viewer has to draw.
FIELD_TYPES = (
    "text",
    "number",
    "email",
    "phone",
    "password",
    "textarea",
    "date",
    "select",
    "radio",
    "checkbox",
    "optin",
)

_INPUT_TYPES = {
    "text": "text",
    "number": "number",
    "email": "email",
    "phone": "phone",
    "password": "password",
    "passcode": "password",
}
_COMPONENT_TYPES = {
    "TextArea": "textarea",
    "DatePicker": "date",
    "CalendarPicker": "date",
    "Dropdown": "select",
    "RadioButtonsGroup": "radio",
    "CheckboxGroup": "checkbox",
    "ChipsSelector": "checkbox",
    "OptIn": "optin",
}
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FREEFORM_FIELD = "fields"


@dataclass(frozen=True)
class Option:
    """One choice of a select, radio or checkbox field (a ``data-source`` item)."""

    id: str
    title: str


@dataclass(frozen=True)
class FieldSpec:
    """One input of a form: ``name`` is the key in ``${form.<name>}``; ``type`` is one of
    :data:`FIELD_TYPES`."""

    name: str
    label: str
    type: str
    required: bool = False
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class FormSpec:
    """One screen of a Flow as a form.

    ``action`` is what submitting does: ``complete``, ``navigate`` (to ``next_screen``),
    ``data_exchange``, or ``freeform`` (no Flow JSON: the ``key=value`` lines are the
    response). ``payload`` is the action's payload with its ``${...}`` references unresolved;
    ``data`` is the screen's data (given, else the Flow JSON's ``__example__`` values).
    """

    title: str
    submit: str
    fields: tuple[FieldSpec, ...] = ()
    note: str | None = None
    screen: str | None = None
    action: str = "complete"
    next_screen: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FormResult:
    """What submitting a form does. ``kind`` is ``complete`` (``response`` is the Flow's
    response, to send as an ``nfm_reply``), ``navigate`` (open ``screen`` with ``data``) or
    ``data_exchange`` (``message`` says why the simulator cannot go on)."""

    kind: str
    response: dict[str, Any] | None = None
    screen: str | None = None
    data: dict[str, Any] | None = None
    message: str | None = None


# -- reading Flow JSON ----------------------------------------------------------------------


def form_for(
    flow_json: Mapping[str, Any] | None,
    *,
    screen: str | None,
    data: Mapping[str, Any] | None,
    cta: str,
) -> FormSpec:
    """The form of ``screen`` (the Flow's first screen when None) of ``flow_json``, with
    ``data`` as the screen's data; ``cta`` (the Flow message's button) titles it when the
    screen has no title. With no Flow JSON, or a screen it does not have, a freeform form."""
    if not isinstance(flow_json, Mapping):
        return _freeform(
            cta,
            screen,
            data,
            "The Flow JSON was not found, so this form is freeform: one key=value per line "
            "becomes the Flow's response. To see the real form, save the Flow JSON as "
            "<flow_name>.json or <flow_id>.json in a directory and pass --flows DIR.",
        )
    screens = [s for s in _list(flow_json.get("screens")) if isinstance(s, Mapping)]
    found = _pick_screen(screens, screen)
    if found is None:
        where = f"screen {screen!r}" if screen else "a first screen"
        return _freeform(
            cta,
            screen,
            data,
            f"The Flow JSON has no {where}, so this form is freeform: one key=value per line "
            "becomes the Flow's response.",
        )
    screen_data = _screen_data(found, data)
    fields: list[FieldSpec] = []
    footer: Mapping[str, Any] | None = None
    for component in _components(_map(found.get("layout")).get("children")):
        kind = component.get("type")
        if kind == "Footer" and footer is None:
            footer = component
            continue
        spec = _field(component, screen_data)
        if spec is not None:
            fields.append(spec)
    footer = footer or {}
    action = _map(footer.get("on-click-action"))
    action_name = _str(action.get("name")) or "complete"
    next_screen = _str(_map(action.get("next")).get("name"))
    note = None
    if action_name == "data_exchange":
        note = (
            "Submitting this screen asks the bot's Flow endpoint (data_exchange), which the "
            "simulator cannot call: test that part with the endpoint's own tests."
        )
    elif action_name not in ("complete", "navigate"):
        note = f"The screen's action {action_name!r} is not simulated."
    title = _display(found.get("title"), screen_data) or cta
    return FormSpec(
        title=title,
        submit=_display(footer.get("label"), screen_data) or cta,
        fields=tuple(fields),
        note=note,
        screen=_str(found.get("id")),
        action=action_name,
        next_screen=next_screen,
        payload=dict(_map(action.get("payload"))),
        data=screen_data,
    )


def _freeform(cta: str, screen: str | None, data: Mapping[str, Any] | None, note: str) -> FormSpec:
    spec = FieldSpec(
        name=FREEFORM_FIELD, label="key=value, one per line (or separated by ;)", type="textarea"
    )
    return FormSpec(
        title=cta,
        submit="Send",
        fields=(spec,),
        note=note,
        screen=screen,
        action="freeform",
        data=dict(data) if isinstance(data, Mapping) else {},
    )


def _pick_screen(screens: list[Mapping[str, Any]], screen: str | None) -> Mapping[str, Any] | None:
    if screen:
        return next((s for s in screens if s.get("id") == screen), None)
    # The first screen the user sees: the first in the file that is not Meta's reserved one.
    return next((s for s in screens if s.get("id") != "SUCCESS"), None)


def _screen_data(screen: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, declared in _map(screen.get("data")).items():
        if isinstance(declared, Mapping) and "__example__" in declared:
            merged[str(key)] = declared["__example__"]
    if isinstance(data, Mapping):
        merged.update({str(k): v for k, v in data.items()})
    return merged


def _components(children: Any) -> list[Mapping[str, Any]]:
    """The components of a layout in order, with those inside a ``Form`` (or another
    container with ``children``) flattened in."""
    found: list[Mapping[str, Any]] = []
    stack = [iter(_list(children))]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if not isinstance(child, Mapping) or child.get("visible") is False:
            continue
        nested = child.get("children")
        if isinstance(nested, list) and child.get("type") != "Footer" and len(stack) < 20:
            stack.append(iter(nested))
            continue
        found.append(child)
    return found


def _field(component: Mapping[str, Any], data: Mapping[str, Any]) -> FieldSpec | None:
    kind = component.get("type")
    name = _str(component.get("name"))
    if not name or not isinstance(kind, str):
        return None
    if kind == "TextInput":
        field_type = _INPUT_TYPES.get(_str(component.get("input-type")) or "text", "text")
    elif kind in _COMPONENT_TYPES:
        field_type = _COMPONENT_TYPES[kind]
    else:
        return None  # text, images, pickers of media: nothing to type in
    options: tuple[Option, ...] = ()
    if field_type in ("select", "radio", "checkbox"):
        options = _options(component.get("data-source"), data)
    label = _display(component.get("label"), data) or name
    required = _resolve(component.get("required"), {}, data)
    return FieldSpec(
        name=name, label=label, type=field_type, required=required is True, options=options
    )


def _options(source: Any, data: Mapping[str, Any]) -> tuple[Option, ...]:
    items = _resolve(source, {}, data)
    options: list[Option] = []
    for item in _list(items):
        if isinstance(item, Mapping) and item.get("id") is not None:
            if item.get("enabled") is False:
                continue
            option_id = str(item["id"])
            options.append(Option(option_id, _str(item.get("title")) or option_id))
    return tuple(options)


def _display(value: Any, data: Mapping[str, Any]) -> str | None:
    resolved = _resolve(value, {}, data)
    if resolved is None or isinstance(resolved, Mapping | list):
        return None
    return str(resolved)


# -- submitting -----------------------------------------------------------------------------


def submit(spec: FormSpec, values: Mapping[str, Any]) -> FormResult:
    """Check ``values`` (field name → value) against ``spec`` and resolve what submitting does.

    Raises :class:`FormError` for the first field that is wrong. Values come back as WhatsApp
    sends them: text and number inputs as strings, a checkbox group as a list of option ids,
    an opt-in as a boolean.
    """
    if spec.action == "freeform":
        return FormResult("complete", response=_key_values(values.get(FREEFORM_FIELD)))
    form: dict[str, Any] = {}
    for spec_field in spec.fields:
        value = _check(spec_field, values.get(spec_field.name))
        if value is not None:
            form[spec_field.name] = value
    if spec.action == "data_exchange":
        return FormResult(
            "data_exchange",
            message=(
                f"screen {spec.screen or '?'} sends its answers to the bot's Flow endpoint "
                "(data_exchange); the simulator cannot call that encrypted endpoint"
            ),
        )
    payload = _resolve(dict(spec.payload), form, spec.data)
    payload = payload if isinstance(payload, dict) else {}
    if spec.action == "navigate":
        if not spec.next_screen:
            return FormResult(
                "data_exchange", message="the screen navigates, but its Flow JSON names no next"
            )
        return FormResult("navigate", screen=spec.next_screen, data=payload)
    if spec.action != "complete":
        return FormResult(
            spec.action, message=f"the action {spec.action!r} is not simulated; nothing sent"
        )
    return FormResult("complete", response=payload)


def _check(spec: FieldSpec, value: Any) -> Any:
    """The value to send for one field, or None when it is left empty."""
    if spec.type == "optin":
        checked = _truthy(value)
        if spec.required and not checked:
            raise FormError(spec.name, "must be checked")
        return checked
    if spec.type == "checkbox":
        picked = _picked(value)
        if not picked:
            if spec.required:
                raise FormError(spec.name, "pick at least one")
            return None
        ids = [o.id for o in spec.options]
        wrong = [p for p in picked if p not in ids]
        if wrong:
            raise FormError(spec.name, f"{wrong[0]!r} is not one of {', '.join(ids)}")
        return picked
    if value is None or (isinstance(value, str) and not value.strip()):
        if spec.required:
            raise FormError(spec.name, "required")
        return None
    if isinstance(value, Mapping | list | tuple):
        raise FormError(spec.name, "expected a single value")
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    if spec.type == "number":
        try:
            float(text)
        except ValueError:
            raise FormError(spec.name, f"{text!r} is not a number") from None
    elif spec.type == "email" and ("@" not in text or text.startswith("@") or text.endswith("@")):
        raise FormError(spec.name, f"{text!r} is not an email address")
    elif spec.type == "phone" and not re.fullmatch(r"\+?[0-9 ()\-]{3,20}", text):
        raise FormError(spec.name, f"{text!r} is not a phone number")
    elif spec.type == "date":
        if not _DATE.match(text):
            raise FormError(spec.name, f"{text!r} is not a date (YYYY-MM-DD)")
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            raise FormError(spec.name, f"{text!r} is not a date (YYYY-MM-DD)") from None
    elif spec.type in ("select", "radio"):
        ids = [o.id for o in spec.options]
        if text not in ids:
            raise FormError(spec.name, f"{text!r} is not one of {', '.join(ids)}")
    return text


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("y", "yes", "1", "true", "on")
    return value is True or (isinstance(value, int) and value == 1)


def _picked(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list | tuple):
        return [str(p) for p in value if p is not None and str(p).strip()]
    return [str(value)]


def _key_values(text: Any) -> dict[str, Any]:
    response: dict[str, Any] = {}
    if isinstance(text, Mapping):
        return {str(k): v for k, v in text.items()}
    # One pair a line; ";" also separates them, as a terminal gives one line only.
    for line in re.split(r"[\n;]", str(text or "")):
        key, sep, value = line.partition("=")
        if not key.strip():
            continue
        if not sep:
            raise FormError(FREEFORM_FIELD, f"{line.strip()!r}: expected key=value")
        response[key.strip()] = value.strip()
    return response


_MISSING = object()


def _resolve(value: Any, form: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    """``value`` with its ``${form.x}`` and ``${data.x}`` references replaced: a string that
    is one reference becomes the value itself (a list stays a list); references inside a
    longer string are put in as text. Keys whose reference has no value are left out."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            found = _lookup(whole.group(1), form, data)
            return None if found is _MISSING else found

        def text(match: re.Match[str]) -> str:
            found = _lookup(match.group(1), form, data)
            return "" if found is _MISSING or found is None else str(found)

        return _REF.sub(text, value)
    if isinstance(value, Mapping):
        resolved: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, str) and (whole := _REF.fullmatch(item)):
                found = _lookup(whole.group(1), form, data)
                if found is _MISSING:
                    continue
                resolved[str(key)] = found
            else:
                resolved[str(key)] = _resolve(item, form, data)
        return resolved
    if isinstance(value, list):
        return [_resolve(item, form, data) for item in value]
    return value


def _lookup(path: str, form: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    parts = path.split(".")
    if parts[0] == "screen" and len(parts) >= 4:
        parts = parts[2:]  # ${screen.NAME.form.x}: only this screen's answers are known here
    root: Any
    if parts[0] == "form":
        root = form
    elif parts[0] == "data":
        root = data
    else:
        return _MISSING
    for part in parts[1:]:
        if not isinstance(root, Mapping) or part not in root:
            return _MISSING
        root = root[part]
    return root


# -- the reply --------------------------------------------------------------------------------


def nfm_reply(
    response: Mapping[str, Any], *, flow_token: str | None, body: str = "Sent"
) -> dict[str, Any]:
    """The fields of the inbound message a completed Flow sends the bot (reference/cloudapi.md
    §3): ``response_json`` is a JSON *string* of ``response`` plus the ``flow_token``."""
    content = {str(k): v for k, v in response.items()}
    if flow_token is not None:
        content["flow_token"] = flow_token
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)
    return {
        "type": "interactive",
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": body, "response_json": encoded},
        },
    }


# -- reading JSON safely ----------------------------------------------------------------------
