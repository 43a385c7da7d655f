"""What the ingress adds to each unit's body for metrics and tracing.

When ``[metrics]`` is on, each unit's body (the JSON of a :class:`~wahost.units.UnitBody`)
carries ``received_at``, the ``time.time()`` of the webhook's arrival, read back by the
worker for the ingress-to-reply latency and by the queue for the age of its oldest unit; with
tracing on it also carries ``traceparent``, the W3C trace context of the webhook's span, so
that the worker continues that trace in whichever process handles the unit.

They travel inside the body rather than as columns, so every queue backend stores them with
no schema change, and a unit stored without them reads back with their defaults. The body is
msgspec's encoding of a ``UnitBody``, a JSON object whose last fields are these two: appending
them to the encoded bytes gives exactly what encoding the struct with them would, without
decoding and encoding every unit again on the webhook's path.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from wahost.units import Unit

if TYPE_CHECKING:
    from wahost.host import Wahost


class _Stamp(msgspec.Struct):
    """The part of a unit's body that says when it arrived."""

    received_at: float = 0.0
    time: int | None = None
    traceparent: str = ""


_stamp_decoder = msgspec.json.Decoder(_Stamp)
_replace = msgspec.structs.replace


def _stamp_of(unit: Unit) -> _Stamp | None:
    try:
        return _stamp_decoder.decode(unit.body)
    except msgspec.DecodeError:  # not a UnitBody (a backend's own unit): nothing to read
        return None


def received_at(unit: Unit) -> float | None:
    """When the webhook of ``unit`` arrived (``time.time()``): the ingress's stamp, else the
    time Meta put on the webhook's entry; ``None`` when the unit carries neither."""
    stamp = _stamp_of(unit)
    if stamp is None:
        return None
    if stamp.received_at:
        return stamp.received_at
    return float(stamp.time) if stamp.time else None


def traceparent(unit: Unit) -> str:
    """The W3C trace context the ingress stored with ``unit`` ("" when none)."""
    stamp = _stamp_of(unit)
    return "" if stamp is None else stamp.traceparent


class UnitStamp:
    """Adds ``received_at`` (and ``traceparent`` when given) to units' bodies."""

    __slots__ = ()

    def __call__(self, units: list[Unit], traceparent: str = "") -> list[Unit]:
        # Milliseconds are enough for the latencies read from it; a float's repr costs
        # twice the time on the webhook's path.
        if traceparent:
            extra = b',"received_at":%.3f,"traceparent":%s}' % (
                time.time(),
                msgspec.json.encode(traceparent),
            )
        else:
            extra = b',"received_at":%.3f}' % time.time()
        if len(units) == 1:  # most webhooks: spare the loop
            unit = units[0]
            return (
                [_replace(unit, body=unit.body[:-1] + extra)] if unit.body[-1:] == b"}" else units
            )
        return [
            _replace(unit, body=unit.body[:-1] + extra) if unit.body[-1:] == b"}" else unit
            for unit in units
        ]


def stamper(host: Wahost) -> UnitStamp | None:
    """The ingress's stamp, or ``None`` when neither metrics nor tracing is on (the bodies
    are then stored exactly as split)."""
    return UnitStamp() if host.metrics is not None or host.tracing is not None else None


__all__ = ["UnitStamp", "received_at", "stamper", "traceparent"]
