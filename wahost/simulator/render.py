"""What a bot sent, as a simulated user sees it, and what picking one of its choices sends back.

:func:`render` reads a request body the bot POSTed to ``/<phone_number_id>/messages`` (Meta's
wire format, reference/cloudapi.md §6) into an :class:`Outgoing`: its text, header, footer,
media, the choices a user can pick (reply buttons, list rows, a template's quick replies, a
location request, a Flow's form) and, for each choice, the inbound message fields Meta would
deliver to the bot when the user picks it (§3). :func:`to_json` gives the browser's item and
:func:`to_text` the terminal's lines. Nothing here does I/O, and :func:`render` never raises:
a body it cannot read becomes kind ``"unknown"`` with a short dump of the JSON.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wahost.outbound.parse import (
    MEDIA_TYPES,
    BodyInteractive,
    BodyLocation,
    BodyMedia,
    BodyTemplate,
    location_of,
    media_of,
    parse_message_body,
)
from wahost.outbound.parse import as_list as _list
from wahost.outbound.parse import as_map as _map
from wahost.outbound.parse import as_text as _str
from wahost.simulator.flowform import FormSpec, form_for

__all__ = [
    "KINDS",
    "LOCATION_REPLY",
    "Choice",
    "LocationRef",
    "MediaRef",
    "Outgoing",
    "ReactionRef",
    "render",
    "to_json",
    "to_text",
]

KINDS = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "template",
    "interactive",
    "flow",
    "unknown",
)

#: Where the simulated user is when they answer a location request (Meta's sample place).
LOCATION_REPLY: dict[str, Any] = {
    "latitude": 37.44221496582,
    "longitude": -122.16165924072,
    "name": "Philz Coffee",
    "address": "101 Forest Ave, Palo Alto, CA 94301",
}
_DUMP_MAX = 300


@dataclass(frozen=True)
class Choice:
    """Something the user can pick: ``n`` counts from 1 over the message's choices.

    ``reply`` is the type-specific part of the inbound message that picking it sends
    (``{"type": "interactive", "interactive": {...}}``); the simulator adds ``from``, ``id``,
    ``timestamp`` and a ``context`` naming the bot's message. An empty ``reply`` means the
    choice opens the message's form instead. ``section`` is a list row's section title.
    """

    n: int
    label: str
    description: str | None
    reply: dict[str, Any]
    section: str | None = None


@dataclass(frozen=True)
class MediaRef:
    """An image, video, audio, document or sticker: ``name`` is the file name, else the last
    part of the link, else the media id."""

    type: str
    name: str
    caption: str | None = None
    id: str | None = None
    link: str | None = None
    voice: bool = False


@dataclass(frozen=True)
class ReactionRef:
    """A reaction to the message ``to``; ``emoji`` ``""`` removes it."""

    emoji: str
    to: str


@dataclass(frozen=True)
class LocationRef:
    """A place; coordinates are None when the bot sent something that is not a number."""

    latitude: float | None
    longitude: float | None
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message the bot sent, rendered. ``kind`` is one of :data:`KINDS`; ``raw`` is the
    request body as sent; ``context_id`` the wamid it quotes. A Flow message (or a template
    with a Flow button) keeps ``flow_token``, ``flow_id`` and ``flow_name`` for the reply."""

    id: str
    to: str
    kind: str
    text: str | None = None
    header: str | None = None
    footer: str | None = None
    media: MediaRef | None = None
    choices: list[Choice] = field(default_factory=list)
    choices_label: str | None = None
    form: FormSpec | None = None
    reaction: ReactionRef | None = None
    location: LocationRef | None = None
    context_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    flow_token: str | None = None
    flow_id: str | None = None
    flow_name: str | None = None
    url: str | None = None


# -- render -----------------------------------------------------------------------------------


