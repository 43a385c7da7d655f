"""The contract suites every queue and state backend passes (SQLite, memory, Redis, yours).

Subclass the contract in a test module and provide the fixtures, opened and closed::

    class TestMyQueue(QueueContract):
        @pytest.fixture
        async def queue(self, tmp_path):
            q = MyQueue(...)
            await q.open()
            yield q
            await q.close()

        @pytest.fixture  # optional: the ack + state changes tests
        async def queue_and_store(self, tmp_path):
            ...  # yield (queue, store); ideally queue.shares_transaction_with(store)

    class TestMyStore(StateStoreContract):
        @pytest.fixture
        async def store(self): ...

The suites change ``queue.dedupe_ttl``, ``queue.owner`` and ``store.ttl`` on the opened objects,
so a backend must read them when it writes or reads, not only in its constructor. Timings are small
(leases of 0.2 s), so each suite runs in seconds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import msgspec
import pytest

from wahost.queue.base import OWNER_CHECK_INTERVAL, Lease, LeaseLost, QueueBackend
from wahost.queue.owner import Owner, this_machine
from wahost.state.base import ConversationState, KVWrite, StateChanges, StateStore, now
from wahost.units import Unit

#: Seconds of a lease meant to expire during a test, and of one meant to outlive it.
SHORT = 0.2
LONG = 30.0


def make_unit(key: str, conversation: str = "pn1:u1", *, body: bytes | None = None) -> Unit:
    """A message unit of ``conversation`` (``"<phone_number_id>:<user>"``)."""
    phone_number_id, _, user = conversation.partition(":")
    payload = (
        body if body is not None else b'{"field":"messages","item":{"id":"%s"}}' % (key.encode())
    )
    return Unit(key, "message", phone_number_id, user or conversation, conversation, payload)


def keys(leases: list[Lease]) -> list[str]:
    return [lease.unit.key for lease in leases]


async def lease_one(queue: QueueBackend, *, lease_seconds: float = LONG) -> Lease:
    leases = await queue.lease(1, lease_seconds=lease_seconds)
    assert len(leases) == 1, leases
    return leases[0]


def dead_owner() -> Owner:
    """The owner identity of a process of this machine that has died since: a real process,
    started, named while it ran, then killed and reaped."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        return Owner.of_process(process.pid)
    finally:
        process.kill()
        process.wait()


def _require_owner_release(queue: QueueBackend) -> None:
    if type(queue).release_dead_owners is QueueBackend.release_dead_owners:
        pytest.skip("the backend releases no lease before it expires")
    if not this_machine():
        pytest.skip("no /proc here: a dead process cannot be told from a live one")


