"""The worker reads a leased batch's conversation states with one store call and acks the
units finished in one turn of its event loop with one queue call (issue 28), without one
unit's trouble standing in for another's."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wahost import Context, hookimpl
from wahost.defaults.backends import _sqlite_database
from wahost.queue.base import Lease, QueueBackend, QueueUnavailable
from wahost.queue.sqlite import SQLiteQueue
from wahost.state.base import ConversationState, StateChanges, StateStore
from wahost.state.sqlite import SQLiteStateStore
from wahost.testing import TEST_TOKEN, BotHarness, make_text, make_webhook
from wahost.testing.fake_graph import FakeGraph
from wahost.units import conversation_key

USERS = 20


def one_webhook(tag: str) -> dict[str, Any]:
    """One webhook with a message from each of ``USERS`` users: one lease takes them all."""
    return make_webhook(
        *(
            make_text(f"hi {n}", sender=f"1650555{n:04d}", wamid=f"wamid.{tag}.{n}")
            for n in range(USERS)
        )
    )


class CountingQueue(SQLiteQueue):
    """The SQLite queue, counting its ack calls; the first ``failures`` ``ack_many`` calls
    fail as a store that is unavailable for a moment would."""

    def __init__(self, failures: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.batches: list[int] = []
        self.single = 0

    async def ack_many(
        self, acks: Sequence[tuple[Lease, StateChanges | None]]
    ) -> list[Exception | None]:
        self.batches.append(len(acks))
        if len(self.batches) <= self.failures:
            raise QueueUnavailable("database is locked (injected)")
        return await super().ack_many(acks)

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        self.single += 1
        await super().ack(lease, changes)


class CountingStore(SQLiteStateStore):
    """The SQLite state store, counting its reads of conversations."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gets = 0
        self.get_manys: list[int] = []
        self.kv_reads = 0

    async def kv_get_many(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        self.kv_reads += 1
        return await super().kv_get_many(keys)

    async def get(self, conversation: str) -> ConversationState | None:
        self.gets += 1
        return await super().get(conversation)

    async def get_many(self, conversations: Sequence[str]) -> list[ConversationState | None]:
        self.get_manys.append(len(conversations))
        return await super().get_many(conversations)


class Backends:
    __name__ = "counting-backends"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures

    @hookimpl(tryfirst=True)
    def wahost_queue_backend(self, host: Any, config: Any) -> QueueBackend:
        return CountingQueue(self.failures, database=_sqlite_database(host, config.path))

    @hookimpl(tryfirst=True)
    def wahost_state_store(self, host: Any, config: Any) -> StateStore:
        return CountingStore(database=_sqlite_database(host, host.config.queue.path))


class Counter:
    """Counts each message, and each user's messages in ``ctx.state``."""

    __name__ = "counter"

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.counts: dict[str, int] = {}

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        self.seen[message.id] += 1
        n = ctx.state.data.get("n", 0) + 1
        ctx.state.data["n"] = n
        self.counts[message.sender] = n
        return True


async def test_a_batch_is_read_once_and_acked_in_one_call(tmp_path: Path) -> None:
    counter = Counter()
    async with BotHarness(tmp_path, plugins=[counter, Backends()]) as bot:
        queue, store = bot.host.queue, bot.host.state
        assert isinstance(queue, CountingQueue) and isinstance(store, CountingStore)
        assert queue.shares_transaction_with(store)
        assert (await bot.post(one_webhook("a"))).status_code == 200
        await bot.idle()
        assert (await bot.post(one_webhook("b"))).status_code == 200
        await bot.idle()
        stats = await queue.stats()
        assert stats.done == 2 * USERS
        assert sum(queue.batches) + queue.single == 2 * USERS
        assert queue.batches and len(queue.batches) < USERS
        assert sum(store.get_manys) == 2 * USERS and store.gets == 0
    assert set(counter.seen.values()) == {1} and len(counter.seen) == 2 * USERS
    # Each user's second message saw the state its first one committed with its ack.
    assert set(counter.counts.values()) == {2}


async def test_a_failed_batch_ack_is_tried_unit_by_unit(tmp_path: Path) -> None:
    counter = Counter()
    async with BotHarness(tmp_path, plugins=[counter, Backends(failures=1)]) as bot:
        queue = bot.host.queue
        assert isinstance(queue, CountingQueue)
        assert (await bot.post(one_webhook("a"))).status_code == 200
        await bot.idle(timeout=10)
        assert queue.batches[0] == USERS
        assert queue.single >= USERS  # each unit acked on its own after the failure
        assert (await queue.stats()).done == USERS
    assert counter.seen == {f"wamid.a.{n}": 1 for n in range(USERS)}


async def test_a_unit_whose_changes_cannot_be_stored_fails_alone(tmp_path: Path) -> None:
    """A unit whose state change cannot be stored fails alone; its batch's others commit."""

    class Picky:
        __name__ = "picky"

        @hookimpl
        async def on_message(self, message: Any, ctx: Context) -> bool:
            if message.id == "wamid.a.3" and ctx.attempt == 1:
                # SQLite cannot bind a lone surrogate: the ack's transaction cannot store it.
                ctx.kv_set("picky", "\ud800", b"x")
            else:
                ctx.state.data["ok"] = message.id
            return True

    async with BotHarness(
        tmp_path, plugins=[Picky(), Backends()], config={"worker": {"backoff_base": 0.01}}
    ) as bot:
        queue, store = bot.host.queue, bot.host.state
        assert isinstance(queue, CountingQueue)
        assert (await bot.post(one_webhook("a"))).status_code == 200
        await bot.idle(timeout=10)
        stats = await queue.stats()
        assert (stats.done, stats.dead) == (USERS, 0)
        assert queue.batches[0] == USERS  # the bad unit was in the first batch
        assert queue.single == 1  # its retry alone: the batch was not acked unit by unit
        number = bot.host.config.whatsapp.phone_number_id
        states = await store.get_many(
            [conversation_key(number, f"1650555{n:04d}") for n in range(USERS)]
        )
    assert [s.data.get("ok") if s else None for s in states] == [
        f"wamid.a.{n}" for n in range(USERS)
    ]


async def test_a_first_handling_sends_without_looking_in_the_outbox(tmp_path: Path) -> None:
    """A unit handled for the first time cannot have sent before: its replies go out without
    a read of the outbox; its retry reads before each send (and finds the first reply)."""

    class Replies:
        __name__ = "replies"

        @hookimpl
        async def on_message(self, ctx: Context) -> bool:
            await ctx.reply(text="one")
            if ctx.attempt == 1:
                raise RuntimeError("fails after the first reply")
            await ctx.reply(text="two")
            return True

    async with FakeGraph(token=TEST_TOKEN) as graph:
        config = {"whatsapp": {"graph_url": graph.url}}
        async with BotHarness(tmp_path, plugins=[Replies(), Backends()], config=config) as bot:
            store = bot.host.state
            assert isinstance(store, CountingStore)
            assert (await bot.post(make_text("hi", wamid="wamid.first"))).status_code == 200
            await bot.idle(timeout=10)
            assert (await bot.host.queue.stats()).done == 1
    # Attempt 1: no read; attempt 2: one read before each of its two sends.
    assert store.kv_reads == 2
    assert [m.text for m in graph.sent] == ["one", "two"]