def render(
    body: Mapping[str, Any],
    *,
    wamid: str,
    flows: Mapping[str, Mapping[str, Any]] | None = None,
) -> Outgoing:
    """The message ``body`` (a ``/messages`` request body) sent as ``wamid``, rendered.

    ``flows`` maps a Flow's name or id to its Flow JSON, so a Flow message opens as the real
    form. Never raises: what cannot be read becomes kind ``"unknown"``.
    """
    if not isinstance(body, Mapping):
        return _unknown(body, wamid)
    try:
        return _render(body, str(wamid), flows if isinstance(flows, Mapping) else {})
    except Exception:  # a body of unexpected shapes: show it rather than lose it
        return _unknown(body, wamid)


def _render(body: Mapping[str, Any], wamid: str, flows: Mapping[str, Any]) -> Outgoing:
    message = parse_message_body(body)
    if message is None:
        return _unknown(body, wamid)
    common: dict[str, Any] = {
        "id": wamid,
        "to": message.to or "",
        "context_id": message.context_id,
        "raw": body,
    }
    kind = message.type
    if kind == "text":
        if message.text is None:
            return _unknown(body, wamid)
        return Outgoing(kind="text", text=message.text, **common)
    if message.media is not None:
        media = _media(message.media)
        if media is None:
            return _unknown(body, wamid)
        return Outgoing(kind=kind, media=media, text=media.caption, **common)
    if message.location is not None:
        location = _location(message.location)
        return Outgoing(kind="location", location=location, text=_place(location), **common)
    if message.contacts is not None:
        return Outgoing(kind="contacts", text=_contacts(message.contacts), **common)
    if message.reaction is not None:
        to = message.reaction.message_id
        if to is None:
            return _unknown(body, wamid)
        reaction = ReactionRef(message.reaction.emoji or "", to)
        return Outgoing(kind="reaction", reaction=reaction, **common)
    if message.template is not None:
        return _template(message.template, common, flows) or _unknown(body, wamid)
    if message.interactive is not None:
        return _interactive(message.interactive, common, flows) or _unknown(body, wamid)
    return _unknown(body, wamid)


def _unknown(body: Any, wamid: Any) -> Outgoing:
    try:
        dumped = json.dumps(body, ensure_ascii=False, default=repr, sort_keys=False)
    except Exception:  # recursion, a key that is not a string, ...
        try:
            dumped = repr(body)
        except Exception:
            dumped = "<a body that cannot be shown>"
    if len(dumped) > _DUMP_MAX:
        dumped = dumped[: _DUMP_MAX - 1] + "…"
    to = body.get("to") if isinstance(body, Mapping) else None
    return Outgoing(
        id=str(wamid),
        to=to if isinstance(to, str) else "",
        kind="unknown",
        text=dumped,
        raw=body if isinstance(body, Mapping) else {},
    )


def _media(media: BodyMedia) -> MediaRef | None:
    name = media.name
    if not name:
        return None
    return MediaRef(
        type=media.type,
        name=name,
        caption=media.caption,
        id=media.id,
        link=media.link,
        voice=media.voice,
    )


def _location(location: BodyLocation) -> LocationRef:
    return LocationRef(
        latitude=location.latitude,
        longitude=location.longitude,
        name=location.name,
        address=location.address,
    )


def _place(location: LocationRef) -> str:
    words = ", ".join(w for w in (location.name, location.address) if w)
    coordinates = f"({_coordinate(location.latitude)}, {_coordinate(location.longitude)})"
    return f"{words} {coordinates}" if words else coordinates


def _coordinate(value: float | None) -> str:
    return "?" if value is None else f"{value:.5f}".rstrip("0").rstrip(".")


def _contacts(cards: list[Mapping[str, Any]]) -> str:
    lines = []
    for card in cards:
        name = _map(card.get("name"))
        shown = _str(name.get("formatted_name")) or " ".join(
            w for w in (_str(name.get("first_name")), _str(name.get("last_name"))) if w
        )
        phones = [_str(_map(p).get("phone")) for p in _list(card.get("phones"))]
        numbers = ", ".join(p for p in phones if p)
        lines.append(f"{shown or 'contact'}: {numbers}" if numbers else shown or "contact")
    return "\n".join(lines) or "contacts"


# -- templates --------------------------------------------------------------------------------


