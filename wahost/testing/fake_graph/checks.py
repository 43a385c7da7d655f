"""Meta-like validation of request bodies: what the fake answers 400 (code 100) to."""

from __future__ import annotations

from typing import Any

from wahost.testing.fake_graph.catalogue import error_body
from wahost.testing.fake_graph.wire import Recorded, _graph_error, _json_response, _Response

_MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
_MESSAGE_TYPES = _MEDIA_TYPES | {
    "text", "location", "contacts", "interactive", "template", "reaction", "pin"
}  # fmt: skip
#: What a group takes (reference/cloudapi.md §12.1, §12.3): text, media, templates, pins.
_GROUP_TYPES = _MEDIA_TYPES | {"text", "template", "pin"}


def _invalid(details: str) -> _Response:
    return _json_response(error_body(100, details=details), 400)


def _no_object(method: str, node: str) -> _Response:
    message = (
        f"Unsupported {method} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return _graph_error(400, 100, message, error_subcode=33)


def _not_found(r: Recorded) -> _Response:
    return _graph_error(404, 100, f"(#100) Unknown path components: {r.method} {r.path}")


def _check_object(kind: str, obj: Any) -> str | None:
    """What is wrong with the object of a message of type ``kind`` (§6), minimally."""
    if kind == "contacts":
        if not isinstance(obj, list) or not obj:
            return "Param contacts must be a non-empty array."
        names = [c.get("name") if isinstance(c, dict) else None for c in obj]
        if not all(isinstance(name, dict) and name.get("formatted_name") for name in names):
            return "Param contacts[].name.formatted_name is required."
        return None
    if not isinstance(obj, dict):
        return f"The parameter {kind} is required."
    required: dict[str, tuple[str, ...]] = {
        "text": ("body",),
        "location": ("latitude", "longitude"),
        "interactive": ("type", "action"),
        "reaction": ("message_id",),
        "template": ("name", "language"),
        "pin": ("type", "message_id"),
    }
    missing = [name for name in required.get(kind, ()) if obj.get(name) in (None, "")]
    if missing:
        return f"The parameter {kind}.{missing[0]} is required."
    if kind in _MEDIA_TYPES and not (obj.get("id") or obj.get("link")):
        return f"Param {kind} must have an id or a link."
    if kind == "reaction" and not isinstance(obj.get("emoji"), str):
        return "The parameter reaction.emoji is required (empty to remove the reaction)."
    if kind == "pin" and obj.get("type") not in ("pin", "unpin"):
        return 'Param pin.type must be "pin" or "unpin".'
    days = obj.get("expiration_days")
    if (
        kind == "pin"
        and obj.get("type") == "pin"
        and not (isinstance(days, int) and 1 <= days <= 30)
    ):
        return "Param pin.expiration_days must be a number of days from 1 to 30."
    language = obj.get("language")
    if kind == "template" and not (isinstance(language, dict) and language.get("code")):
        return "The parameter template.language.code is required."
    return None


def _check_automation(body: dict[str, Any]) -> str | None:
    """What breaks the limits of conversational components (§11), if anything."""
    commands = body.get("commands", [])
    prompts = body.get("prompts", [])
    if not isinstance(commands, list) or len(commands) > 30:
        return "Param commands must be an array of at most 30 commands."
    for command in commands:
        if not isinstance(command, dict):
            return "Param commands[] must be objects."
        name, description = command.get("command_name"), command.get("command_description")
        if not isinstance(name, str) or not 0 < len(name) <= 32:
            return "Param commands[].command_name must have 1 to 32 characters."
        if not isinstance(description, str) or not 0 < len(description) <= 256:
            return "Param commands[].command_description must have 1 to 256 characters."
    if not isinstance(prompts, list) or len(prompts) > 4:
        return "Param prompts must be an array of at most 4 ice breakers."
    if not all(isinstance(p, str) and 0 < len(p) <= 80 for p in prompts):
        return "Param prompts[] must have 1 to 80 characters."
    if not isinstance(body.get("enable_welcome_message", False), bool):
        return "Param enable_welcome_message must be a boolean."
    return None
