"""The queue contract: durable, deduplicated, leased, ordered per conversation.

The guarantees every backend gives (and :mod:`wahost.testing.contracts` checks):

* ``enqueue`` stores a webhook's units in one atomic step, or raises :class:`QueueUnavailable`
  and stores none of them. A unit whose key was enqueued within ``dedupe_ttl`` is accepted but
  not stored again.
* ``lease`` hands out a unit to one caller at a time. A unit is leasable only when it is the
  oldest unfinished unit of its conversation, and at most one unit per conversation is leased at
  once: handling is sequential and in arrival order per conversation, across any number of
  workers. A unit waiting for a retry blocks its conversation until then (order over speed);
  a *dead* unit does not (the conversation moves on).
* A lease that is neither acked, retried nor parked before it expires is handed out again
  (the worker died). The stale holder's later ``ack`` raises :class:`LeaseLost`.
* Each lease is stamped with the :attr:`QueueBackend.owner` of the queue that took it. A
  backend that can tell may release the leases of an owner known to be dead
  (:mod:`wahost.queue.owner`) before they expire — when it opens and, at most every
  :data:`OWNER_CHECK_INTERVAL` seconds, when it leases — as if they had expired: the unit
  keeps its place in its conversation, its next lease is its next attempt, and the dead
  holder's ``ack`` raises :class:`LeaseLost`. A live owner's leases are never taken.
* ``ack`` finishes a unit and, when given the unit's :class:`StateChanges`, applies them in the
  same transaction where the backend can (``shares_transaction_with``); otherwise the worker
  applies them through the idempotent :meth:`StateStore.apply` first.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping, Sequence

import msgspec
import structlog

from wahost.errors import LeaseLost as LeaseLost
from wahost.errors import QueueUnavailable as QueueUnavailable
from wahost.queue.owner import Owner
from wahost.state.base import StateChanges, StateStore
from wahost.units import Unit

#: Least seconds between two looks for dead owners' leases while leasing (each costs a read of
#: the owners holding leases, and a look at their processes).
OWNER_CHECK_INTERVAL = 1.0

log = structlog.get_logger("wahost.queue")


def log_released(released: Mapping[str, int]) -> None:
    """Log, per dead owner, how many of its leases a backend released."""
    for owner, units in released.items():
        # A dead owner whose units were all finished has nothing to release: forgetting its
        # record is no news for an operator.
        if units:
            log.warning("leases of a dead worker released", owner=owner, units=units)
        else:
            log.debug("record of a dead worker forgotten", owner=owner)


class Lease(msgspec.Struct):
    """A unit handed to one worker until ``expires_at``."""

    unit: Unit
    #: The backend's id of the stored unit (arrival order within the backend).
    id: str
    #: How many times the unit has been leased, this time included.
    attempt: int
    #: Identifies this lease; a stale holder's ack is refused.
    token: str
    expires_at: float
    #: ``True`` only when the backend knows that no earlier lease of this unit was ever
    #: handed out (not a retry, not after an expired or released lease, not a replay): no
    #: earlier handling can have sent anything for it, so the reply outbox need not look for
    #: records of its sends. ``False`` when it cannot tell (the safe default).
    first_handling: bool = False


class DeadUnit(msgspec.Struct):
    """A unit parked after its last failed attempt: kept, listable and replayable."""

    unit: Unit
    attempts: int
    error: str
    died_at: float


class QuarantinedBody(msgspec.Struct):
    """A signed webhook body that could not be decoded, kept for an operator."""

    id: str
    received_at: float
    reason: str
    body: bytes


class QueueStats(msgspec.Struct):
    """Counts for ``wahost queue stats`` and ``/readyz``."""

    ready: int
    leased: int
    waiting_retry: int
    dead: int
    done: int
    quarantined: int
    dedupe_keys: int
    #: When the oldest unit not yet handled (ready, leased or waiting for a retry) arrived
    #: (``time.time()``: the ingress's stamp, else Meta's entry time; see
    #: :func:`wahost.metrics.received_at`); ``None`` when there is none or the backend cannot
    #: tell. Read by the ``/metrics`` scrape, so a backend keeps it to one indexed read.
    oldest_received_at: float | None = None


class QueueBackend(abc.ABC):
    """A durable queue of units. See the module docstring for the guarantees."""

    #: The name used in ``[queue] backend = "..."``.
    name: str = ""
    #: Whether the backend wakes idle workers itself when work arrives from any process
    #: (PostgreSQL's LISTEN/NOTIFY): an idle worker then waits in :meth:`wait_for_work`
    #: instead of polling every ``[worker] poll_interval``.
    wakes_workers: bool = False

    def __init__(self, *, dedupe_ttl: float = 8 * 86400) -> None:
        self.dedupe_ttl = dedupe_ttl
        #: Stamped on every lease this queue takes; see :mod:`wahost.queue.owner`.
        self.owner = Owner.of_process()

    async def open(self) -> None:
        """Open connections and create the schema. Called once before use."""

    async def close(self) -> None:
        """Release resources. Safe to call twice."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the queue cannot be reached or cannot store units now (``/readyz``).

        Keep it cheap (``/readyz`` may be polled every second) and off the ingress path: a
        backend that knows the outcome of its last writes (a disk full, a Redis out of memory)
        reports that rather than writing on every call.
        """

    @abc.abstractmethod
    async def enqueue(self, units: Sequence[Unit]) -> int:
        """Durably store the units of one webhook in one atomic step.

        Returns how many were new (the rest were duplicates within ``dedupe_ttl``, or repeated
        within ``units``). Raises :class:`QueueUnavailable` if nothing could be stored; it never
        returns before the units are durable.
        """

    def enqueue_soon(self, units: Sequence[Unit]) -> asyncio.Future[int]:
        """Start :meth:`enqueue` and return a future of its result, from the event loop.

        The ingress's fast path calls this for every webhook. The default wraps
        :meth:`enqueue` in a task; a backend whose enqueue is a hand-off (to a writer thread,
        over a connection) can return that hand-off's future instead and spare the event loop
        a task and its coroutines a webhook. The future must not resolve before the units are
        durable; it may fail with the store's own error rather than :class:`QueueUnavailable`
        (the ingress answers 503 to any failure).
        """
        return asyncio.ensure_future(self.enqueue(units))

    @abc.abstractmethod
    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        """Lease up to ``limit`` ready units, at most one per conversation, oldest first."""

    @abc.abstractmethod
    async def extend(self, lease: Lease, *, lease_seconds: float) -> None:
        """Push back the expiry of a lease still being worked on; :class:`LeaseLost` if gone."""

    @abc.abstractmethod
    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        """Finish the unit; apply ``changes`` in the same transaction if supported.

        Raises :class:`LeaseLost` when the lease is no longer held (nothing is applied then).
        """

    async def ack_many(
        self, acks: Sequence[tuple[Lease, StateChanges | None]]
    ) -> list[Exception | None]:
        """:meth:`ack` several units; returns each one's outcome in order: ``None`` when it
        committed, else the exception its own ``ack`` would have raised (:class:`LeaseLost`).

        The worker acks the units finished in the same turn of its event loop with one call.
        A backend that can should commit them in one transaction (one round trip) in which one
        unit's lost lease or bad changes leave the others' acks standing; it raises only when
        the whole call failed (the store unavailable: nothing committed). The default acks them
        all at once, one :meth:`ack` each.
        """
        outcomes = await asyncio.gather(
            *(self.ack(lease, changes) for lease, changes in acks), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # a cancellation, not an outcome
        return [outcome if isinstance(outcome, Exception) else None for outcome in outcomes]

    @abc.abstractmethod
    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        """Release the unit to be leased again after ``delay`` seconds."""

    @abc.abstractmethod
    async def dead(self, lease: Lease, *, error: str) -> None:
        """Park the unit as dead with its last error."""

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return when work may be leasable: units enqueued by any process, a retry or an
        expired lease coming due — or after ``timeout`` seconds, the worker's safety net.

        Called on a backend with :attr:`wakes_workers` by a worker whose lease just found
        nothing and that nothing woke for a moment (idle, or busy with slow units); the worker
        also returns on its own wake-up, cancelling this, and then leases. A backend must not
        return later than a retry or an expired lease comes due, nor raise (while it cannot
        reach its store it returns after a short while instead). The default sleeps
        ``timeout``.
        """
        await asyncio.sleep(timeout)

    async def release_dead_owners(self) -> int:
        """Release now every lease held by an owner known to be dead (see the module
        docstring); returns how many. The default releases none: such leases expire."""
        return 0

    @abc.abstractmethod
    async def list_dead(self, *, limit: int = 100) -> list[DeadUnit]:
        """Dead units, oldest first."""

    @abc.abstractmethod
    async def replay(self, key: str) -> bool:
        """Put a dead unit back in its conversation's queue (attempts reset); ``False`` if none."""

    @abc.abstractmethod
    async def replay_all(self) -> int:
        """Replay every dead unit; returns how many."""

    @abc.abstractmethod
    async def quarantine(self, body: bytes, reason: str) -> None:
        """Durably keep a signed body that could not be decoded."""

    @abc.abstractmethod
    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantinedBody]:
        """Quarantined bodies, oldest first."""

    @abc.abstractmethod
    async def stats(self) -> QueueStats:
        """Current counts."""

    async def depth(self) -> QueueStats:
        """The counts the ``/metrics`` scrape reads, every 15 s or so: :meth:`stats` by
        default. A backend for which one of them is costly to count (the dedupe keys, on
        Redis, walk the keyspace) overrides it and leaves that one 0."""
        return await self.stats()

    def shares_transaction_with(self, store: StateStore) -> bool:
        """Whether ``ack(lease, changes)`` applies ``changes`` to ``store`` atomically."""
        return False