def _template(
    template: BodyTemplate, common: dict[str, Any], flows: Mapping[str, Any]
) -> Outgoing | None:
    name = template.name
    if not name:
        return None
    language = template.language
    values: list[str] = []
    buttons: list[str] = []
    choices: list[Choice] = []
    media: MediaRef | None = None
    location: LocationRef | None = None
    header: str | None = None
    form: FormSpec | None = None
    flow_token: str | None = None
    for component in template.components:
        part = _str(component.get("type"))
        parameters = [_map(p) for p in _list(component.get("parameters"))]
        if part == "header":
            for parameter in parameters:
                ptype = _str(parameter.get("type")) or ""
                if ptype in MEDIA_TYPES and isinstance(parameter.get(ptype), Mapping):
                    media = _media(media_of(ptype, parameter[ptype])) or media
                elif ptype == "location" and isinstance(parameter.get("location"), Mapping):
                    location = _location(location_of(parameter["location"]))
                elif (value := _parameter_text(parameter)) is not None:
                    header = value if header is None else f"{header} · {value}"
        elif part == "body":
            values.extend(v for p in parameters if (v := _parameter_text(p)) is not None)
        elif part == "button":
            sub_type = (_str(component.get("sub_type")) or "").lower()
            index = _str(component.get("index")) or "?"
            first = parameters[0] if parameters else {}
            if sub_type == "quick_reply":
                payload = _str(first.get("payload")) or _str(first.get("text")) or ""
                reply = {"type": "button", "button": {"payload": payload, "text": payload}}
                choices.append(Choice(len(choices) + 1, payload or f"button {index}", None, reply))
            elif sub_type == "flow":
                action = _map(first.get("action"))
                flow_token = _str(action.get("flow_token")) or "unused"
                data = action.get("flow_action_data")
                # A template does not name its Flow: look it up by the template's name.
                form = form_for(
                    _map(flows.get(name)) or None,
                    screen=None,
                    data=data if isinstance(data, Mapping) else None,
                    cta=name,
                )
                choices.append(Choice(len(choices) + 1, f"Open: {form.title}", None, {}))
            else:
                value = _parameter_text(first) or ""
                buttons.append(
                    f"[{sub_type or 'button'} button {index}: {value}]".replace(": ]", "]")
                )
        elif part:
            buttons.append(f"[{part}]")
    text = f"template {name}"
    if language:
        text += f" ({language})"
    if values:
        text += ": " + " · ".join(values)
    if location is not None:
        text += "\n" + _place(location)
    if buttons:
        text += "\n" + "\n".join(buttons)
    return Outgoing(
        kind="template",
        text=text,
        header=header,
        media=media,
        location=location,
        choices=choices,
        form=form,
        flow_token=flow_token,
        flow_name=name if form is not None else None,
        **common,
    )


def _parameter_text(parameter: Mapping[str, Any]) -> str | None:
    ptype = _str(parameter.get("type"))
    if ptype == "text":
        return _str(parameter.get("text"))
    if ptype in ("currency", "date_time"):
        return _str(_map(parameter.get(ptype)).get("fallback_value"))
    if ptype == "payload":
        return _str(parameter.get("payload"))
    if ptype == "coupon_code":
        return _str(parameter.get("coupon_code"))
    if ptype and isinstance(parameter.get(ptype), str | int | float):
        return str(parameter[ptype])
    return None


# -- interactive messages ---------------------------------------------------------------------


