"""The reply outbox retries the record of a send Meta accepted while the store refuses it for a
moment (issue 13: a Redis restart between the send and its record sent the reply twice). The
store is the real SQLite one with refusals injected on the outbox's writes; the Graph API is the
fake one over loopback."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from wahost import Context, hookimpl
from wahost.defaults.backends import _sqlite_database
from wahost.outbox import NAMESPACE
from wahost.state.base import StateStore, StoreUnavailable
from wahost.state.sqlite import SQLiteStateStore
from wahost.testing import TEST_TOKEN, BotHarness, make_text
from wahost.testing.fake_graph import FakeGraph


class RefusingStore(SQLiteStateStore):
    """The SQLite state store refusing its first ``refusals`` outbox records."""

    def __init__(self, refusals: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals = refusals
        self.tries = 0

    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        if namespace == NAMESPACE:
            self.tries += 1
            if self.tries <= self.refusals:
                raise StoreUnavailable("connection refused (injected)")
        await super().kv_set(namespace, key, value, ttl=ttl)


class Refusing:
    __name__ = "refusing-store"

    def __init__(self, refusals: float) -> None:
        self.refusals = refusals

    @hookimpl(tryfirst=True)
    def wahost_state_store(self, host: Any, config: Any) -> StateStore:
        database = _sqlite_database(host, config.path or host.config.queue.path)
        return RefusingStore(self.refusals, database=database)


class Echo:
    __name__ = "echo"

    def __init__(self) -> None:
        self.handled: collections.Counter[str] = collections.Counter()

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        self.handled[message.id] += 1
        await ctx.reply(text=f"echo: {message.text.body}")
        return True


async def test_a_record_refused_for_a_moment_is_retried_and_the_reply_sent_once(
    tmp_path: Path,
) -> None:
    echo = Echo()
    config = {"worker": {"lease_seconds": 20.0}}
    with capture_logs() as logs:
        async with FakeGraph(token=TEST_TOKEN) as graph:
            plugins = [echo, Refusing(3)]
            async with BotHarness(tmp_path, plugins=plugins, graph=graph, config=config) as bot:
                assert (await bot.post(make_text("hi", wamid="wamid.rec.1"))).status_code == 200
                await bot.idle(timeout=15)
                store = bot.host.state
                assert isinstance(store, RefusingStore)
                assert store.tries == 4
                assert (await bot.host.queue.stats()).done == 1
    assert echo.handled == {"wamid.rec.1": 1}
    assert [m.text for m in graph.sent] == ["echo: hi"]
    retries = [e for e in logs if e["event"] == "outbox could not record a sent message, retrying"]
    assert len(retries) == 3
    assert retries[0]["log_level"] == "warning"
    assert "injected" in retries[0]["error"]


async def test_a_store_that_stays_down_fails_the_unit_after_half_the_lease(
    tmp_path: Path,
) -> None:
    # Beyond its patience the outbox gives up: the error reaches the worker, which retries the
    # unit (at least once: the reply may repeat, as the error log line says).
    echo = Echo()
    config = {"worker": {"lease_seconds": 1.0, "max_attempts": 2, "backoff_base": 0.01}}
    with capture_logs() as logs:
        async with FakeGraph(token=TEST_TOKEN) as graph:
            plugins = [echo, Refusing(float("inf"))]
            async with BotHarness(tmp_path, plugins=plugins, graph=graph, config=config) as bot:
                assert (await bot.post(make_text("hi", wamid="wamid.rec.2"))).status_code == 200
                await bot.idle(timeout=15)
                [dead] = await bot.host.queue.list_dead()
                assert "injected" in dead.error
    assert echo.handled == {"wamid.rec.2": 2}
    assert len(graph.sent) == 2
    gave_up = [e for e in logs if e["event"].startswith("outbox could not record a sent message;")]
    assert len(gave_up) == 2
    assert gave_up[0]["log_level"] == "error"
    # Half of a one-second lease at 50 ms doubling: a handful of tries, not one and not dozens.
    assert 2 <= gave_up[0]["tries"] <= 6
