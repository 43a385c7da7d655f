"""The JSON bodies of ``POST /<PHONE_NUMBER_ID>/messages``: a message, mark-as-read and the
typing indicator (reference/cloudapi.md §6)."""

from __future__ import annotations

from typing import Any

import msgspec

from wahost.outbound.base import Outbound, check_choice, check_text

__all__ = ["GROUP_MESSAGE_TYPES", "encode_body", "mark_read_body", "message_body", "typing_body"]

CALLBACK_DATA_MAX = 512
"""``biz_opaque_callback_data``: echoed back in the message's status webhooks."""

GROUP_MESSAGE_TYPES = frozenset(
    {"text", "image", "video", "audio", "document", "sticker", "template", "pin"}
)
"""The message types Meta accepts in a group chat: text, media and (text- or media-based)
templates, plus ``pin``, which only a group takes. Interactive messages (buttons, lists,
Flows), reactions, locations and contact cards are not (reference/cloudapi.md §12.1)."""

_encoder = msgspec.json.Encoder()


def message_body(
    to: str,
    message: Outbound,
    *,
    reply_to: str | None = None,
    biz_opaque_callback_data: str | None = None,
    recipient_type: str = "individual",
) -> dict[str, Any]:
    """The complete request body that sends ``message`` to ``to``.

    ``to`` is a phone number (``+E.164``) or a WhatsApp id. ``reply_to`` is the wamid of the
    message to quote (not allowed for a reaction; the quote bubble is hidden for templates).
    ``biz_opaque_callback_data`` (up to 512 characters) is not processed by Meta; it comes back
    in the sent, delivered and read statuses of this message, to every app subscribed to the
    WABA. ``recipient_type`` is ``"individual"`` or ``"group"`` (``to`` is then a group id,
    and the message one of :data:`GROUP_MESSAGE_TYPES`).

    The message is validated first; any broken limit raises :class:`ValueError`, and so does a
    type that a group does not take.
    """
    if not isinstance(message, Outbound):
        raise TypeError(f"message: expected an Outbound message (got {type(message).__name__})")
    if not getattr(message, "type", ""):
        raise TypeError(f"message: {type(message).__name__} is a base class, not a message")
    message.validate()
    check_text("to", to)
    check_choice("recipient_type", recipient_type, ("individual", "group"))
    if recipient_type == "group" and message.endpoint != "messages":
        raise ValueError(f"recipient_type: a {type(message).__name__} is not sent to a group")
    if recipient_type != "group" and message.type == "pin":
        raise ValueError("recipient_type: a pin message is sent to a group only")
    if recipient_type == "group" and message.type not in GROUP_MESSAGE_TYPES:
        allowed = ", ".join(sorted(GROUP_MESSAGE_TYPES))
        raise ValueError(
            f"recipient_type: a {message.type} message cannot be sent to a group; "
            f"groups take {allowed}"
        )
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": recipient_type,
        "to": to,
    }
    if reply_to is not None:
        check_text("reply_to", reply_to)
        if message.type == "reaction":
            raise ValueError("reply_to: a reaction cannot be sent as a reply")
        body["context"] = {"message_id": reply_to}
    body["type"] = message.type
    body[message.type] = message.content()
    body.update(message.request_fields())
    if biz_opaque_callback_data is not None:
        check_text("biz_opaque_callback_data", biz_opaque_callback_data, CALLBACK_DATA_MAX)
        body["biz_opaque_callback_data"] = biz_opaque_callback_data
    return body


def encode_body(body: dict[str, Any]) -> bytes:
    """``body`` as compact UTF-8 JSON, ready to POST."""
    return _encoder.encode(body)


def mark_read_body(message_id: str) -> dict[str, Any]:
    """Mark the inbound message ``message_id`` (and every earlier one) as read."""
    check_text("message_id", message_id)
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def typing_body(message_id: str) -> dict[str, Any]:
    """Mark ``message_id`` as read and show a typing indicator to its sender. WhatsApp hides it
    when you reply or after 25 seconds."""
    body = mark_read_body(message_id)
    body["typing_indicator"] = {"type": "text"}
    return body
