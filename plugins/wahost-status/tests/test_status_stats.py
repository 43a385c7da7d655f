"""Statistics on a seeded history, on the SQLite and memory stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import wahost_status
from wahost_status import SendInfo, compute_stats, load_record, parse
from wahost_status import stats as stats_module
from wahost_status.store import NAMESPACE, plan_send, plan_status

from wahost import Status, Wahost
from wahost.state.base import StateStore
from wahost.testing import make_config

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
RETENTION = 30 * 86400.0


def when(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, tzinfo=UTC)


def pricing(category: str, type: str) -> dict[str, Any]:
    billable = type == "regular"
    return {"billable": billable, "pricing_model": "PMP", "type": type, "category": category}


def error(code: int) -> list[dict[str, Any]]:
    return [{"code": code, "title": f"error {code}", "message": f"error {code}"}]


MARKETING = pricing("marketing", "regular")
SERVICE = pricing("service", "free_customer_service")
UTILITY = pricing("utility", "regular")

#: (wamid, accepted at or None, [(status, at, extra fields)]) — the figures below follow.
HISTORY: list[tuple[str, datetime | None, list[tuple[str, datetime, dict[str, Any]]]]] = [
    (
        "wamid.m1",
        when(18, 10),
        [
            ("sent", when(18, 10, 0, 1), {"pricing": MARKETING}),
            ("delivered", when(18, 10, 0, 9), {"pricing": MARKETING}),
            ("read", when(18, 10, 5), {}),
        ],
    ),
    (
        "wamid.m2",
        when(18, 11),
        [
            ("sent", when(18, 11, 0, 1), {"pricing": SERVICE}),
            ("delivered", when(18, 11, 0, 2), {"pricing": SERVICE}),
        ],
    ),
    ("wamid.m3", when(18, 12), [("failed", when(18, 12, 0, 1), {"errors": error(131049)})]),
    (
        "wamid.m4",
        when(18, 13),
        [
            ("sent", when(18, 13, 0, 1), {}),
            ("failed", when(18, 13, 0, 5), {"errors": error(131026)}),
        ],
    ),
    # Sent with host.send before this history: no "accepted". Read implies sent, delivered.
    ("wamid.m5", None, [("read", when(19, 8), {"pricing": UTILITY})]),
    (
        "wamid.m6",
        None,
        [("sent", when(19, 9), {}), ("played", when(19, 9, 30), {})],
    ),
    ("wamid.m7", None, [("sent", when(19, 10), {}), ("deleted", when(19, 11), {})]),
    (
        "wamid.m8",
        when(20, 9),
        [
            ("sent", when(20, 9, 0, 1), {}),
            ("read", when(20, 9, 10), {}),
            ("delivered", when(20, 9, 1), {}),  # late: counted once, through read
            ("read", when(20, 9, 10), {}),  # duplicate
        ],
    ),
    ("wamid.m9", when(20, 11, 30), [("failed", when(20, 11, 31), {"errors": error(131049)})]),
]

EXPECTED_COUNTS = {
    "accepted": 6,
    "sent": 7,
    "delivered": 5,
    "read": 3,
    "played": 1,
    "failed": 3,
    "unknown": 1,
}


def status(wamid: str, kind: str, at: datetime, fields: dict[str, Any]) -> Status:
    item = {
        "id": wamid,
        "status": kind,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": "16505551234",
        **fields,
    }
    return msgspec.convert(item, Status)


async def seed(state: StateStore) -> None:
    for wamid, accepted, statuses in HISTORY:
        if accepted is not None:
            send = SendInfo(to="16505551234", phone_number_id="106540352242922", at=accepted)
            for write in plan_send(wamid, send, at=accepted, retention=RETENTION):
                assert write.value is not None
                await state.kv_set(write.namespace, write.key, write.value, ttl=write.ttl)
        for kind, at, fields in statuses:
            record = await load_record(state.kv_get, wamid)
            _, writes = plan_status(
                record, parse(status(wamid, kind, at, fields)), at=at, retention=RETENTION
            )
            for write in writes:
                assert write.value is not None
                await state.kv_set(write.namespace, write.key, write.value, ttl=write.ttl)


@pytest.fixture(params=["sqlite", "memory"])
async def state(request: Any, tmp_path: Path) -> AsyncIterator[StateStore]:
    backend = request.param
    config = make_config(tmp_path, {"queue": {"backend": backend}, "state": {"backend": backend}})
    async with Wahost(config, plugins=[wahost_status], load_entrypoints=False) as host:
        await seed(host.state)
        yield host.state


async def test_figures_of_a_seeded_history(state: StateStore) -> None:
    since = datetime(2025, 6, 18, tzinfo=UTC)
    stats = await compute_stats(state, since=since, now=NOW, retention=RETENTION)
    assert stats.counts == EXPECTED_COUNTS
    assert stats.failures == {131026: 1, 131049: 2}
    assert stats.charged == {"marketing": 1, "utility": 1}
    assert stats.free == {"service": 1}
    assert stats.delivery_rate == round(5 / 7, 4)
    assert stats.read_rate == 0.6
    assert (stats.since, stats.until) == (since, NOW)


async def test_since_is_exact_to_the_second(state: StateStore) -> None:
    stats = await compute_stats(state, since=when(20, 11, 30), now=NOW, retention=RETENTION)
    assert stats.counts == dict.fromkeys(EXPECTED_COUNTS, 0) | {"accepted": 1, "failed": 1}
    assert stats.failures == {131049: 1}
    assert stats.delivery_rate is None and stats.read_rate is None
    day_19 = await compute_stats(state, since=when(19, 9), now=when(19, 23), retention=RETENTION)
    assert day_19.counts["sent"] == 2 and day_19.counts["played"] == 1


async def test_default_window_is_the_retention(state: StateStore) -> None:
    assert (await compute_stats(state, now=NOW, retention=RETENTION)).counts == EXPECTED_COUNTS
    short = await compute_stats(state, now=NOW, retention=3600)  # 11:00 onwards
    assert short.counts["accepted"] == 1


async def test_finished_days_are_summarised_once(state: StateStore) -> None:
    since = datetime(2025, 6, 18, tzinfo=UTC)
    first = await compute_stats(state, since=since, now=NOW, retention=RETENTION)
    cached = [key for key, _ in await state.kv_scan(NAMESPACE, "d:")]
    assert cached == ["d:20250618", "d:20250619"]  # not today: it is still going on
    # The cached summary answers for a finished day, even if its events are gone.
    for key, _ in await state.kv_scan(NAMESPACE, "e:20250618"):
        await state.kv_delete(NAMESPACE, key)
    again = await compute_stats(state, since=since, now=NOW, retention=RETENTION)
    assert again == first


async def test_full_pages_are_split_by_time(
    state: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # m5's read files four events in the same second: a page of 2 splits down to it.
    monkeypatch.setattr(stats_module, "PAGE", 2)
    since = datetime(2025, 6, 18, tzinfo=UTC)
    stats = await compute_stats(state, since=since, now=NOW, retention=RETENTION)
    assert stats.counts == EXPECTED_COUNTS
    assert stats.charged == {"marketing": 1, "utility": 1}