def _interactive(
    interactive: BodyInteractive, common: dict[str, Any], flows: Mapping[str, Any]
) -> Outgoing | None:
    itype = interactive.type
    body = interactive.body
    media = _media(interactive.header_media) if interactive.header_media is not None else None
    action = interactive.action
    frame: dict[str, Any] = {
        "text": body,
        "header": interactive.header_text,
        "footer": interactive.footer,
        "media": media,
    }
    frame.update(common)

    choices: list[Choice] = []
    if itype == "button":
        for button in interactive.buttons:
            answer = {"id": button.id, "title": button.title}
            choices.append(
                Choice(
                    len(choices) + 1,
                    button.title,
                    None,
                    {
                        "type": "interactive",
                        "interactive": {"type": "button_reply", "button_reply": answer},
                    },
                )
            )
        return Outgoing(kind="interactive", choices=choices, **frame) if choices else None
    if itype == "list":
        for row in interactive.rows:
            answer = {"id": row.id, "title": row.title}
            if row.description is not None:
                answer["description"] = row.description
            reply = {
                "type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": answer},
            }
            choices.append(Choice(len(choices) + 1, row.title, row.description, reply, row.section))
        if not choices:
            return None
        label = interactive.list_button
        return Outgoing(kind="interactive", choices=choices, choices_label=label, **frame)
    if itype == "cta_url":
        parameters = _map(action.get("parameters"))
        url = _str(parameters.get("url"))
        if url is None:
            return None
        shown = _str(parameters.get("display_text")) or "Open"
        frame["text"] = _lines(body, f"[{shown}: {url}]")
        return Outgoing(kind="interactive", url=url, **frame)
    if itype == "location_request_message":
        reply = {"type": "location", "location": dict(LOCATION_REPLY)}
        choices = [Choice(1, "Send location", None, reply)]
        return Outgoing(kind="interactive", choices=choices, **frame)
    if itype == "flow":
        return _flow(action, frame, flows)
    if itype in ("product", "product_list", "catalog_message"):
        frame["text"] = _lines(body, _commerce(itype, action))
        return Outgoing(kind="interactive", **frame)
    described = _call_or_cards(itype, action)
    if described is not None:
        frame["text"] = _lines(body, described)
        return Outgoing(kind="interactive", **frame)
    return None


def _call_or_cards(itype: str | None, action: Mapping[str, Any]) -> str | None:
    """A line for a carousel's cards, a voice-call button, a call permission request or a
    contact-information request (reference/cloudapi.md §17, §13.5): what the user would see,
    as text (the simulator cannot call, and a card is not a choice)."""
    if itype == "carousel":
        lines = []
        for number, card in enumerate(_list(action.get("cards")), start=1):
            card = _map(card)
            if card.get("type") == "product":
                product = _str(_map(card.get("action")).get("product_retailer_id")) or "?"
                lines.append(f"[card {number}: product {product}]")
                continue
            text = _str(_map(card.get("body")).get("text"))
            parameters = _map(_map(card.get("action")).get("parameters"))
            button = f"{_str(parameters.get('display_text')) or 'Open'}: {parameters.get('url')}"
            lines.append(f"[card {number}: {text + ' · ' if text else ''}{button}]")
        return "\n".join(lines) or None
    if itype == "voice_call":
        label = _str(_map(action.get("parameters")).get("display_text"))
        return f"[call button: {label}]" if label else None
    if itype == "call_permission_request":
        return "[asks permission to call you]"
    if itype == "request_contact_info":
        return "[asks for your phone number]"
    return None


def _flow(
    action: Mapping[str, Any], frame: dict[str, Any], flows: Mapping[str, Any]
) -> Outgoing | None:
    parameters = _map(action.get("parameters"))
    cta = _str(parameters.get("flow_cta"))
    if cta is None:
        return None
    flow_id = _str(parameters.get("flow_id"))
    flow_name = _str(parameters.get("flow_name"))
    flow_json = None
    for key in (flow_name, flow_id):
        if key and isinstance(flows.get(key), Mapping):
            flow_json = flows[key]
            break
    payload = _map(parameters.get("flow_action_payload"))
    data = payload.get("data")
    form = form_for(
        flow_json,
        screen=_str(payload.get("screen")),
        data=data if isinstance(data, Mapping) else None,
        cta=cta,
    )
    return Outgoing(
        kind="flow",
        choices=[Choice(1, f"Open: {cta}", None, {})],
        form=form,
        # Meta uses "unused" when the bot sends no token (reference/cloudapi.md §6).
        flow_token=_str(parameters.get("flow_token")) or "unused",
        flow_id=flow_id,
        flow_name=flow_name,
        **frame,
    )


