"""Presenting a record: plain data for JSON (the HTTP route, ``status show --json``) and lines
for people (``wahost status show``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wahost_status.record import MessageRecord

__all__ = ["record_data", "record_lines"]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def _tracker(record: MessageRecord) -> Any:
    tracker = record.tracker
    if isinstance(tracker, msgspec.Struct):
        return {"type": type(tracker).__qualname__, "value": msgspec.to_builtins(tracker)}
    return tracker


def record_data(record: MessageRecord) -> dict[str, Any]:
    """The record as JSON-able data: the status, each step, pricing, conversation, errors,
    tracker (decoded when its type is registered) and the send."""
    status = record.status
    pricing = record.pricing
    conversation = record.conversation
    return {
        "wamid": record.wamid,
        "status": status.value if status is not None else None,
        "recipient": record.recipient,
        "phone_number_id": record.phone_number_id,
        "steps": {
            name: {"at": _iso(step.at), "implied": step.implied} for name, step in record.timeline()
        },
        "pricing": None
        if pricing is None
        else {
            "billable": pricing.billable,
            "charged": pricing.charged,
            "model": pricing.model.value,
            "type": pricing.type.value,
            "category": pricing.category.value,
        },
        "conversation": None
        if conversation is None
        else {
            "id": conversation.id,
            "category": conversation.category.value,
            "expiration": _iso(conversation.expiration),
        },
        "errors": [
            {"code": e.code, "title": e.title or e.message, "details": e.details}
            for e in record.raw_errors
        ],
        "tracker": _tracker(record),
        "tracker_raw": record.send.tracker
        if record.send and record.send.tracker
        else record.tracker_raw,
        "send": _send(record),
    }


def _send(record: MessageRecord) -> dict[str, Any] | None:
    send = record.send
    if send is None:
        return None
    return {
        "to": send.to,
        "wa_id": send.wa_id,
        "phone_number_id": send.phone_number_id,
        "at": _iso(send.at),
        "tracker": send.tracker,
        "unit": send.unit,
        "ambiguous": send.ambiguous,
    }


def _seconds(at: datetime | None) -> str | None:
    return _iso(at.replace(microsecond=0)) if at is not None else None


def record_lines(record: MessageRecord) -> list[str]:
    """The lifecycle for people, one line each."""
    status = record.status
    lines = [
        record.wamid,
        f"  to {record.recipient or '?'} from {record.phone_number_id or '?'}",
        f"  status: {status.value if status is not None else 'accepted, no status yet'}",
    ]
    send = record.send
    if send is not None:
        origin = f"unit {send.unit}" if send.unit else "host.send"
        extra = ", maybe sent twice" if send.ambiguous else ""
        lines.append(f"  {'accepted':<10}{_seconds(send.at)}  ({origin}{extra})")
    for name, step in record.timeline():
        note = "  (implied)" if step.implied else ""
        lines.append(f"  {name:<10}{_seconds(step.at)}{note}")
    pricing = record.pricing
    if pricing is not None:
        charged = "charged" if pricing.charged else "free"
        lines.append(
            f"  pricing: {pricing.category.value}, {pricing.type.value}, "
            f"{pricing.model.value} ({charged})"
        )
    conversation = record.conversation
    if conversation is not None:
        expires = f", expires {_iso(conversation.expiration)}" if conversation.expiration else ""
        lines.append(f"  conversation: {conversation.id} ({conversation.category.value}{expires})")
    for error in record.errors:
        lines.append(f"  error: {type(error).__name__}: {error}")
    tracker = record.tracker
    if tracker is not None:
        lines.append(f"  tracker: {tracker!r}")
    return lines
