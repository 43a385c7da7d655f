"""The in-memory queue — for tests only: nothing survives a restart."""

from __future__ import annotations

import bisect
import heapq
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from wahost.queue.base import (
    OWNER_CHECK_INTERVAL,
    DeadUnit,
    Lease,
    LeaseLost,
    QuarantinedBody,
    QueueBackend,
    QueueStats,
)
from wahost.queue.owner import known_dead
from wahost.state.base import StateChanges, StateStore, now
from wahost.state.memory import MemoryStateStore
from wahost.unit_stamp import received_at
from wahost.units import Unit

QUEUED, LEASED, DEAD = 0, 1, 3


@dataclass(slots=True)
class _Item:
    id: int
    unit: Unit
    state: int = QUEUED
    #: QUEUED: leasable from then (a retry time or 0); LEASED: the lease's expiry.
    available_at: float = 0.0
    attempts: int = 0
    token: str | None = None
    #: LEASED: who holds the lease (``str(queue.owner)`` when it was taken).
    owner: str = ""
    error: str = ""
    died_at: float = 0.0


class MemoryQueue(QueueBackend):
    """A queue in this process's memory — for tests only: nothing survives a restart.

    It follows the same rules as :class:`wahost.queue.sqlite.SQLiteQueue` (read its module
    docstring for replay and expired-lease details). Give it ``store`` to have
    ``ack(lease, changes)`` apply the changes to that :class:`MemoryStateStore` atomically.
    Methods never await midway, so each is atomic with respect to other asyncio tasks; it is
    not thread-safe. ``lease`` looks at every conversation (fine for tests, not for 100k).
    """

    name = "memory"

    def __init__(
        self, *, dedupe_ttl: float = 8 * 86400, store: MemoryStateStore | None = None
    ) -> None:
        super().__init__(dedupe_ttl=dedupe_ttl)
        self.store = store
        self._ids = itertools.count(1)
        self._items: dict[int, _Item] = {}
        self._by_key: dict[str, int] = {}
        #: Per conversation, the ids of its unfinished units, sorted.
        self._lanes: dict[str, list[int]] = {}
        self._lane_leased: dict[str, int] = {}
        self._dedupe: dict[str, float] = {}
        self._quarantine: list[QuarantinedBody] = []
        self._done = 0
        self._next_owner_check = 0.0

    def shares_transaction_with(self, store: StateStore) -> bool:
        return store is self.store

    async def ping(self) -> None:
        return None

    async def enqueue(self, units: Sequence[Unit]) -> int:
        at = now()
        self._purge_dedupe(at)
        added = 0
        for unit in units:
            if self._dedupe.get(unit.key, 0.0) > at or unit.key in self._by_key:
                continue
            self._dedupe.pop(unit.key, None)  # re-insert at the end: keep expiry order
            self._dedupe[unit.key] = at + self.dedupe_ttl
            item = _Item(next(self._ids), unit)
            self._items[item.id] = item
            self._by_key[unit.key] = item.id
            self._lanes.setdefault(unit.conversation, []).append(item.id)
            added += 1
        return added

    def _lane_available_at(self, conversation: str, lane: list[int]) -> float:
        available_at = self._items[lane[0]].available_at
        leased = self._items.get(self._lane_leased.get(conversation, 0))
        if leased is not None and leased.state == LEASED:
            # Blocked while any unit is leased (a replayed older unit waits for it).
            available_at = max(available_at, leased.available_at)
        return available_at

    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        at = now()
        if at >= self._next_owner_check:
            self._next_owner_check = at + OWNER_CHECK_INTERVAL
            self._release_dead_owners()
        owner = str(self.owner)
        candidates = (
            (lane[0], conversation)
            for conversation, lane in self._lanes.items()
            if self._lane_available_at(conversation, lane) <= at
        )
        token = secrets.token_hex(8)
        leases = []
        for head_id, conversation in heapq.nsmallest(max(limit, 0), candidates):
            previous = self._items.get(self._lane_leased.get(conversation, 0))
            if previous is not None and previous.id != head_id and previous.state == LEASED:
                previous.state, previous.token, previous.available_at = QUEUED, None, 0.0
            item = self._items[head_id]
            item.state, item.token, item.available_at = LEASED, token, at + lease_seconds
            item.owner = owner
            item.attempts += 1
            self._lane_leased[conversation] = head_id
            first = item.attempts == 1 and not item.died_at  # died_at stays after a replay
            leases.append(
                Lease(
                    item.unit,
                    str(head_id),
                    item.attempts,
                    token,
                    item.available_at,
                    first_handling=first,
                )
            )
        return leases

    async def release_dead_owners(self) -> int:
        return self._release_dead_owners()

    def _release_dead_owners(self) -> int:
        me = str(self.owner)
        held = [i for i in self._items.values() if i.state == LEASED and i.owner != me]
        dead = {owner for owner in {i.owner for i in held} if known_dead(owner)}
        released = [i for i in held if i.owner in dead]
        for item in released:
            # As an expired lease: leasable now, at its place in its lane (the lane's leased
            # mark no longer blocks once the item is not LEASED).
            item.state, item.token, item.available_at, item.owner = QUEUED, None, 0.0, ""
        return len(released)

    def _take(self, lease: Lease) -> _Item:
        item = self._items.get(int(lease.id))
        if item is None or item.state != LEASED or item.token != lease.token:
            raise LeaseLost(lease.unit.key)
        return item

    def _leave_lane(self, item: _Item) -> None:
        conversation = item.unit.conversation
        lane = self._lanes[conversation]
        lane.pop(bisect.bisect_left(lane, item.id))
        if not lane:
            del self._lanes[conversation]
        if self._lane_leased.get(conversation) == item.id:
            del self._lane_leased[conversation]

    async def extend(self, lease: Lease, *, lease_seconds: float) -> None:
        self._take(lease).available_at = now() + lease_seconds

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        item = self._take(lease)
        if changes is not None and self.store is not None:
            self.store.apply_now(changes)  # may raise (data not JSON-able): nothing acked
        self._leave_lane(item)
        del self._items[item.id]
        del self._by_key[item.unit.key]
        self._done += 1

    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        item = self._take(lease)
        item.state, item.token, item.error = QUEUED, None, error
        item.available_at = now() + max(delay, 0.0)

    async def dead(self, lease: Lease, *, error: str) -> None:
        item = self._take(lease)
        item.state, item.token, item.error, item.died_at = DEAD, None, error, now()
        self._leave_lane(item)

    async def list_dead(self, *, limit: int = 100) -> list[DeadUnit]:
        dead = sorted(
            (i for i in self._items.values() if i.state == DEAD), key=lambda i: (i.died_at, i.id)
        )
        return [DeadUnit(i.unit, i.attempts, i.error, i.died_at) for i in dead[: max(limit, 0)]]

    def _replay(self, item: _Item) -> None:
        item.state, item.attempts, item.available_at, item.error = QUEUED, 0, 0.0, ""
        # Back under its original id, hence at its original place in the lane.
        bisect.insort(self._lanes.setdefault(item.unit.conversation, []), item.id)

    async def replay(self, key: str) -> bool:
        item = self._items.get(self._by_key.get(key, 0))
        if item is None or item.state != DEAD:
            return False
        self._replay(item)
        return True

    async def replay_all(self) -> int:
        dead = [i for i in self._items.values() if i.state == DEAD]
        for item in dead:
            self._replay(item)
        return len(dead)

    async def quarantine(self, body: bytes, reason: str) -> None:
        entry = QuarantinedBody(str(len(self._quarantine) + 1), now(), reason, bytes(body))
        self._quarantine.append(entry)

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantinedBody]:
        return self._quarantine[: max(limit, 0)]

    async def stats(self) -> QueueStats:
        at = now()
        states = [(i.state, i.available_at) for i in self._items.values()]
        return QueueStats(
            ready=sum(1 for s, a in states if s == QUEUED and a <= at),
            leased=sum(1 for s, _ in states if s == LEASED),
            waiting_retry=sum(1 for s, a in states if s == QUEUED and a > at),
            dead=sum(1 for s, _ in states if s == DEAD),
            done=self._done,
            quarantined=len(self._quarantine),
            dedupe_keys=sum(1 for expires_at in self._dedupe.values() if expires_at > at),
            oldest_received_at=next(
                (received_at(i.unit) for i in self._items.values() if i.state != DEAD), None
            ),
        )

    def _purge_dedupe(self, at: float) -> None:
        # Keys are inserted in expiry order (one TTL), so the expired ones are at the front.
        while self._dedupe:
            key, expires_at = next(iter(self._dedupe.items()))
            if expires_at > at:
                break
            del self._dedupe[key]
