"""How records live in the state store's namespaced key-value (the same API on SQLite, memory
and Redis; no backend-specific code).

Keys of the namespace ``wahost-status``:

* ``m:<wamid>`` — the lifecycle (:class:`MessageRecord` without its send part). Written only
  by status units, through ``ctx.kv_set``, so it commits with the unit's ack: a status applies
  exactly once. All statuses of a message share the recipient's ordering lane, so they never
  update it concurrently.
* ``s:<wamid>`` — the send (:class:`SendInfo`), written once by ``on_message_sent`` straight
  to the store. A separate key, so a status racing with the send's answer (Meta's webhook can
  beat it) cannot overwrite it, and neither can it overwrite the status.
* ``e:<YYYYMMDDHHMMSS>:<wamid>:<step>`` — one event per step reached, per first pricing
  (``priced``) and per send (``accepted``), keyed by the UTC time it was recorded; the
  statistics read these (see :mod:`wahost_status.stats`).
* ``d:<YYYYMMDD>`` — the summary of a finished day, cached by the statistics.

Every key is written with a TTL of ``retention``: the store prunes records by itself
(SQLite purges expired rows, Redis expires keys), and nothing scans to delete.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import msgspec

from wahost.state.base import KVWrite
from wahost_status.model import StatusUpdate, is_billable
from wahost_status.record import MessageRecord, SendInfo, Transition, apply_status

__all__ = [
    "NAMESPACE",
    "EventData",
    "KVGet",
    "event_key",
    "load_record",
    "plan_send",
    "plan_status",
]

NAMESPACE = "wahost-status"

T = TypeVar("T")

#: ``kv_get(namespace, key)`` of the state store or of a unit's context.
KVGet = Callable[[str, str], Awaitable[bytes | None]]


class EventData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The value of an event key: failure codes of ``failed``, pricing of ``priced``."""

    codes: list[int] = []
    category: str | None = None
    type: str | None = None
    charged: bool | None = None


_record_decoder = msgspec.json.Decoder(MessageRecord)
_send_decoder = msgspec.json.Decoder(SendInfo)
_encode = msgspec.json.encode


def record_key(wamid: str) -> str:
    return f"m:{wamid}"


def send_key(wamid: str) -> str:
    return f"s:{wamid}"


def time_digits(at: datetime) -> str:
    """``YYYYMMDDHHMMSS`` of an aware datetime, in UTC: event keys sort by time."""
    # From the timestamp: a datetime's astimezone and strftime cost several times as much, and
    # this runs for every message sent.
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(at.timestamp()))


def event_key(at: datetime, wamid: str, step: str) -> str:
    return f"e:{time_digits(at)}:{wamid}:{step}"


def _decode(decoder: msgspec.json.Decoder[T], data: bytes | None) -> T | None:
    if data is None:
        return None
    try:
        return decoder.decode(data)
    except msgspec.DecodeError:
        return None  # written by an incompatible version: start again rather than fail


async def load_record(get: KVGet, wamid: str, *, with_send: bool = True) -> MessageRecord | None:
    """The record of ``wamid`` (its lifecycle and, if known, its send), or ``None``."""
    stored = _decode(_record_decoder, await get(NAMESPACE, record_key(wamid)))
    send = _decode(_send_decoder, await get(NAMESPACE, send_key(wamid))) if with_send else None
    if stored is None:
        if send is None:
            return None
        return MessageRecord(
            wamid=wamid,
            recipient=send.wa_id or send.to,
            phone_number_id=send.phone_number_id,
            send=send,
        )
    return msgspec.structs.replace(stored, send=send) if send is not None else stored


def plan_status(
    record: MessageRecord | None, update: StatusUpdate, *, at: datetime, retention: float
) -> tuple[Transition, list[KVWrite]]:
    """Apply ``update`` to ``record``; the writes to commit with the status's unit (none for
    a duplicate). ``at`` is the time events are filed under."""
    transition = apply_status(record.stored() if record is not None else None, update)
    if not transition.changed:
        return transition, []
    after = transition.after
    writes = [KVWrite(NAMESPACE, record_key(update.wamid), _encode(after.stored()), retention)]
    for step in transition.new_steps:
        data = EventData()
        if step == "failed":
            data = EventData(codes=sorted({error.code for error in after.raw_errors}))
        writes.append(_event(at, update.wamid, step, data, retention))
    pricing = after.raw_pricing
    if transition.priced and pricing is not None:
        data = EventData(
            category=pricing.category_raw,
            type=pricing.type_raw,
            charged=is_billable(pricing),
        )
        writes.append(_event(at, update.wamid, "priced", data, retention))
    if record is not None and record.send is not None:
        # The send is final once written: writing it again only renews its TTL, so a record
        # is pruned ``retention`` after its last change, its send included.
        writes.append(KVWrite(NAMESPACE, send_key(update.wamid), _encode(record.send), retention))
        transition = _with_send(transition, record.send)
    return transition, writes


def _with_send(transition: Transition, send: SendInfo) -> Transition:
    after = msgspec.structs.replace(transition.after, send=send)
    return Transition(
        before=transition.before,
        after=after,
        new_steps=transition.new_steps,
        forward=transition.forward,
        priced=transition.priced,
    )


def _event(at: datetime, wamid: str, step: str, data: EventData, ttl: float) -> KVWrite:
    return KVWrite(NAMESPACE, event_key(at, wamid, step), _encode(data), ttl)


def plan_send(wamid: str, send: SendInfo, *, at: datetime, retention: float) -> list[KVWrite]:
    """The writes recording a message Meta accepted."""
    return [
        KVWrite(NAMESPACE, send_key(wamid), _encode(send), retention),
        _event(at, wamid, "accepted", EventData(), retention),
    ]


def decode_event(data: bytes) -> EventData:
    try:
        return msgspec.json.decode(data, type=EventData)
    except msgspec.DecodeError:
        return EventData()
