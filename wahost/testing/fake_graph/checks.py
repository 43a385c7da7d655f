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
    if kind == "interactive":
        problem = _check_interactive(obj)
        if problem is not None:
            return problem
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


#: The interactive types Meta takes (reference/cloudapi.md §6, §13.5, §17), and the
#: ``action.name`` each one requires (``None``: no name).
_INTERACTIVE_ACTIONS: dict[str, str | None] = {
    "button": None,
    "list": None,
    "cta_url": "cta_url",
    "flow": "flow",
    "location_request_message": "send_location",
    "carousel": None,
    "catalog_message": "catalog_message",
    "product": None,
    "product_list": None,
    "call_permission_request": "call_permission_request",
    "voice_call": "voice_call",
    "request_contact_info": "request_contact_info",
}
#: The types whose body is required.
_BODY_REQUIRED = frozenset(
    {"button", "list", "cta_url", "carousel", "catalog_message", "product_list", "voice_call",
     "request_contact_info", "location_request_message"}
)  # fmt: skip


def _text(obj: Any, key: str) -> str | None:
    part = obj.get(key)
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) and text else None


def _check_interactive(obj: dict[str, Any]) -> str | None:
    """What Meta would refuse in an ``interactive`` object, for the shapes of §6 and §17."""
    kind = obj.get("type")
    if kind not in _INTERACTIVE_ACTIONS:
        return f"Param interactive.type must be one of {sorted(_INTERACTIVE_ACTIONS)}."
    action = obj.get("action")
    if not isinstance(action, dict):
        return "The parameter interactive.action is required."
    name = _INTERACTIVE_ACTIONS[kind]
    if name is not None and action.get("name") != name:
        return f'Param interactive.action.name must be "{name}".'
    if kind in _BODY_REQUIRED and _text(obj, "body") is None:
        return "The parameter interactive.body.text is required."
    if kind == "carousel":
        return _check_carousel(obj, action)
    if kind == "product" and not (action.get("catalog_id") and action.get("product_retailer_id")):
        return "Params interactive.action.catalog_id and product_retailer_id are required."
    if kind == "product_list":
        return _check_product_list(obj, action)
    if kind == "voice_call":
        parameters = action.get("parameters")
        if not isinstance(parameters, dict) or not parameters.get("display_text"):
            return "The parameter interactive.action.parameters.display_text is required."
    return None


def _check_carousel(obj: dict[str, Any], action: dict[str, Any]) -> str | None:
    """2 to 10 cards, all of one kind (cta_url with the same header type, or products of one
    catalog), and nothing outside the cards but the body (§17)."""
    if "header" in obj or "footer" in obj:
        return "A carousel takes no header or footer outside its cards."
    cards = action.get("cards")
    if not isinstance(cards, list) or not 2 <= len(cards) <= 10:
        return "Param interactive.action.cards must have 2 to 10 cards."
    if not all(isinstance(card, dict) for card in cards):
        return "Param interactive.action.cards[] must be objects."
    if [card.get("card_index") for card in cards] != list(range(len(cards))):
        return "Param interactive.action.cards[].card_index must number the cards from 0."
    kinds = {card.get("type") for card in cards}
    if kinds == {"cta_url"}:
        headers = {(card.get("header") or {}).get("type") for card in cards}
        if len(headers) != 1 or not headers <= {"image", "video"}:
            return "Every card's header must be of the same type, image or video."
        for card in cards:
            parameters = (card.get("action") or {}).get("parameters") or {}
            if not parameters.get("display_text") or not parameters.get("url"):
                return "Param cards[].action.parameters needs display_text and url."
            body = _text(card, "body")
            if body is not None and (len(body) > 160 or body.count("\n") > 2):
                return "Param cards[].body.text: at most 160 characters and 2 line breaks."
        return None
    if kinds == {"product"}:
        actions = [card.get("action") or {} for card in cards]
        if not all(a.get("catalog_id") and a.get("product_retailer_id") for a in actions):
            return "Param cards[].action needs catalog_id and product_retailer_id."
        if len({a["catalog_id"] for a in actions}) != 1:
            return "Every product card must come from the same catalog."
        return None
    return 'Param cards[].type must be "cta_url" or "product", the same for every card.'


def _check_product_list(obj: dict[str, Any], action: dict[str, Any]) -> str | None:
    """A text header, a catalog and at most 30 items in at most 10 sections (§17)."""
    header = obj.get("header")
    if not (isinstance(header, dict) and header.get("type") == "text" and header.get("text")):
        return "The parameter interactive.header (text) is required for a product_list."
    if not action.get("catalog_id"):
        return "The parameter interactive.action.catalog_id is required."
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return "Param interactive.action.sections must have 1 to 10 sections."
    items = [
        item
        for section in sections
        if isinstance(section, dict)
        for item in section.get("product_items") or []
    ]
    if not items or len(items) > 30:
        return "A product_list holds 1 to 30 product_items in total."
    if not all(isinstance(item, dict) and item.get("product_retailer_id") for item in items):
        return "Param product_items[].product_retailer_id is required."
    return None
