"""An ack that cannot commit is retried by the worker while it holds the lease (issue 13): the
unit is not handled again, and does not wait for its lease to expire. The disk-full test runs
on a real tmpfs (needs root to mount; skipped otherwise); the others inject failing commits."""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.disk_full import fill, mount_tmpfs, umount
from wahost import hookimpl
from wahost.defaults.backends import _sqlite_database
from wahost.queue.base import Lease, QueueBackend, QueueUnavailable
from wahost.queue.sqlite import SQLiteQueue
from wahost.state.base import StateChanges
from wahost.testing import BotHarness, make_text

#: Long enough that a unit re-handled after its lease expired could not finish the test.
LEASE = {"worker": {"lease_seconds": 60.0}}


class Counter:
    __name__ = "counter"

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.release = asyncio.Event()
        self.release.set()
        self.entered = asyncio.Event()
        #: Bytes a message writes with its ack, by wamid (a key-value write).
        self.writes: dict[str, int] = {}

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        self.seen[message.id] += 1
        self.entered.set()
        await self.release.wait()
        if message.id in self.writes:
            ctx.kv_set("counter", message.id, b"x" * self.writes[message.id])
        return True


class FlakyAckQueue(SQLiteQueue):
    """The SQLite queue whose first ``failures`` acks fail as a full disk would."""

    def __init__(self, failures: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.tries = 0

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise QueueUnavailable("database or disk is full (injected)")
        await super().ack(lease, changes)


class Flaky:
    __name__ = "flaky-queue"

    def __init__(self, failures: float) -> None:
        self.failures = failures

    @hookimpl(tryfirst=True)
    def wahost_queue_backend(self, host: Any, config: Any) -> QueueBackend:
        database = _sqlite_database(host, config.path)
        return FlakyAckQueue(self.failures, database=database)


async def test_an_ack_that_fails_for_a_moment_is_retried_and_the_unit_handled_once(
    tmp_path: Path,
) -> None:
    counter = Counter()
    with capture_logs() as logs:
        async with BotHarness(tmp_path, plugins=[counter, Flaky(3)], config=LEASE) as bot:
            started = time.monotonic()
            assert (await bot.post(make_text("hi", wamid="wamid.ack.1"))).status_code == 200
            await bot.idle(timeout=10)
            took = time.monotonic() - started
            queue = bot.host.queue
            assert isinstance(queue, FlakyAckQueue)
            assert queue.tries == 4
            assert (await queue.stats()).done == 1
    assert counter.seen == {"wamid.ack.1": 1}
    assert took < 5  # retried at once, not after the 60 s lease
    retries = [e for e in logs if e["event"] == "ack could not commit, retrying"]
    assert len(retries) == 3
    assert retries[0]["log_level"] == "warning"
    assert "disk is full" in retries[0]["error"]
    assert all("hi" not in str(value) for e in retries for value in e.values())


async def test_the_worker_stops_promptly_while_an_ack_keeps_failing(tmp_path: Path) -> None:
    counter = Counter()
    async with BotHarness(tmp_path, plugins=[counter, Flaky(float("inf"))], config=LEASE) as bot:
        assert (await bot.post(make_text("hi", wamid="wamid.stuck"))).status_code == 200
        queue = bot.host.queue
        assert isinstance(queue, FlakyAckQueue)
        while queue.tries < 3:
            await asyncio.sleep(0.01)
        assert bot.worker is not None
        started = time.monotonic()
        await bot.worker.stop(grace=30)
        assert time.monotonic() - started < 1.0
        assert bot.worker.in_flight == 0
        # Abandoned, not failed: the unit keeps its lease and comes back when it expires.
        stats = await queue.stats()
        assert (stats.leased, stats.waiting_retry, stats.done) == (1, 0, 0)
    assert counter.seen == {"wamid.stuck": 1}


async def test_an_ack_on_a_full_disk_is_retried_once_space_returns(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    if not mount_tmpfs(mount, "8m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    counter = Counter()
    try:
        with capture_logs() as logs:
            async with BotHarness(mount, plugins=[counter], config=LEASE) as bot:
                for n in range(10):
                    await bot.post(make_text("before", sender="111", wamid=f"wamid.b.{n}"))
                await bot.idle()
                counter.release.clear()
                counter.entered.clear()
                # The held unit's ack writes 2 MB: more than any WAL space left from before the
                # disk filled (a small ack could fit there, and commit on the full disk), less
                # than the filler frees.
                counter.writes["wamid.held"] = 2 * 1024 * 1024
                assert (await bot.post(make_text("held", wamid="wamid.held"))).status_code == 200
                await counter.entered.wait()
                filler = mount / "filler"
                fill(filler)
                # Use up the WAL space allocated before the disk filled, so that the held
                # unit's ack finds no room. Other users' units: the held one blocks its own.
                for n in range(500):
                    text = make_text("full", sender="222", wamid=f"wamid.f.{n}")
                    if (await bot.post(text)).status_code == 503:
                        break
                counter.release.set()
                deadline = time.monotonic() + 5
                while not any(
                    e["event"] == "ack could not commit, retrying" and e["unit"] == "msg:wamid.held"
                    for e in logs
                ):
                    if time.monotonic() > deadline:
                        pytest.fail("the held unit's ack never failed: the disk was not full")
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)  # a few retries on the full disk
                filler.unlink()
                started = time.monotonic()
                await bot.idle(timeout=30)
                resumed = time.monotonic() - started
    finally:
        umount(mount)
    assert counter.seen["wamid.held"] == 1
    assert max(counter.seen.values()) == 1  # no unit handled twice
    assert resumed < 5  # the retry, not the 60 s lease


class FlakyRetryQueue(SQLiteQueue):
    """The SQLite queue whose first ``failures`` retries fail as a store that went away would."""

    def __init__(self, failures: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.tries = 0

    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise QueueUnavailable("connection refused (injected)")
        await super().retry(lease, delay=delay, error=error)


class FlakyRetry:
    __name__ = "flaky-retry-queue"

    @hookimpl(tryfirst=True)
    def wahost_queue_backend(self, host: Any, config: Any) -> QueueBackend:
        return FlakyRetryQueue(2, database=_sqlite_database(host, config.path))


class FailsOnce:
    __name__ = "fails-once"

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the plugin's own failure")
        return True


async def test_a_failure_the_store_cannot_record_for_a_moment_is_recorded_and_retried_soon(
    tmp_path: Path,
) -> None:
    plugin = FailsOnce()
    with capture_logs() as logs:
        async with BotHarness(tmp_path, plugins=[plugin, FlakyRetry()], config=LEASE) as bot:
            await bot.post(make_text("hello", wamid="wamid.flaky-retry.1"))
            # Idle well before the 60 s lease could have expired: recorded, not abandoned.
            await bot.idle(timeout=20)
    assert plugin.calls == 2
    retried = [e for e in logs if e["event"] == "could not record a failure, retrying"]
    assert len(retried) == 2
    # The unit's own error is kept beside the store's.
    assert "the plugin's own failure" in retried[0]["error"]
    assert "injected" in retried[0]["store_error"]


class FlakyLeaseQueue(SQLiteQueue):
    """The SQLite queue whose first ``failures`` leases fail as an unavailable store would."""

    def __init__(self, failures: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.tries = 0

    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        self.tries += 1
        if self.tries <= self.failures:
            raise QueueUnavailable("connection refused (injected)")
        return await super().lease(limit, lease_seconds=lease_seconds)


class FlakyLease:
    __name__ = "flaky-lease"

    @hookimpl(tryfirst=True)
    def wahost_queue_backend(self, host: Any, config: Any) -> QueueBackend:
        return FlakyLeaseQueue(3, database=_sqlite_database(host, config.path))


async def test_a_queue_outage_logs_once_when_it_starts_and_once_when_it_ends(
    tmp_path: Path,
) -> None:
    counter = Counter()
    with capture_logs() as logs:
        async with BotHarness(tmp_path, plugins=[counter, FlakyLease()], config=LEASE) as bot:
            assert (await bot.post(make_text("hi", wamid="wamid.outage"))).status_code == 200
            await bot.idle(timeout=10)
            queue = bot.host.queue
            assert isinstance(queue, FlakyLeaseQueue) and queue.tries > 3
    assert counter.seen == {"wamid.outage": 1}
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == [
        "queue unavailable, backing off",
        "queue available again: leasing resumed",
    ]
    assert warnings[1]["tries"] == 3
    assert [e["event"] for e in logs if e["log_level"] == "debug"].count(
        "queue still unavailable"
    ) == 2
