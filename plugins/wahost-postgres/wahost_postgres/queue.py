"""The PostgreSQL queue: units, lanes and dedupe keys in the bot's schema.

Each operation is one call of a function of the schema (:mod:`wahost_postgres.schema`), one
statement in autocommit: an enqueue returns once its transaction committed, so the ingress
answers 200 only after the commit (and, with the server's default ``synchronous_commit = on``,
after the WAL reached the disk). Leasing locks the lanes it takes with ``FOR UPDATE SKIP
LOCKED``: concurrent leases never wait on each other and never share a conversation.

Waking: a worker that nothing woke for a moment waits for work (:meth:`PostgresQueue.wait_for_work`,
the core's ``wakes_workers`` seam): it records that it waits (``set_waiting``: a ``waiting``
row of ``counters``), looks once for ready work and for when the next retry or lease comes
due, and sleeps until then or until a notification. An enqueue sends ``NOTIFY`` on the channel
``<schema>.units`` only when a worker waits, so that a busy deployment sends none (each would
serialize the commits on the server's lock of notifications and wake every worker for every
unit), and an idle worker starts within milliseconds of an enqueue on any process or machine.
No enqueue slips between the two: each holds an advisory lock shared until it commits, and a
worker that starts waiting takes it exclusive once, after its record and before its look, so
an enqueue that did not see the record has committed before the look. The queues' LISTEN
connections turn notifications into :attr:`wakeup` (the plugin points it at the host's worker
wake-up). A replay and a dead owner's release always notify. The LISTEN connection reconnects
by itself after an outage and then wakes the worker once, for what arrived meanwhile.

Owners: every lease names its owner (``owners``). The queue renews its owner's
``alive_until`` every quarter of ``owner_ttl``; at open, and every
:data:`OWNER_CHECK_INTERVAL` seconds (while it leases, and in the background while idle), it
releases the leases of owners known
dead on this machine (:func:`wahost.queue.owner.known_dead`) or whose record lapsed. A lapse is
trusted only once this process has reached the server for ``owner_ttl`` without a failure
(after an outage, every record may have lapsed while the live owners could not renew them).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence
from typing import Any, cast

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from wahost.queue.base import (
    OWNER_CHECK_INTERVAL,
    DeadUnit,
    Lease,
    LeaseLost,
    QuarantinedBody,
    QueueBackend,
    QueueStats,
    QueueUnavailable,
    log_released,
)
from wahost.queue.owner import known_dead
from wahost.retry import capped_delay
from wahost.state.base import StateChanges, StateStore
from wahost.unit_stamp import received_at
from wahost.units import Unit, UnitKind
from wahost_postgres.database import PostgresDatabase
from wahost_postgres.state import APPLY_CHANGES, PostgresStateStore, changes_args

log = structlog.get_logger("wahost.postgres")

Conn = AsyncConnection[tuple[Any, ...]]

#: Seconds between two purges of expired dedupe keys, and keys deleted by each.
PURGE_INTERVAL = 60.0
PURGE_BATCH = 5000
#: Seconds an owner's liveness record lives without a renewal (``[plugins.postgres] owner_ttl``).
OWNER_TTL = 5.0
#: Webhooks stored together by one enqueue at most (see PostgresQueue.enqueue_soon).
MAX_BATCH = 200
#: Seconds between two looks for work of a waiting worker while its LISTEN connection is away.
OUTAGE_POLL = 0.5

_UNIT = "key, kind, phone_number_id, user_id, conversation, body"


def _unit(row: Sequence[Any]) -> Unit:
    return Unit(
        key=row[0],
        kind=cast(UnitKind, row[1]),
        phone_number_id=row[2],
        user=row[3],
        conversation=row[4],
        body=bytes(row[5]),
    )


class PostgresQueue(QueueBackend):
    """The durable queue on PostgreSQL; see the module docstring and the README.

    Give a ``url`` (and ``schema``) or a shared :class:`PostgresDatabase`. ``listen=False``
    opens no LISTEN connection (ingress-only processes, commands). Every failure of the server
    is raised as :class:`QueueUnavailable`; a failed call changed nothing (each is one
    statement).
    """

    name = "postgres"

    def __init__(
        self,
        url: str = "",
        *,
        schema: str = "wahost",
        database: PostgresDatabase | None = None,
        dedupe_ttl: float = 8 * 86400,
        owner_ttl: float = OWNER_TTL,
        listen: bool = True,
        upgrade: bool = True,
    ) -> None:
        super().__init__(dedupe_ttl=dedupe_ttl)
        self.database = database or PostgresDatabase(url, schema=schema)
        self.owner_ttl = owner_ttl
        self.listen = listen
        #: A queue that listens wakes the workers of its process (see the module docstring).
        self.wakes_workers = listen
        self.upgrade = upgrade
        #: Set on every notification of new work (the plugin makes it the host's wake-up).
        self.wakeup = asyncio.Event()
        #: Notifications received (for tests and ``/metrics``-like curiosity).
        self.notifications = 0
        self._opened = False
        self._owner_ids: dict[str, int] = {}
        self._next_owner_check = 0.0
        self._next_purge = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        # Whether (and since when) this queue's owner is recorded as waiting for work.
        self._waiting = False
        self._waiting_at = 0.0
        db = self.database
        channel = db.channel
        self._enqueue = db.statement(
            "SELECT {s}.enqueue_claimed(%s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::bytea[], %s, %s)"
        )
        # The ingress's webhooks waiting for the enqueue under way (see enqueue_soon).
        self._pending: list[tuple[list[Unit], asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._channel = channel
        self._lease = db.statement(
            f"SELECT id, {_UNIT}, attempts, expires_at, first"
            " FROM {s}.lease_units(%s, %s, %s, %s)"
        )
        self._finish = db.statement("SELECT {s}.finish(%s, %s, %s, %s, %s)")
        self._ack_many = db.statement("SELECT {s}.ack_many(%s::bigint[], %s::text[])")
        self._ack_apply = db.statement(
            "SELECT CASE WHEN {s}.finish(%s, %s, 'ack', 0, NULL)"
            f" THEN {APPLY_CHANGES} IS NOT NULL ELSE false END"
        )
        self._set_waiting = db.statement("SELECT {s}.set_waiting(%s, %s, %s)")
        # Whether a lane is ready now, and in how many seconds the next retry or lease comes
        # due (both an index's first row).
        self._next_work = db.statement(
            "SELECT EXISTS (SELECT 1 FROM {s}.lanes WHERE available_at = 0),"
            " (SELECT min(available_at) FROM {s}.lanes WHERE available_at > 0) - {s}.epoch()"
        )
        self._register = db.statement(
            "INSERT INTO {s}.owners (name, alive_until) VALUES (%s, {s}.epoch() + %s)"
            " ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until RETURNING id"
        )
        self._renew = db.statement(
            "UPDATE {s}.owners SET alive_until = {s}.epoch() + %s WHERE name = %s"
        )

    # -- life cycle ----------------------------------------------------------------------

    def shares_transaction_with(self, store: StateStore) -> bool:
        """True for a PostgreSQL store on the same database and schema."""
        return isinstance(store, PostgresStateStore) and self.database.same_as(store.database)

    async def open(self) -> None:
        if self._opened:
            return
        await self.database.open(QueueUnavailable, upgrade=self.upgrade)
        self._opened = True
        if self.listen:
            self._tasks.append(asyncio.create_task(self._listen_forever()))
            self._tasks.append(asyncio.create_task(self._renew_forever()))
            # A restart after a crash: the dead predecessor's units move on at once.
            with contextlib.suppress(QueueUnavailable):
                await self.release_dead_owners()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), 5)

    async def close(self) -> None:
        if not self._opened:
            return
        if self._flusher is not None:
            # The webhooks being stored are answered first (their statements are bounded).
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flusher)
        self._opened = False
        for task in self._tasks:
            task.cancel()
        # A clean stop: what this process still holds goes to the others now, and its record
        # with it (else a record stays until another process finds the process gone).
        owner_id = self._owner_ids.get(str(self.owner))
        if owner_id is not None:
            with contextlib.suppress(QueueUnavailable):
                await self._value(
                    self.database.statement("SELECT {s}.release_owner(%s, %s)"),
                    (owner_id, self._channel),
                )
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.database.close()

    async def _listen_forever(self) -> None:
        """Keep a LISTEN connection; set :attr:`wakeup` per notification (and once after each
        reconnection, for what was enqueued while it was away)."""
        failures = 0
        # Until closed, not only until cancelled: a cancellation that lands in a driver call
        # may come back as a driver error, which the loop takes for an outage.
        while self._opened:
            try:
                async with await self.database.connect() as conn:
                    await conn.execute(f'LISTEN "{self._channel}"'.encode())
                    self._waiting = False  # after an outage: recorded again at the next wait
                    self._listening.set()
                    failures = 0
                    self.wakeup.set()
                    async for _ in conn.notifies():
                        self.notifications += 1
                        # Only for a worker waiting: a busy one leases again as it finishes
                        # a unit, and the waiting one of another process takes the work.
                        if self._waiting:
                            self.wakeup.set()
            except psycopg.Error:
                self._listening.clear()
            failures += 1
            # The pool's calls log the outage once; this loop only waits for the server.
            await asyncio.sleep(capped_delay(failures + 1, 0.1, 2.0))

    async def _renew_forever(self) -> None:
        """Renew this owner's record, and look for dead owners: an idle worker leases only
        when woken, and a dead worker's release (which notifies) is what wakes it."""
        while self._opened:  # until closed, as the LISTEN loop
            await asyncio.sleep(min(self.owner_ttl / 4, OWNER_CHECK_INTERVAL))
            name = str(self.owner)
            with contextlib.suppress(QueueUnavailable):
                if name in self._owner_ids:
                    await self._execute(self._renew, (self.owner_ttl, name))
                if time.monotonic() >= self._next_owner_check:
                    self._next_owner_check = time.monotonic() + OWNER_CHECK_INTERVAL
                    await self.release_dead_owners()

    # -- calls ---------------------------------------------------------------------------

    async def _fetch(
        self, statement: bytes, params: Any, *, retry: bool = True
    ) -> list[tuple[Any, ...]]:
        async def op(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(statement, params)
            return await cur.fetchall()

        return await self.database.run(op, QueueUnavailable, retry=retry)

    async def _execute(self, statement: bytes, params: Any = ()) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(statement, params)

        await self.database.run(op, QueueUnavailable)

    async def _value(self, statement: bytes, params: Any = (), *, retry: bool = True) -> Any:
        rows = await self._fetch(statement, params, retry=retry)
        return rows[0][0]

    async def ping(self) -> None:
        await self._value(b"SELECT 1")

    # -- enqueue -------------------------------------------------------------------------

    async def enqueue(self, units: Sequence[Unit]) -> int:
        return sum(await self._store(units))

    def enqueue_soon(self, units: Sequence[Unit]) -> asyncio.Future[int]:
        """The ingress's enqueue, a group commit: the webhooks that arrive while an enqueue is
        under way are stored together by the next, one statement and one commit for all (each
        webhook's future resolves after that commit, with its own count)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not units:
            future.set_result(0)
            return future
        self._pending.append((list(units), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                claimed = await self._store([unit for units, _ in batch for unit in units])
            except QueueUnavailable as exc:
                outage = isinstance(exc.__cause__, psycopg.OperationalError | PoolTimeout)
                if len(batch) == 1 or outage:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                # Not the server: one webhook may be at fault (a value the server refuses);
                # the others must not fail with it, so each is stored on its own.
                for units, future in batch:
                    try:
                        count = await self.enqueue(units)
                    except QueueUnavailable as own:
                        if not future.done():
                            future.set_exception(own)
                    else:
                        if not future.done():
                            future.set_result(count)
                continue
            at = 0
            for units, future in batch:
                if not future.done():
                    future.set_result(sum(claimed[at : at + len(units)]))
                at += len(units)

    async def _store(self, units: Sequence[Unit]) -> list[bool]:
        """Store ``units`` in one transaction; which of them were new."""
        if not units:
            return []
        params = (
            [u.key for u in units],
            [u.kind for u in units],
            [u.phone_number_id for u in units],
            [u.user for u in units],
            [u.conversation for u in units],
            [bytes(u.body) for u in units],
            self.dedupe_ttl,
            self._channel,
        )
        # Tried twice when the first met a dead connection: a repeat is deduplicated.
        claimed = [bool(c) for c in await self._value(self._enqueue, params)]
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_INTERVAL
            with contextlib.suppress(QueueUnavailable):
                await self._value(
                    self.database.statement("SELECT {s}.purge_dedupe(%s, %s)"),
                    (PURGE_BATCH, self.dedupe_ttl),
                )
        return claimed

    async def purge(self) -> int:
        """Delete every expired dedupe key now, renewing those whose units are still stored
        (enqueue also does it, a batch a minute); returns how many were deleted."""
        statement = self.database.statement("SELECT {s}.purge_dedupe(NULL, %s)")
        return int(await self._value(statement, (self.dedupe_ttl,)))

    # -- waking --------------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until new work is notified, the next retry or lease comes due, or ``timeout``
        (see the module docstring); while the LISTEN connection is away, look again every
        :data:`OUTAGE_POLL` seconds."""
        if not self._listening.is_set():
            timeout = min(timeout, OUTAGE_POLL)
        else:
            try:
                # Recorded again now and then: a server that crashed may have lost the record
                # (committed asynchronously), another process may have released this owner.
                if not self._waiting or time.monotonic() - self._waiting_at > self.owner_ttl:
                    owner = await self._owner_id()
                    await self._execute(self._set_waiting, (owner, True, self._channel))
                    self._waiting, self._waiting_at = True, time.monotonic()
                ready, due_in = (await self._fetch(self._next_work, ()))[0]
            except QueueUnavailable:
                timeout = min(timeout, OUTAGE_POLL)
            else:
                if ready:
                    return
                if due_in is not None:
                    timeout = min(timeout, max(float(due_in), 0.0) + 0.001)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), timeout)

    async def _stop_waiting(self) -> None:
        """This worker has work: enqueues need not wake it."""
        self._waiting = False
        owner = self._owner_ids.get(str(self.owner))
        if owner is not None:
            # A record left behind (the server unreachable) only costs notifications.
            with contextlib.suppress(QueueUnavailable):
                await self._execute(self._set_waiting, (owner, False, self._channel))

    # -- leases --------------------------------------------------------------------------

    async def _owner_id(self) -> int:
        name = str(self.owner)
        owner_id = self._owner_ids.get(name)
        if owner_id is None:
            owner_id = int(await self._value(self._register, (name, self.owner_ttl)))
            self._owner_ids[name] = owner_id
        return owner_id

    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        if limit <= 0:
            return []
        at = time.monotonic()
        if at >= self._next_owner_check:
            self._next_owner_check = at + OWNER_CHECK_INTERVAL
            await self.release_dead_owners()
        owner = await self._owner_id()
        token = secrets.token_hex(8)
        # A lease taken but unanswered (the server died after its commit) expires: not lost.
        rows = await self._fetch(self._lease, (owner, limit, lease_seconds, token))
        if rows and self._waiting:
            await self._stop_waiting()
        return [
            Lease(_unit(row[1:7]), str(row[0]), row[7], token, row[8], first_handling=row[9])
            for row in rows
        ]

    async def release_dead_owners(self) -> int:
        me = str(self.owner)
        trusted = (
            self.database.healthy_since is not None
            and time.monotonic() - self.database.healthy_since >= self.owner_ttl
        )
        rows = await self._fetch(
            self.database.statement(
                "SELECT id, name, alive_until < {s}.epoch() FROM {s}.owners WHERE name <> %s"
            ),
            (me,),
        )
        released: dict[str, int] = {}
        for owner_id, name, lapsed in rows:
            if not (known_dead(name) or (lapsed and trusted)):
                continue
            released[name] = int(
                await self._value(
                    self.database.statement("SELECT {s}.release_owner(%s, %s)"),
                    (owner_id, self._channel),
                )
            )
        log_released(released)
        return sum(released.values())

    async def _finish_lease(
        self, lease: Lease, action: str, seconds: float = 0.0, error: str | None = None
    ) -> None:
        held = await self._value(
            self._finish, (int(lease.id), lease.token, action, seconds, error), retry=False
        )
        if not held:
            raise LeaseLost(lease.unit.key)

    async def extend(self, lease: Lease, *, lease_seconds: float) -> None:
        await self._finish_lease(lease, "extend", lease_seconds)

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        if changes is None or changes.is_empty():
            # Nothing to apply: the finish alone consumes the lease, so no marker is needed
            # (the worker on an unshared store applies empty changes nowhere either).
            await self._finish_lease(lease, "ack")
            return
        # The finish and the unit's changes in one statement, hence one transaction; the
        # changes are encoded first, so a failed encoding sends nothing.
        params = (int(lease.id), lease.token, *changes_args(changes))
        if not await self._value(self._ack_apply, params, retry=False):
            raise LeaseLost(lease.unit.key)

    async def ack_many(
        self, acks: Sequence[tuple[Lease, StateChanges | None]]
    ) -> list[Exception | None]:
        """Units without state changes in one statement (one transaction, one commit); with
        changes, each its own (the default)."""
        if len(acks) < 2 or any(ch is not None and not ch.is_empty() for _, ch in acks):
            return await super().ack_many(acks)
        order = sorted(range(len(acks)), key=lambda n: acks[n][0].unit.conversation)
        params = ([int(acks[n][0].id) for n in order], [acks[n][0].token for n in order])
        held = await self._value(self._ack_many, params, retry=False)
        outcomes: list[Exception | None] = [None] * len(acks)
        for n, still in zip(order, held, strict=True):
            if not still:
                outcomes[n] = LeaseLost(acks[n][0].unit.key)
        return outcomes

    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        await self._finish_lease(lease, "retry", delay, error)

    async def dead(self, lease: Lease, *, error: str) -> None:
        await self._finish_lease(lease, "dead", 0.0, error)

    # -- dead units, replay, quarantine --------------------------------------------------

    async def list_dead(self, *, limit: int = 100) -> list[DeadUnit]:
        rows = await self._fetch(
            self.database.statement(
                f"SELECT {_UNIT}, attempts, error, died_at FROM {{s}}.units"
                " WHERE dead ORDER BY died_at, id LIMIT %s"
            ),
            (max(limit, 0),),
        )
        return [DeadUnit(_unit(r), r[6], r[7] or "", r[8]) for r in rows]

    async def replay(self, key: str) -> bool:
        statement = self.database.statement("SELECT {s}.replay(%s, %s)")
        return int(await self._value(statement, (key, self._channel))) > 0

    async def replay_all(self) -> int:
        statement = self.database.statement("SELECT {s}.replay(NULL, %s)")
        return int(await self._value(statement, (self._channel,)))

    async def quarantine(self, body: bytes, reason: str) -> None:
        await self._execute(
            self.database.statement(
                "INSERT INTO {s}.quarantine (received_at, reason, body)"
                " VALUES ({s}.epoch(), %s, %s)"
            ),
            (reason, bytes(body)),
        )

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantinedBody]:
        rows = await self._fetch(
            self.database.statement(
                "SELECT id, received_at, reason, body FROM {s}.quarantine ORDER BY id LIMIT %s"
            ),
            (max(limit, 0),),
        )
        return [QuarantinedBody(str(r[0]), r[1], r[2], bytes(r[3])) for r in rows]

    # -- counts --------------------------------------------------------------------------

    async def stats(self) -> QueueStats:
        return await self._stats(count_keys=True)

    async def depth(self) -> QueueStats:
        """:meth:`stats` without the dedupe keys (a count of up to 8 days of keys)."""
        return await self._stats(count_keys=False)

    async def _stats(self, *, count_keys: bool) -> QueueStats:
        keys = "(SELECT count(*) FROM {s}.dedupe WHERE expires_at > t.now)" if count_keys else "0"
        statement = self.database.statement(
            "WITH t AS (SELECT {s}.epoch() AS now) SELECT"
            " count(*) FILTER (WHERE NOT dead AND token IS NULL AND available_at <= t.now),"
            " count(*) FILTER (WHERE token IS NOT NULL),"
            " count(*) FILTER (WHERE NOT dead AND token IS NULL AND available_at > t.now),"
            " count(*) FILTER (WHERE dead),"
            " (SELECT coalesce(sum(value), 0) FROM {s}.counters WHERE name = 'done'),"
            " (SELECT count(*) FROM {s}.quarantine),"
            f" {keys}"
            " FROM {s}.units, t GROUP BY t.now"
        )
        oldest_statement = self.database.statement(
            f"SELECT {_UNIT} FROM {{s}}.units WHERE NOT dead ORDER BY id LIMIT 1"
        )

        async def op(conn: Conn) -> tuple[Any, ...]:
            row = await (await conn.execute(statement)).fetchone()
            oldest = await (await conn.execute(oldest_statement)).fetchone()
            if row is None:  # no units at all: the counts of the other tables still matter
                row = await (
                    await conn.execute(
                        self.database.statement(
                            "WITH t AS (SELECT {s}.epoch() AS now) SELECT 0, 0, 0, 0,"
                            " (SELECT coalesce(sum(value), 0) FROM {s}.counters"
                            " WHERE name = 'done'), (SELECT count(*) FROM {s}.quarantine),"
                            f" {keys} FROM t"
                        )
                    )
                ).fetchone()
                assert row is not None
            return (*row, oldest)

        *counts, oldest = await self.database.run(op, QueueUnavailable)
        ready, leased, waiting, dead, done, quarantined, dedupe_keys = (int(c) for c in counts)
        return QueueStats(
            ready=ready,
            leased=leased,
            waiting_retry=waiting,
            dead=dead,
            done=done,
            quarantined=quarantined,
            dedupe_keys=dedupe_keys,
            oldest_received_at=None if oldest is None else received_at(_unit(oldest)),
        )
