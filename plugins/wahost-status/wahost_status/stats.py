"""Figures over the recorded history: counts per step, failure codes, delivery and read
rates, charged and free messages by pricing category.

Why events and not counters: the key-value API has no atomic increment, and status units of
different conversations run concurrently, so a shared counter updated by read-modify-write
would lose updates. Instead every first arrival at a step writes its own key,
``e:<YYYYMMDDHHMMSS>:<wamid>:<step>`` (committed with the status's unit, so exactly once),
and the figures are a scan of the keys in the window. Keys sort by time, so a window is a
range of prefixes and ``--since`` is exact to the second.

Scale: scanning is proportional to the events in the window (about four per message), so a
*finished* day is scanned once and its summary cached under ``d:<YYYYMMDD>`` (it cannot
change any more: events are filed under the time they were recorded, not Meta's timestamp,
so a late status lands in today). A day counts as finished :data:`GRACE` after its end, for
units still committing and clocks of other workers. Summaries expire with the day's events,
``retention`` after the day. ``kv_scan`` has a ``limit`` but no cursor: a prefix that
returns a full page is split into ten by the next digit of the time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import msgspec

from wahost.state.base import StateStore
from wahost_status.store import NAMESPACE, EventData, decode_event, time_digits

__all__ = ["GRACE", "DaySummary", "StatusStats", "compute_stats"]

K = TypeVar("K", str, int)

#: How long after midnight UTC a day's summary is considered final.
GRACE = timedelta(hours=1)
#: Keys read per ``kv_scan`` call.
PAGE = 1000
#: The steps counted, in lifecycle order; any other step is counted as ``unknown``.
STEPS = ("accepted", "sent", "delivered", "read", "played", "failed", "unknown")


class DaySummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The tallies of a window of events."""

    counts: dict[str, int] = {}
    failures: dict[int, int] = {}
    charged: dict[str, int] = {}
    free: dict[str, int] = {}

    def add(self, step: str, data: EventData) -> None:
        if step == "priced":
            bucket = self.charged if data.charged else self.free
            category = data.category or "unknown"
            bucket[category] = bucket.get(category, 0) + 1
            return
        name = step if step in STEPS else "unknown"
        self.counts[name] = self.counts.get(name, 0) + 1
        for code in data.codes:
            self.failures[code] = self.failures.get(code, 0) + 1

    def merge(self, other: DaySummary) -> None:
        _add(self.counts, other.counts)
        _add(self.failures, other.failures)
        _add(self.charged, other.charged)
        _add(self.free, other.free)


def _add(mine: dict[K, int], theirs: dict[K, int]) -> None:
    for key, count in theirs.items():
        mine[key] = mine.get(key, 0) + count


class StatusStats(msgspec.Struct, kw_only=True):
    """Figures of the window ``[since, until)``.

    ``counts`` has every step of :data:`STEPS`: messages Meta ``accepted`` (sends recorded by
    this host) and messages that reached each step (reported or implied: a ``read`` counts
    as delivered too). ``failures`` counts failed messages by error code. ``charged`` and
    ``free`` count priced messages by pricing category (``type == regular`` is charged; the
    ``billable`` flag for webhooks without a type). ``delivery_rate`` is delivered / sent,
    ``read_rate`` read / delivered (``None`` without a denominator).
    """

    since: datetime
    until: datetime
    counts: dict[str, int]
    failures: dict[int, int]
    charged: dict[str, int]
    free: dict[str, int]
    delivery_rate: float | None
    read_rate: float | None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _day_key(day: date) -> str:
    return f"d:{day:%Y%m%d}"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def _scan(state: StateStore, prefix: str, since: str, total: DaySummary) -> None:
    """Tally the events under ``prefix`` filed at or after ``since`` (time digits)."""
    items = await state.kv_scan(NAMESPACE, prefix, limit=PAGE)
    if len(items) >= PAGE:
        if len(prefix) < len("e:") + 14:
            for digit in "0123456789":
                await _scan(state, prefix + digit, since, total)
            return
        limit = PAGE  # a whole page within one second: read that second in one go
        while len(items) >= limit:
            limit *= 4
            items = await state.kv_scan(NAMESPACE, prefix, limit=limit)
    for key, value in items:
        _, digits, rest = key.split(":", 2)
        if digits < since:
            continue
        step = rest.rsplit(":", 1)[-1]
        total.add(step, decode_event(value))


async def _day(
    state: StateStore, day: date, since: datetime, now: datetime, retention: float
) -> DaySummary:
    start = _start(day)
    end = start + timedelta(days=1)
    whole = since <= start
    finished = now >= end + GRACE
    if whole and finished:
        cached = await state.kv_get(NAMESPACE, _day_key(day))
        if cached is not None:
            try:
                return msgspec.json.decode(cached, type=DaySummary)
            except msgspec.DecodeError:
                pass
    summary = DaySummary()
    await _scan(state, f"e:{day:%Y%m%d}", time_digits(since), summary)
    ttl = (end - now).total_seconds() + retention
    if whole and finished and ttl > 0:
        await state.kv_set(NAMESPACE, _day_key(day), msgspec.json.encode(summary), ttl=ttl)
    return summary


async def compute_stats(
    state: StateStore,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    retention: float = 30 * 86400.0,
) -> StatusStats:
    """The figures of the events recorded from ``since`` (default: the retention window)
    until ``now``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since = (since or now - timedelta(seconds=retention)).astimezone(UTC)
    total = DaySummary()
    day = since.date()
    while day <= now.date():
        total.merge(await _day(state, day, since, now, retention))
        day += timedelta(days=1)
    counts = {step: total.counts.get(step, 0) for step in STEPS}
    return StatusStats(
        since=since,
        until=now,
        counts=counts,
        failures=dict(sorted(total.failures.items())),
        charged=dict(sorted(total.charged.items())),
        free=dict(sorted(total.free.items())),
        delivery_rate=_rate(counts["delivered"], counts["sent"]),
        read_rate=_rate(counts["read"], counts["delivered"]),
    )