def _commerce(itype: str, action: Mapping[str, Any]) -> str:
    catalog = _str(action.get("catalog_id"))
    if itype == "product":
        product = _str(action.get("product_retailer_id")) or "?"
        return f"[product {product}" + (f" from catalog {catalog}]" if catalog else "]")
    if itype == "product_list":
        lines = [f"[products of catalog {catalog or '?'}]"]
        for section in _list(action.get("sections")):
            section = _map(section)
            items = [
                _map(i).get("product_retailer_id") for i in _list(section.get("product_items"))
            ]
            names = ", ".join(str(i) for i in items if isinstance(i, str | int))
            lines.append(f"{_str(section.get('title')) or 'products'}: {names}")
        return "\n".join(lines)
    return "[catalog]"


# -- to_json / to_text ------------------------------------------------------------------------


def to_json(
    o: Outgoing, *, seq: int, status: str | None, time: float, sender: str = "bot"
) -> dict[str, Any]:
    """The browser's item for ``o``: always the same keys, ``null`` where there is nothing."""
    media = None
    if o.media is not None:
        media = {"type": o.media.type, "name": o.media.name, "caption": o.media.caption}
    form = None
    if o.form is not None:
        form = {
            "title": o.form.title,
            "submit": o.form.submit,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "type": f.type,
                    "required": f.required,
                    "options": [{"id": opt.id, "title": opt.title} for opt in f.options],
                }
                for f in o.form.fields
            ],
            "note": o.form.note,
        }
    reaction = None
    if o.reaction is not None:
        reaction = {"emoji": o.reaction.emoji, "to": o.reaction.to}
    return {
        "seq": seq,
        "id": o.id,
        "from": sender,
        "kind": o.kind,
        "text": o.text,
        "header": o.header,
        "footer": o.footer,
        "media": media,
        "choices": [{"n": c.n, "label": c.label, "description": c.description} for c in o.choices],
        "choices_label": o.choices_label,
        "form": form,
        "reaction": reaction,
        "status": status,
        "time": time,
    }


def to_text(o: Outgoing, *, width: int = 72) -> str:
    """``o`` as plain terminal lines (no colour: the caller adds it), wrapped to ``width``."""
    width = max(width, 20)
    lines: list[str] = []
    if o.context_id:
        lines.append(f"↪ reply to {short_id(o.context_id)}")
    if o.header:
        lines.extend(_wrap(o.header, width))
    if o.reaction is not None:
        if o.reaction.emoji:
            lines.append(f"reacted {o.reaction.emoji} to {short_id(o.reaction.to)}")
        else:
            lines.append(f"removed the reaction to {short_id(o.reaction.to)}")
        return "\n".join(lines)
    if o.media is not None:
        label = o.media.type + (" (voice)" if o.media.voice else "")
        shown = f"[{label}: {o.media.name}]"
        if o.kind in MEDIA_TYPES and o.media.caption:
            shown += f" {o.media.caption}"
        lines.extend(_wrap(shown, width))
    if o.location is not None and o.kind == "location":
        lines.extend(_wrap(f"[location: {_place(o.location)}]", width))
    elif o.text and o.kind not in MEDIA_TYPES:
        lines.extend(_wrap(o.text, width))
    if o.footer:
        lines.extend(_wrap(o.footer, width))
    if o.choices_label:
        lines.append(f"[{o.choices_label}]")
    section: str | None = None
    for choice in o.choices:
        if choice.section and choice.section != section:
            section = choice.section
            lines.append(f"  {section}")
        indent = "    " if section else "  "
        shown = f"{choice.n}) {choice.label}"
        if choice.description:
            shown += f" — {choice.description}"
        lines.append(indent + shown)
    if o.form is not None:
        n = next((c.n for c in o.choices if not c.reply), None)
        how = f"pick {n} to fill it in" if n is not None else "/form to fill it in"
        lines.append(f"[form: {o.form.title} — {how}]")
    return "\n".join(lines)


def short_id(wamid: str) -> str:
    """A few characters that tell wamids apart (their start is the same for one user)."""
    core = wamid.removeprefix("wamid.").rstrip("=")
    return "…" + core[-10:-2] if len(core) > 12 else wamid


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(
            textwrap.wrap(paragraph, width, break_on_hyphens=False, break_long_words=False) or [""]
        )
    return lines


def _lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)
