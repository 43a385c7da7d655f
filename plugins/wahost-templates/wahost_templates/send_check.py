"""Sends checked against the template's last pulled definition.

A :class:`wahost.outbound.Template` names a template and fills its parameters; Meta finds a
wrong parameter name or count, a missing header or a button that is not there only after the
send (``(#132000)`` and its neighbours, reference/cloudapi.md §7). :func:`check_send` finds
them first, against the snapshot that ``wahost templates pull`` (or ``diff``, ``push``,
``status``) saved, and raises :class:`TemplateSendError` naming the field of the send::

    from wahost_templates import checked
    await ctx.reply(checked(host, Template("order_update", "en_US", components=[...])))

Checked: the template and language exist at the last pull (with the closest name when not);
a header is given exactly when the definition's header takes a value (a TEXT header with a
parameter, or a media or LOCATION header) and of the right kind; the body's parameters match
the definition's, by count when positional and by name when named (a typo names the closest
parameter); each button component names a button of the template at its index, of the same
type, and a URL button only when its URL has a parameter. Not checked: the values themselves,
carousel cards and limited-time offer parameters, and the review status (the snapshot may be
older than the approval: the send goes on).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost.errors import WahostError
from wahost.outbound import (
    Document,
    Image,
    Location,
    MarketingTemplate,
    Outbound,
    Template,
    TemplateBody,
    TemplateButton,
    TemplateHeader,
    Video,
)
from wahost.slots import SlotKey
from wahost_templates.config import TemplatesConfig
from wahost_templates.files import SNAPSHOT, read_snapshot
from wahost_templates.rules import parameters

if TYPE_CHECKING:
    from wahost import Wahost
    from wahost.graph import SendCheck

__all__ = ["TemplateCatalog", "TemplateSendError", "check_send", "checked", "send_check"]

_MEDIA = {"IMAGE": Image, "VIDEO": Video, "DOCUMENT": Document, "LOCATION": Location}
_SUB_TYPES = {
    "quick_reply": ("QUICK_REPLY",),
    # An authentication template's OTP button is listed as URL and filled as one.
    "url": ("URL", "OTP"),
    "flow": ("FLOW",),
    "copy_code": ("COPY_CODE",),
    "catalog": ("CATALOG",),
    "mpm": ("MPM",),
}


class TemplateSendError(WahostError, ValueError):
    """A template send does not fit the template's last pulled definition. ``key`` is the
    field of the send (``components[1].parameters[0].parameter_name``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _closest(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


class TemplateCatalog:
    """The templates of a snapshot, by (name, language); reread when the file changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._mtime: float | None = None
        self._templates: dict[tuple[str, str], dict[str, Any]] = {}

    def templates(self) -> dict[tuple[str, str], dict[str, Any]]:
        path = self.directory / SNAPSHOT
        mtime = path.stat().st_mtime if path.is_file() else None
        if mtime != self._mtime:
            live = read_snapshot(self.directory) or []
            self._templates = {(str(t.get("name")), str(t.get("language"))): t for t in live}
            self._mtime = mtime
        return self._templates

    def check(self, template: Template) -> None:
        """Raise :class:`TemplateSendError` when ``template`` does not fit its definition."""
        known = self.templates()
        if not known:
            raise TemplateSendError(
                "name",
                f"no templates pulled yet ({self.directory / SNAPSHOT} is missing or empty): "
                "run wahost templates pull",
            )
        definition = known.get((template.name, template.language))
        if definition is None:
            languages = sorted(lang for name, lang in known if name == template.name)
            if languages:
                raise TemplateSendError(
                    "language",
                    f"{template.name} has no {template.language} at the last pull "
                    f"(it has {', '.join(languages)})",
                )
            names = sorted({name for name, _ in known})
            raise TemplateSendError(
                "name",
                f"no template {template.name!r} at the last pull{_closest(template.name, names)}",
            )
        check_send(template, definition)


def _components(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(c.get("type", "")).upper(): c
        for c in definition.get("components") or []
        if isinstance(c, dict)
    }


def check_send(template: Template, definition: dict[str, Any]) -> None:
    """Check ``template`` against one template language as Meta lists it."""
    parts = _components(definition)
    where = f"{definition.get('name')} ({definition.get('language')})"
    header = parts.get("HEADER")
    header_format = str(header.get("format", "")).upper() if header else ""
    header_params = parameters(header.get("text")) if header and header_format == "TEXT" else []
    takes_header = bool(header_params) or header_format in _MEDIA
    body_params = list(dict.fromkeys(parameters((parts.get("BODY") or {}).get("text"))))
    buttons = [b for b in (parts.get("BUTTONS") or {}).get("buttons") or [] if isinstance(b, dict)]
    gave_header = gave_body = False
    for index, component in enumerate(template.components):
        key = f"components[{index}]"
        if isinstance(component, TemplateHeader):
            gave_header = True
            _check_header(key, component, header_format, header_params, where)
        elif isinstance(component, TemplateBody):
            gave_body = True
            _check_values(f"{key}.parameters", component.parameters, body_params, where, "body")
        elif isinstance(component, TemplateButton):
            auth = str(definition.get("category", "")).upper() == "AUTHENTICATION"
            _check_button(key, component, buttons, where, auth)
    if takes_header and not gave_header:
        what = "a text parameter" if header_format == "TEXT" else f"a {header_format.lower()}"
        raise TemplateSendError("components", f"the header of {where} needs {what}")
    if body_params and not gave_body:
        raise TemplateSendError(
            "components", f"the body of {where} needs {len(body_params)} parameter(s)"
        )


def _check_header(key: str, header: TemplateHeader, fmt: str, names: list[str], where: str) -> None:
    value = header.parameter
    if fmt in _MEDIA:
        if not isinstance(value, _MEDIA[fmt]):
            raise TemplateSendError(
                f"{key}.parameter", f"the header of {where} is {fmt}: send a {fmt.lower()}"
            )
        return
    if not names:
        raise TemplateSendError(key, f"the header of {where} takes no parameter")
    if isinstance(value, Image | Video | Document | Location):
        raise TemplateSendError(f"{key}.parameter", f"the header of {where} is text")
    _check_values(key, [value], names, where, "header")


def _check_values(key: str, values: list[Any], names: list[str], where: str, what: str) -> None:
    named = [getattr(v, "parameter_name", None) for v in values]
    expected_named = bool(names) and not all(name.isdigit() for name in names)
    if not names:
        raise TemplateSendError(key, f"the {what} of {where} takes no parameters")
    if expected_named:
        for index, name in enumerate(named):
            if name is None:
                raise TemplateSendError(
                    f"{key}[{index}]",
                    f"the {what} of {where} has named parameters ({', '.join(names)}): "
                    "give parameter_name",
                )
            if name not in names:
                raise TemplateSendError(
                    f"{key}[{index}].parameter_name",
                    f"{name!r} is not a parameter of the {what} of {where}{_closest(name, names)}",
                )
        missing = [name for name in names if name not in named]
        if missing:
            raise TemplateSendError(key, f"no value for {{{{{missing[0]}}}}} of the {what}")
        return
    if any(name is not None for name in named):
        raise TemplateSendError(
            key, f"the {what} of {where} has positional parameters: leave parameter_name out"
        )
    if len(values) != len(names):
        raise TemplateSendError(
            key, f"the {what} of {where} takes {len(names)} parameter(s), got {len(values)}"
        )


def _check_button(
    key: str, button: TemplateButton, buttons: list[Any], where: str, auth: bool
) -> None:
    if button.index >= len(buttons):
        raise TemplateSendError(
            f"{key}.index", f"{where} has {len(buttons)} button(s), no index {button.index}"
        )
    defined = buttons[button.index]
    kind = str(defined.get("type", "")).upper()
    allowed = _SUB_TYPES.get(button.sub_type)
    if allowed is not None and kind not in allowed:
        raise TemplateSendError(
            f"{key}.sub_type",
            f"button {button.index} of {where} is {kind}, not {button.sub_type}",
        )
    # An authentication template's code goes in its OTP button's URL, which has no {{1}}.
    if kind == "URL" and not auth and not parameters(defined.get("url")):
        raise TemplateSendError(
            key, f"the URL of button {button.index} of {where} has no parameter to fill"
        )


#: The host's catalog of pulled templates, made on the first :func:`checked`.
_CATALOG: SlotKey[TemplateCatalog] = SlotKey("templates.catalog")


def checked(host: Wahost, template: Template) -> Template:
    """``template`` unchanged when it fits its last pulled definition (in the folder of
    ``[plugins.templates] dir``); else :class:`TemplateSendError`."""
    settings = host.plugin_config("templates", TemplatesConfig)
    catalog = host.slots.setdefault(
        _CATALOG, lambda: TemplateCatalog(settings.directory(host.config.base_dir))
    )
    catalog.check(template)
    return template


def send_check(host: Wahost) -> SendCheck | None:
    """The check of every send (``wahost_send_checks``): a :class:`Template` (also inside a
    :class:`MarketingTemplate`) is checked against the last pull's snapshot, when one exists;
    without one (templates made in WhatsApp Manager, never pulled) sends are not checked.
    ``None`` when ``[plugins.templates] check_sends`` is false."""
    settings = host.plugin_config("templates", TemplatesConfig)
    if not settings.check_sends:
        return None
    catalog = TemplateCatalog(settings.directory(host.config.base_dir))

    def check(to: str, message: Outbound) -> None:
        template = message.template if isinstance(message, MarketingTemplate) else message
        if isinstance(template, Template) and catalog.templates():
            catalog.check(template)

    return check