class QueueContract:
    """Every guarantee of :mod:`wahost.queue.base`. Needs an opened ``queue`` fixture."""

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    async def queue_and_store(self) -> tuple[QueueBackend, StateStore]:
        pytest.skip("the backend's test module provides no queue_and_store fixture")

    # -- enqueue and dedupe --------------------------------------------------------------

    async def test_ping(self, queue: QueueBackend) -> None:
        await queue.ping()

    async def test_empty_batch(self, queue: QueueBackend) -> None:
        assert await queue.enqueue([]) == 0
        assert await queue.lease(10, lease_seconds=LONG) == []

    async def test_unit_round_trip(self, queue: QueueBackend) -> None:
        unit = Unit("msg:1", "status", "pn9", "4915", "pn9:4915", b'{"x":"\xc3\xa9"}\x00\xff')
        assert await queue.enqueue([unit]) == 1
        before = now()
        lease = await lease_one(queue)
        assert lease.unit == unit
        assert lease.attempt == 1
        assert isinstance(lease.id, str) and isinstance(lease.token, str) and lease.token
        assert before + LONG - 1 <= lease.expires_at <= now() + LONG + 1

    async def test_duplicates_within_a_batch_count_once(self, queue: QueueBackend) -> None:
        a, b = make_unit("a", "p:1"), make_unit("b", "p:2")
        assert await queue.enqueue([a, a, b, a]) == 2
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a", "b"]

    async def test_duplicates_across_calls(self, queue: QueueBackend) -> None:
        assert await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")]) == 2
        assert await queue.enqueue([make_unit("b", "p:2"), make_unit("c", "p:3")]) == 1
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a", "b", "c"]

    async def test_enqueue_soon_stores_as_enqueue_does(self, queue: QueueBackend) -> None:
        """The ingress's hand-off: a future of enqueue's result, the units stored once it
        resolves, duplicates counted out as by enqueue."""
        future = queue.enqueue_soon([make_unit("a", "p:1"), make_unit("b", "p:2")])
        assert isinstance(future, asyncio.Future)
        assert await future == 2
        assert await queue.enqueue_soon([make_unit("b", "p:2"), make_unit("c", "p:3")]) == 1
        assert await queue.enqueue_soon([]) == 0
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a", "b", "c"]

    async def test_dedupe_outlives_ack_and_death(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")])
        a, b = await queue.lease(2, lease_seconds=LONG)
        await queue.ack(a)
        await queue.dead(b, error="boom")
        assert await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")]) == 0
        assert await queue.lease(10, lease_seconds=LONG) == []

    async def test_dedupe_expires(self, queue: QueueBackend) -> None:
        queue.dedupe_ttl = SHORT
        await queue.enqueue([make_unit("a")])
        await queue.ack(await lease_one(queue))
        assert await queue.enqueue([make_unit("a")]) == 0
        await asyncio.sleep(SHORT + 0.1)
        assert await queue.enqueue([make_unit("a")]) == 1
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a"]

    async def test_a_stored_unit_keeps_its_key_past_the_ttl(self, queue: QueueBackend) -> None:
        queue.dedupe_ttl = SHORT
        await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")])
        await queue.dead(await lease_one(queue), error="boom")  # a dies; b waits, unleased
        await asyncio.sleep(SHORT + 0.1)
        assert await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")]) == 0
        if purge := getattr(queue, "purge", None):  # a backend's purge of expired keys, if any
            await purge()
            assert await queue.enqueue([make_unit("a", "p:1"), make_unit("b", "p:2")]) == 0
        assert await queue.replay("a") is True
        assert sorted(keys(await queue.lease(10, lease_seconds=LONG))) == ["a", "b"]

    async def test_a_batch_becomes_visible_at_once(self, queue: QueueBackend) -> None:
        units = [make_unit(f"k{i}", f"p:{i}") for i in range(300)]

        async def first_nonempty_lease() -> list[Lease]:
            for _ in range(100_000):
                if leases := await queue.lease(1000, lease_seconds=LONG):
                    return leases
                await asyncio.sleep(0)
            raise AssertionError("the batch never became visible")

        poller = asyncio.create_task(first_nonempty_lease())
        await asyncio.sleep(0)
        assert await queue.enqueue(units) == 300
        assert sorted(keys(await poller)) == sorted(u.key for u in units)

    # -- ordering and leases -------------------------------------------------------------

    async def test_one_conversation_in_arrival_order(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit(k) for k in ("a1", "a2", "a3")])
        for expected in ("a1", "a2", "a3"):
            leases = await queue.lease(10, lease_seconds=LONG)
            assert keys(leases) == [expected]
            assert await queue.lease(10, lease_seconds=LONG) == []  # one at a time
            await queue.ack(leases[0])
        assert await queue.lease(10, lease_seconds=LONG) == []

    async def test_conversations_leased_together_oldest_first(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1", "p:a"), make_unit("b1", "p:b")])
        await queue.enqueue([make_unit("a2", "p:a"), make_unit("c1", "p:c")])
        await queue.enqueue([make_unit("d1", "p:d")])
        assert keys(await queue.lease(3, lease_seconds=LONG)) == ["a1", "b1", "c1"]
        assert keys(await queue.lease(3, lease_seconds=LONG)) == ["d1"]

    async def test_a_busy_conversation_does_not_block_others(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a")])
        await lease_one(queue)
        await queue.enqueue([make_unit("b1", "p:b")])
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["b1"]

    async def test_concurrent_leases_never_share(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit(f"{c}-{n}", f"p:{c}") for n in range(3) for c in range(20)])
        batches = await asyncio.gather(*(queue.lease(5, lease_seconds=LONG) for _ in range(8)))
        leased = [lease for batch in batches for lease in batch]
        assert sorted(keys(leased)) == sorted(f"{c}-0" for c in range(20))

    async def test_expired_lease_is_handed_out_again(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        stale = await lease_one(queue, lease_seconds=SHORT)
        assert await queue.lease(10, lease_seconds=SHORT) == []
        await asyncio.sleep(SHORT + 0.1)
        fresh = await lease_one(queue)
        assert (fresh.unit, fresh.attempt) == (stale.unit, 2)
        assert fresh.token != stale.token
        for call in (
            queue.ack(stale),
            queue.retry(stale, delay=0, error="x"),
            queue.dead(stale, error="x"),
            queue.extend(stale, lease_seconds=LONG),
        ):
            with pytest.raises(LeaseLost):
                await call
        await queue.ack(fresh)
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a2"]

    async def test_extend_keeps_the_lease(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1")])
        lease = await lease_one(queue, lease_seconds=SHORT)
        await queue.extend(lease, lease_seconds=LONG)
        await asyncio.sleep(SHORT + 0.1)
        assert await queue.lease(10, lease_seconds=LONG) == []
        await queue.ack(lease)

    async def test_ack_twice_is_lease_lost(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1")])
        lease = await lease_one(queue)
        await queue.ack(lease)
        with pytest.raises(LeaseLost):
            await queue.ack(lease)

    # -- retry and dead ------------------------------------------------------------------

    async def test_retry_blocks_its_conversation_until_due(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a")])
        await queue.enqueue([make_unit("b1", "p:b")])
        a1, b1 = await queue.lease(10, lease_seconds=LONG)
        await queue.retry(a1, delay=SHORT, error="flaky")
        with pytest.raises(LeaseLost):
            await queue.ack(a1)
        await queue.ack(b1)
        assert await queue.lease(10, lease_seconds=LONG) == []  # a2 waits behind a1
        await asyncio.sleep(SHORT + 0.1)
        again = await lease_one(queue)
        assert (again.unit.key, again.attempt) == ("a1", 2)

    async def test_retry_without_delay(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        await queue.retry(await lease_one(queue), delay=0, error="x")
        again = await lease_one(queue)
        assert (again.unit.key, again.attempt) == ("a1", 2)

    async def test_dead_is_kept_and_does_not_block(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        first = await lease_one(queue)
        await queue.retry(first, delay=0, error="flaky")
        second = await lease_one(queue)
        before = now()
        await queue.dead(second, error="boom")
        with pytest.raises(LeaseLost):
            await queue.ack(second)
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a2"]
        [dead] = await queue.list_dead()
        assert (dead.unit, dead.attempts, dead.error) == (first.unit, 2, "boom")
        assert before - 1 <= dead.died_at <= now() + 1

    async def test_list_dead_oldest_first_with_limit(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit(f"k{i}", f"p:{i}") for i in range(3)])
        for lease in await queue.lease(3, lease_seconds=LONG):
            await queue.dead(lease, error=lease.unit.key)
            await asyncio.sleep(0.01)
        assert [d.error for d in await queue.list_dead()] == ["k0", "k1", "k2"]
        assert [d.unit.key for d in await queue.list_dead(limit=2)] == ["k0", "k1"]

    # -- replay --------------------------------------------------------------------------

    async def test_replay_restores_the_original_position(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2"), make_unit("a3")])
        await queue.dead(await lease_one(queue), error="boom")
        assert await queue.replay("a1") is True
        assert await queue.list_dead() == []
        for expected in ("a1", "a2", "a3"):
            lease = await lease_one(queue)
            assert (lease.unit.key, lease.attempt) == (expected, 1)
            await queue.ack(lease)

    async def test_replay_of_unknown_or_live_key(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1")])
        assert await queue.replay("nope") is False
        assert await queue.replay("a1") is False
        await lease_one(queue)
        assert await queue.replay("a1") is False

    async def test_replay_after_later_units_were_done(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        await queue.dead(await lease_one(queue), error="boom")
        await queue.ack(await lease_one(queue))
        assert await queue.replay("a1") is True
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a1"]

    async def test_replay_waits_for_a_leased_later_unit(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2"), make_unit("a3")])
        await queue.dead(await lease_one(queue), error="boom")
        a2 = await lease_one(queue)
        assert await queue.replay("a1") is True
        assert await queue.lease(10, lease_seconds=LONG) == []  # still one at a time
        await queue.ack(a2)
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a1"]

    async def test_replay_overtakes_an_expired_later_lease(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        await queue.dead(await lease_one(queue), error="boom")
        a2 = await lease_one(queue, lease_seconds=SHORT)
        await queue.replay("a1")
        await asyncio.sleep(SHORT + 0.1)
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a1"]
        with pytest.raises(LeaseLost):  # never two units of a conversation at once
            await queue.ack(a2)

    async def test_replay_all(self, queue: QueueBackend) -> None:
        units = [make_unit("a1", "p:a"), make_unit("a2", "p:a"), make_unit("b1", "p:b")]
        await queue.enqueue(units)
        for _ in range(3):
            await queue.dead(await lease_one(queue), error="boom")
        assert await queue.replay_all() == 3
        assert await queue.list_dead() == []
        leases = await queue.lease(10, lease_seconds=LONG)
        assert [(lease.unit.key, lease.attempt) for lease in leases] == [("a1", 1), ("b1", 1)]
        assert await queue.replay_all() == 0

    # -- owners --------------------------------------------------------------------------

    async def test_a_dead_owners_leases_are_released_in_place(self, queue: QueueBackend) -> None:
        _require_owner_release(queue)
        await queue.enqueue([make_unit("c1", "p:c")])
        await queue.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a")])
        await queue.enqueue([make_unit("b1", "p:b")])
        live = await lease_one(queue)
        me, queue.owner = queue.owner, dead_owner()
        try:  # leases taken by a process that died since
            stale = await queue.lease(10, lease_seconds=LONG)
        finally:
            queue.owner = me
        assert (live.unit.key, keys(stale)) == ("c1", ["a1", "b1"])
        assert await queue.release_dead_owners() == 2
        fresh = await queue.lease(10, lease_seconds=LONG)
        assert [(lease.unit.key, lease.attempt) for lease in fresh] == [("a1", 2), ("b1", 2)]
        for lease in stale:
            with pytest.raises(LeaseLost):
                await queue.ack(lease)
        assert await queue.release_dead_owners() == 0
        await queue.ack(live)  # a live owner's lease is never taken
        await queue.ack(fresh[0])
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a2"]  # after a1, as ever

    async def test_leasing_finds_a_dead_owners_leases(self, queue: QueueBackend) -> None:
        """Without a call of ``release_dead_owners``: ``lease`` looks by itself, at most every
        ``OWNER_CHECK_INTERVAL`` seconds, long before the lease would expire."""
        _require_owner_release(queue)
        await queue.enqueue([make_unit("a1"), make_unit("a2")])
        me, queue.owner = queue.owner, dead_owner()
        try:
            stale = await lease_one(queue)
        finally:
            queue.owner = me
        deadline = time.monotonic() + OWNER_CHECK_INTERVAL + 2
        while not (leases := await queue.lease(10, lease_seconds=LONG)):
            assert time.monotonic() < deadline, "the dead owner's lease was not released"
            await asyncio.sleep(0.05)
        assert [(lease.unit.key, lease.attempt) for lease in leases] == [("a1", 2)]
        with pytest.raises(LeaseLost):
            await queue.ack(stale)

    # -- quarantine, stats ---------------------------------------------------------------

    async def test_quarantine_round_trip(self, queue: QueueBackend) -> None:
        before = now()
        await queue.quarantine(b'{"object":', "truncated JSON")
        await queue.quarantine(b"\x00\xff", "not JSON")
        first, second = await queue.list_quarantine()
        assert (first.body, first.reason) == (b'{"object":', "truncated JSON")
        assert (second.body, second.reason) == (b"\x00\xff", "not JSON")
        assert first.id != second.id
        assert before - 1 <= first.received_at <= now() + 1
        assert [q.reason for q in await queue.list_quarantine(limit=1)] == ["truncated JSON"]

    async def test_stats(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit(k, f"p:{k}") for k in "abcde"])
        _a, b = await queue.lease(2, lease_seconds=LONG)
        await queue.retry(b, delay=LONG, error="later")
        await queue.dead(await lease_one(queue), error="boom")  # c
        await queue.ack(await lease_one(queue))  # d
        await queue.quarantine(b"?", "bad")
        stats = await queue.stats()
        assert (stats.ready, stats.leased, stats.waiting_retry) == (1, 1, 1)
        assert (stats.dead, stats.done, stats.quarantined, stats.dedupe_keys) == (1, 1, 1, 5)

    # -- ack with state changes ----------------------------------------------------------

    @staticmethod
    def _changes(unit_key: str, step: str) -> StateChanges:
        return StateChanges(
            unit_key,
            conversations={"p:a": ConversationState(name=step, data={"step": step})},
            kv=[KVWrite("ns", "k", step.encode())],
        )

    async def test_ack_applies_state_changes(
        self, queue_and_store: tuple[QueueBackend, StateStore]
    ) -> None:
        queue, store = queue_and_store
        await queue.enqueue([make_unit("a1", "p:a")])
        lease = await lease_one(queue)
        changes = self._changes("a1", "one")
        if queue.shares_transaction_with(store):
            await queue.ack(lease, changes)
        else:  # the worker's path for separate backends
            assert await store.apply(changes) is True
            await queue.ack(lease)
        state = await store.get("p:a")
        assert state is not None and (state.name, state.data) == ("one", {"step": "one"})
        assert await store.kv_get("ns", "k") == b"one"
        assert await store.is_applied("a1")

    async def test_lost_ack_applies_nothing(
        self, queue_and_store: tuple[QueueBackend, StateStore]
    ) -> None:
        queue, store = queue_and_store
        if not queue.shares_transaction_with(store):
            pytest.skip("the queue does not apply state changes in its ack")
        await queue.enqueue([make_unit("a1", "p:a")])
        stale = await lease_one(queue, lease_seconds=SHORT)
        await asyncio.sleep(SHORT + 0.1)
        await lease_one(queue)
        with pytest.raises(LeaseLost):
            await queue.ack(stale, self._changes("a1", "stale"))
        assert await store.get("p:a") is None
        assert await store.kv_get("ns", "k") is None
        assert not await store.is_applied("a1")

    async def test_ack_does_not_reapply_applied_changes(
        self, queue_and_store: tuple[QueueBackend, StateStore]
    ) -> None:
        queue, store = queue_and_store
        if not queue.shares_transaction_with(store):
            pytest.skip("the queue does not apply state changes in its ack")
        await queue.enqueue([make_unit("a1", "p:a")])
        lease = await lease_one(queue)
        assert await store.apply(self._changes("a1", "first"))  # e.g. before a crash
        await queue.ack(lease, self._changes("a1", "second"))
        state = await store.get("p:a")
        assert state is not None and state.name == "first"
        assert await store.kv_get("ns", "k") == b"first"

    # -- first handling ------------------------------------------------------------------

    async def test_first_handling_is_never_claimed_for_a_unit_handed_out_before(
        self, queue: QueueBackend
    ) -> None:
        """``Lease.first_handling`` may be ``False`` whenever the backend cannot tell, but
        never ``True`` for a retry, an expired lease or a replay: the outbox would then send
        again what an earlier handling sent."""
        await queue.enqueue([make_unit("a1", "pn1:a"), make_unit("b1", "pn1:b")])
        first = {lease.unit.key: lease for lease in await queue.lease(2, lease_seconds=SHORT)}
        await queue.retry(first["a1"], delay=0, error="boom")
        await asyncio.sleep(SHORT + 0.1)  # b1's lease expires
        again = {lease.unit.key: lease for lease in await queue.lease(2, lease_seconds=LONG)}
        assert not again["a1"].first_handling and not again["b1"].first_handling
        await queue.dead(again["a1"], error="boom")
        assert await queue.replay("a1")
        [replayed] = await queue.lease(1, lease_seconds=LONG)
        assert replayed.unit.key == "a1" and replayed.attempt == 1
        assert not replayed.first_handling

    # -- several acks in one call --------------------------------------------------------

    async def test_ack_many_refuses_only_the_stale_lease(self, queue: QueueBackend) -> None:
        await queue.enqueue([make_unit(key, f"pn1:{key}") for key in ("a1", "b1", "c1")])
        first, second, third = sorted(
            await queue.lease(3, lease_seconds=LONG), key=lambda lease: lease.unit.key
        )
        stale = msgspec.structs.replace(third, token="not-the-holder")
        outcomes = await queue.ack_many([(first, None), (stale, None), (second, None)])
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], LeaseLost)
        assert await queue.lease(3, lease_seconds=LONG) == []  # c1 is still leased
        await queue.ack(third)
        assert (await queue.stats()).done == 3
        assert await queue.ack_many([]) == []

    async def test_ack_many_moves_each_conversation_on(self, queue: QueueBackend) -> None:
        await queue.enqueue(
            [make_unit("a1", "pn1:a"), make_unit("b1", "pn1:b"), make_unit("a2", "pn1:a")]
        )
        leases = await queue.lease(10, lease_seconds=LONG)
        assert sorted(keys(leases)) == ["a1", "b1"]
        assert await queue.ack_many([(lease, None) for lease in leases]) == [None, None]
        assert keys(await queue.lease(10, lease_seconds=LONG)) == ["a2"]

    async def test_ack_many_applies_each_units_changes(
        self, queue_and_store: tuple[QueueBackend, StateStore]
    ) -> None:
        queue, store = queue_and_store
        if not queue.shares_transaction_with(store):
            pytest.skip("the queue does not apply state changes in its ack")
        await queue.enqueue([make_unit(key, f"pn1:{key}") for key in ("a1", "b1", "c1")])
        leases = {lease.unit.key: lease for lease in await queue.lease(3, lease_seconds=LONG)}
        bad = StateChanges("b1", conversations={"p:b": ConversationState(data={"x": object()})})
        outcomes = await queue.ack_many(
            [
                (leases["a1"], self._changes("a1", "one")),
                (leases["b1"], bad),  # cannot be stored: that unit alone fails
                (leases["c1"], StateChanges("c1", {"p:c": ConversationState(name="c")})),
            ]
        )
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], Exception)
        a, c = await store.get("p:a"), await store.get("p:c")
        assert a is not None and a.name == "one" and c is not None and c.name == "c"
        assert await store.kv_get("ns", "k") == b"one"
        assert await store.get("p:b") is None
        await queue.ack(leases["b1"], StateChanges("b1", {"p:b": ConversationState(name="b")}))
        b = await store.get("p:b")
        assert b is not None and b.name == "b"
        assert (await queue.stats()).done == 3


class StateStoreContract:
    """Every guarantee of :mod:`wahost.state.base`. Needs an opened ``store`` fixture."""

    pytestmark = pytest.mark.asyncio

    DATA: dict[str, Any] = {"n": 1, "items": ["a", "é"], "nested": {"x": None, "f": 1.5}}

    async def test_ping(self, store: StateStore) -> None:
        await store.ping()

    # -- conversations -------------------------------------------------------------------

    async def test_set_get_round_trip(self, store: StateStore) -> None:
        assert await store.get("p:1") is None
        before = now()
        await store.set("p:1", ConversationState(name="menu", data=self.DATA))
        state = await store.get("p:1")
        assert state is not None and (state.name, state.data) == ("menu", self.DATA)
        assert before - 1 <= state.updated_at <= now() + 1
        assert await store.get("p:2") is None

    async def test_get_many_in_order(self, store: StateStore) -> None:
        await store.set("p:1", ConversationState(name="one", data=self.DATA))
        await store.set("p:3", ConversationState(name="three"))
        found = await store.get_many(["p:3", "p:2", "p:1", "p:3"])
        assert [state.name if state else None for state in found] == [
            "three",
            None,
            "one",
            "three",
        ]
        assert found[2] is not None and found[2].data == self.DATA
        assert await store.get_many([]) == []

    async def test_set_replaces(self, store: StateStore) -> None:
        await store.set("p:1", ConversationState(name="a", data={"x": 1}))
        await store.set("p:1", ConversationState(data={"y": 2}))
        state = await store.get("p:1")
        assert state is not None and (state.name, state.data) == (None, {"y": 2})

    async def test_update(self, store: StateStore) -> None:
        seen: list[ConversationState | None] = []

        def step(state: ConversationState | None) -> ConversationState:
            seen.append(state)
            n = 0 if state is None else state.data["n"]
            return ConversationState(name="counting", data={"n": n + 1})

        first = await store.update("p:1", step)
        assert first is not None and first.data == {"n": 1} and seen == [None]
        second = await store.update("p:1", step)
        assert second is not None and second.data == {"n": 2}
        assert seen[1] is not None and seen[1].data == {"n": 1}
        assert await store.update("p:1", lambda state: None) is None
        assert await store.get("p:1") is None

    async def test_concurrent_updates_are_atomic(self, store: StateStore) -> None:
        def increment(state: ConversationState | None) -> ConversationState:
            n = 0 if state is None else state.data["n"]
            return ConversationState(data={"n": n + 1})

        await asyncio.gather(*(store.update("p:1", increment) for _ in range(50)))
        state = await store.get("p:1")
        assert state is not None and state.data == {"n": 50}

    async def test_clear(self, store: StateStore) -> None:
        await store.set("p:1", ConversationState(name="a"))
        await store.clear("p:1")
        await store.clear("p:never")
        assert await store.get("p:1") is None

    async def test_ttl_counts_from_the_last_write(self, store: StateStore) -> None:
        store.ttl = 0.5
        await store.set("p:1", ConversationState(name="a"))
        await asyncio.sleep(0.3)
        await store.update("p:1", lambda state: ConversationState(name="b"))
        await asyncio.sleep(0.3)  # 0.6 s after the first write, 0.3 s after the last
        state = await store.get("p:1")
        assert state is not None and state.name == "b"
        await asyncio.sleep(0.3)
        assert await store.get("p:1") is None
        assert await store.get_many(["p:1"]) == [None]
        assert await store.update("p:1", lambda state: state) is None

    # -- namespaced key-value ------------------------------------------------------------

    async def test_kv_set_get_delete(self, store: StateStore) -> None:
        assert await store.kv_get("ns", "k") is None
        await store.kv_set("ns", "k", b"\x00v1")
        await store.kv_set("other", "k", b"other")
        assert await store.kv_get("ns", "k") == b"\x00v1"
        await store.kv_set("ns", "k", b"v2")
        assert await store.kv_get("ns", "k") == b"v2"
        await store.kv_delete("ns", "k")
        await store.kv_delete("ns", "never")
        assert await store.kv_get("ns", "k") is None
        assert await store.kv_get("other", "k") == b"other"

    async def test_kv_get_many_reads_each_pair_in_order(self, store: StateStore) -> None:
        await store.kv_set("ns", "a", b"1")
        await store.kv_set("other", "a", b"other")
        await store.kv_set("ns", "short", b"v", ttl=SHORT)
        assert await store.kv_get_many([]) == []
        await asyncio.sleep(SHORT + 0.1)
        pairs = [("other", "a"), ("ns", "missing"), ("ns", "a"), ("ns", "short")]
        assert await store.kv_get_many(pairs) == [b"other", None, b"1", None]

    async def test_kv_write_applies_sets_and_deletes_in_order(self, store: StateStore) -> None:
        await store.kv_set("ns", "gone", b"old")
        await store.kv_write(
            [
                KVWrite("ns", "a", b"1"),
                KVWrite("ns", "b", b"2", ttl=SHORT),
                KVWrite("ns", "gone", None),
                KVWrite("ns", "a", b"again"),  # a later write of a key wins
            ]
        )
        assert await store.kv_get("ns", "a") == b"again"
        assert await store.kv_get("ns", "b") == b"2"
        assert await store.kv_get("ns", "gone") is None
        await asyncio.sleep(SHORT + 0.1)
        assert await store.kv_get("ns", "b") is None
        await store.kv_write([])

    async def test_kv_ttl(self, store: StateStore) -> None:
        await store.kv_set("ns", "short", b"v", ttl=SHORT)
        await store.kv_set("ns", "kept", b"v", ttl=SHORT)
        await store.kv_set("ns", "kept", b"w")  # a set without ttl keeps the key forever
        assert await store.kv_get("ns", "short") == b"v"
        await asyncio.sleep(SHORT + 0.1)
        assert await store.kv_get("ns", "short") is None
        assert await store.kv_get("ns", "kept") == b"w"

    async def test_kv_add(self, store: StateStore) -> None:
        assert await store.kv_add("ns", "k", b"first") is True
        assert await store.kv_add("ns", "k", b"second") is False
        assert await store.kv_get("ns", "k") == b"first"
        await store.kv_delete("ns", "k")
        assert await store.kv_add("ns", "k", b"third", ttl=SHORT) is True
        await asyncio.sleep(SHORT + 0.1)
        assert await store.kv_add("ns", "k", b"fourth") is True
        assert await store.kv_get("ns", "k") == b"fourth"

    async def test_kv_add_has_one_winner(self, store: StateStore) -> None:
        results = await asyncio.gather(
            *(store.kv_add("ns", "lock", str(i).encode()) for i in range(20))
        )
        assert results.count(True) == 1
        assert await store.kv_get("ns", "lock") == str(results.index(True)).encode()

    async def test_kv_scan(self, store: StateStore) -> None:
        for key in ("b", "ab", "a", "ac", "a/é", "b/1", "a\U0010ffff"):
            await store.kv_set("ns", key, key.encode())
        await store.kv_set("ns", "ad", b"gone", ttl=SHORT)
        await store.kv_set("other", "aa", b"other")
        await asyncio.sleep(SHORT + 0.1)
        everything = await store.kv_scan("ns")
        assert [k for k, _ in everything] == ["a", "a/é", "ab", "ac", "a\U0010ffff", "b", "b/1"]
        assert all(value == key.encode() for key, value in everything)
        assert [k for k, _ in await store.kv_scan("ns", "a")] == [
            "a",
            "a/é",
            "ab",
            "ac",
            "a\U0010ffff",
        ]
        assert [k for k, _ in await store.kv_scan("ns", "a", limit=2)] == ["a", "a/é"]
        assert [k for k, _ in await store.kv_scan("ns", "b/")] == ["b/1"]
        assert await store.kv_scan("ns", "zz") == []
        assert await store.kv_scan("empty") == []

    async def test_kv_count(self, store: StateStore) -> None:
        for key in ("a", "b", "c"):
            await store.kv_set("ns", key, b"x" * 10_000)
        await store.kv_set("ns", "gone", b"x", ttl=SHORT)
        await store.kv_set("other", "a", b"x")
        await asyncio.sleep(SHORT + 0.1)
        assert await store.kv_count("ns") == 3
        assert await store.kv_count("ns", limit=2) == 2
        assert await store.kv_count("empty") == 0

    # -- unit commits --------------------------------------------------------------------

    async def test_apply_writes_everything(self, store: StateStore) -> None:
        await store.set("p:old", ConversationState(name="old"))
        await store.kv_set("ns", "gone", b"x")
        changes = StateChanges(
            "msg:1",
            conversations={"p:1": ConversationState(name="a", data=self.DATA), "p:old": None},
            kv=[
                KVWrite("ns", "k", b"v"),
                KVWrite("ns", "brief", b"v", ttl=SHORT),
                KVWrite("ns", "gone", None),
            ],
        )
        assert not await store.is_applied("msg:1")
        assert await store.apply(changes) is True
        assert await store.is_applied("msg:1")
        state = await store.get("p:1")
        assert state is not None and (state.name, state.data) == ("a", self.DATA)
        assert await store.get("p:old") is None
        assert await store.kv_get("ns", "k") == b"v"
        assert await store.kv_get("ns", "gone") is None
        await asyncio.sleep(SHORT + 0.1)
        assert await store.kv_get("ns", "brief") is None

    async def test_apply_is_idempotent(self, store: StateStore) -> None:
        first = StateChanges(
            "msg:1", {"p:1": ConversationState(name="a")}, [KVWrite("n", "k", b"1")]
        )
        again = StateChanges(
            "msg:1", {"p:1": ConversationState(name="b")}, [KVWrite("n", "k", b"2")]
        )
        assert await store.apply(first) is True
        assert await store.apply(again) is False
        state = await store.get("p:1")
        assert state is not None and state.name == "a"
        assert await store.kv_get("n", "k") == b"1"

    async def test_apply_empty_changes_marks_the_unit(self, store: StateStore) -> None:
        assert await store.apply(StateChanges("msg:1")) is True
        assert await store.is_applied("msg:1")
        assert await store.apply(StateChanges("msg:1")) is False
        assert not await store.is_applied("msg:2")

    async def test_failed_apply_writes_nothing(self, store: StateStore) -> None:
        bad = StateChanges(
            "msg:1",
            conversations={
                "p:1": ConversationState(name="fine"),
                "p:2": ConversationState(data={"x": object()}),  # not JSON
            },
            kv=[KVWrite("ns", "k", b"v")],
        )
        with pytest.raises(Exception):  # noqa: B017  # the backend's encoding error
            await store.apply(bad)
        assert not await store.is_applied("msg:1")
        assert await store.get("p:1") is None
        assert await store.kv_get("ns", "k") is None
