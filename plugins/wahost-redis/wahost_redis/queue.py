"""The Redis queue: a stream with a consumer group for the units, lanes for the order.

Units are appended to one stream (``XADD``) in arrival order, together with their dedupe keys
(``SET NX PX``), in one Lua script. Every stored unit is pending in the consumer group: under
``~waiting`` until leased, then under the worker (``XCLAIM``) that holds it, and ``XACK``-ed
(and deleted) once its hooks succeeded. Which unit may be leased is decided per conversation
(a *lane*: the conversation's unfinished units by arrival): only a lane's head, only when the
lane has no live lease and no pending retry, oldest heads first. A lease that expires (the
worker died) makes its lane leasable again, and the next lease moves the entry from the dead
worker to the new one. Every operation is one script, hence atomic, and ordered with the
others by Redis. Key layout and scripts: :mod:`wahost_redis.lua_queue`.

A dead worker's leases need not wait for their expiry: each lease names its owner, and each
owner keeps a liveness record (``q:alive:<owner>``, ``owner_ttl``) that its process refreshes
every quarter of that. At open, and at most every :data:`OWNER_CHECK_INTERVAL` seconds while
leasing, a queue releases the leases of owners whose process is known dead on this machine
(:func:`wahost.queue.owner.known_dead`) or whose record expired. Expiry is trusted only once
this process itself has reached Redis for ``owner_ttl`` without a failure: after an outage of
Redis every record may have lapsed, and the live owners need that long to renew theirs.

Why lanes rather than partitioned streams: see the plugin's README.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar, cast

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

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
from wahost.state.base import StateChanges, StateStore
from wahost.units import Unit, UnitKind
from wahost_redis import lua_queue, lua_state
from wahost_redis.connection import (
    DEFAULT_URL,
    connect,
    describe,
    glob_escape,
    guarded,
    ms,
    server_of,
)
from wahost_redis.state import Arg, RedisStateStore, encode_changes

T = TypeVar("T")

log = structlog.get_logger("wahost.redis")

GROUP = "wahost"
#: Seconds between two sweeps of worker consumers that hold nothing, and how long such a
#: consumer must have been idle to be deleted.
SWEEP_INTERVAL = 300.0
SWEEP_IDLE = 3600.0
#: Dead units replayed per script call by ``replay_all``.
REPLAY_BATCH = 500
#: Seconds an owner's liveness record lives without a refresh (``[plugins.redis] owner_ttl``).
OWNER_TTL = 5.0


def _unit(fields: list[bytes]) -> Unit:
    f = dict(zip(fields[::2], fields[1::2], strict=True))
    return Unit(
        key=f[b"k"].decode(),
        kind=cast(UnitKind, f[b"t"].decode()),
        phone_number_id=f[b"n"].decode(),
        user=f[b"u"].decode(),
        conversation=f[b"c"].decode(),
        body=f[b"b"],
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisQueue(QueueBackend):
    """The durable queue on Redis; see the module docstring and the README.

    Give ``url`` (the queue then owns its client) or a ``client``. ``prefix`` starts every
    key name. ``consumer`` names this process in the consumer group (default: its
    :attr:`owner`, ``w:<hostname>:<pid>:…``). ``owner_ttl``: seconds the owner's liveness
    record lives unrefreshed. Every Redis failure is raised as :class:`QueueUnavailable`; a
    failed call changed nothing (each is one script).
    """

    name = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        client: Redis | None = None,
        prefix: str = "wahost:",
        dedupe_ttl: float = 8 * 86400,
        store: RedisStateStore | None = None,
        consumer: str | None = None,
        owner_ttl: float = OWNER_TTL,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        max_connections: int = 100,
    ) -> None:
        super().__init__(dedupe_ttl=dedupe_ttl)
        self._owns_client = client is None
        self.client = client or connect(
            url,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
        )
        self.prefix = prefix
        #: The state store whose TTLs ``ack(lease, changes)`` applies (same server and prefix).
        self.store = store
        self.consumer = consumer or str(self.owner)
        self.owner_ttl = owner_ttl
        self.stream = f"{prefix}q:arrivals"
        register = self.client.register_script
        self._enqueue = register(lua_queue.ENQUEUE)
        self._lease = register(lua_queue.LEASE)
        self._extend = register(lua_queue.EXTEND)
        self._ack = register(
            "#!lua\n" + lua_queue.QUEUE_HELPERS + lua_state.STATE_HELPERS + lua_queue.ACK_HEAD
        )
        self._retry = register(lua_queue.RETRY)
        self._dead = register(lua_queue.DEAD)
        self._replay = register(lua_queue.REPLAY)
        self._list_dead = register(lua_queue.LIST_DEAD)
        self._stats = register(lua_queue.STATS)
        self._forget = register(lua_queue.FORGET_CONSUMERS)
        self._owners = register(lua_queue.OWNERS)
        self._release_owners = register(lua_queue.RELEASE_OWNERS)
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL
        self._next_owner_check = 0.0
        #: Since when (monotonic) this process has renewed its liveness record without a
        #: failure; None after a failure. Others' expired records count only after owner_ttl.
        self._reached_since: float | None = None
        self._keep_alive: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisQueue({describe(self.client)!r}, prefix={self.prefix!r})"

    def shares_transaction_with(self, store: StateStore) -> bool:
        """True for a :class:`RedisStateStore` on the same database with the same prefix;
        the queue then keeps it as :attr:`store`, whose TTLs its ``ack(lease, changes)`` uses."""
        shared = (
            isinstance(store, RedisStateStore)
            and store.prefix == self.prefix
            and server_of(store.client) == server_of(self.client)
        )
        if shared:
            self.store = cast(RedisStateStore, store)
        return shared

    async def _call(self, awaitable: Awaitable[T]) -> T:
        return await guarded(self.client, awaitable, QueueUnavailable)

    async def _script(self, script: Any, *args: Arg) -> Any:
        return await self._call(script(keys=[], args=[self.prefix, *args]))

    # -- life cycle -------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            await self._call(self.client.xgroup_create(self.stream, GROUP, "$", mkstream=True))
        except QueueUnavailable as exc:
            if not isinstance(exc.__cause__, ResponseError) or "BUSYGROUP" not in str(exc):
                raise
        for problem in await self.unsafe_settings():
            log.warning("redis settings break the no-loss promise", problem=problem)
        await self._renew()
        self._keep_alive = asyncio.create_task(self._renew_forever())
        # A restart after a crash on this machine: the dead predecessor's units move on now.
        await self.release_dead_owners()

    # -- owners -----------------------------------------------------------------------------

    def _alive_key(self) -> str:
        return f"{self.prefix}q:alive:{self.owner}"

    async def _renew(self) -> None:
        try:
            await self._call(self.client.set(self._alive_key(), b"1", px=ms(self.owner_ttl)))
        except QueueUnavailable:
            self._reached_since = None
            raise
        if self._reached_since is None:
            self._reached_since = time.monotonic()

    async def _renew_forever(self) -> None:
        # Until closed, not only until cancelled: redis-py may turn a cancellation that lands
        # in a command into a connection error, which is suppressed here like any outage.
        while not self._closed:
            await asyncio.sleep(self.owner_ttl / 4)
            with contextlib.suppress(QueueUnavailable):
                await self._renew()

    async def release_dead_owners(self) -> int:
        me = str(self.owner)
        rows = await self._script(self._owners)
        owners = {_text(rows[i]): bool(rows[i + 1]) for i in range(0, len(rows), 2)}
        owners.pop(me, None)
        dead = [owner for owner in owners if known_dead(owner)]
        since = self._reached_since
        trust_expiry = since is not None and time.monotonic() - since >= self.owner_ttl
        expired = trust_expiry and not all(owners.values())
        if not dead and not expired:
            return 0
        out = await self._script(self._release_owners, "1" if trust_expiry else "0", me, *dead)
        released = {_text(out[i]): int(out[i + 1]) for i in range(0, len(out), 2)}
        log_released(released)
        return sum(released.values())

    async def unsafe_settings(self) -> list[str]:
        """What in the server's configuration can lose acknowledged units (see the README);
        empty when it is safe or when ``CONFIG`` is not allowed (managed Redis)."""
        try:
            config = await self.client.config_get("append*")
            config.update(await self.client.config_get("maxmemory-policy"))
        except RedisError:
            return []
        setting = {_text(k): _text(v) for k, v in config.items()}
        problems = []
        if setting.get("appendonly") != "yes":
            problems.append("appendonly is not yes: a restart loses what was not snapshotted")
        elif setting.get("appendfsync") != "always":
            problems.append("appendfsync is not always: a crash can lose acknowledged writes")
        if setting.get("maxmemory-policy", "noeviction") != "noeviction":
            problems.append("maxmemory-policy is not noeviction: Redis may evict units")
        return problems

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keep_alive
        with contextlib.suppress(QueueUnavailable):
            await self._script(self._forget, self.consumer, "-1")
        with contextlib.suppress(QueueUnavailable):
            # What it still holds, others may take at once (this process is done with it).
            await self._call(self.client.delete(self._alive_key()))
        if self._owns_client:
            await self.client.aclose()

    async def ping(self) -> None:
        """A write, not a ``PING``: a Redis at ``maxmemory`` (``noeviction``) still answers
        ``PING`` but refuses every write with ``OOM``, and a read-only replica refuses it too.
        One ``SET`` of a tiny expiring key costs the same round trip as ``PING``."""
        await self._call(self.client.set(f"{self.prefix}probe", b"1", px=10_000))

    # -- units ------------------------------------------------------------------------------

    async def enqueue(self, units: Sequence[Unit]) -> int:
        if not units:
            return 0
        args: list[Arg] = [ms(self.dedupe_ttl)]
        for u in units:
            args += [u.key, u.kind, u.phone_number_id, u.user, u.conversation, bytes(u.body)]
        return int(await self._script(self._enqueue, *args))

    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        if limit <= 0:
            return []
        if time.monotonic() >= self._next_owner_check:
            self._next_owner_check = time.monotonic() + OWNER_CHECK_INTERVAL
            await self.release_dead_owners()
        token = secrets.token_hex(8)
        expires_ms, rows = await self._script(
            self._lease,
            limit,
            ms(lease_seconds),
            token,
            self.consumer,
            str(self.owner),
            ms(self.owner_ttl),
        )
        expires_at = int(expires_ms) / 1000
        leases = [
            Lease(
                _unit(fields),
                seq.decode(),
                int(attempt),
                token,
                expires_at,
                first_handling=int(attempt) == 1 and not int(died),
            )
            for seq, attempt, fields, died in rows
        ]
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_INTERVAL
            with contextlib.suppress(QueueUnavailable):
                await self._script(self._forget, self.consumer, ms(SWEEP_IDLE))
        return leases

    async def extend(self, lease: Lease, *, lease_seconds: float) -> None:
        expires_ms = await self._script(
            self._extend, lease.id, lease.token, ms(lease_seconds), self.consumer
        )
        if not expires_ms:
            raise LeaseLost(lease.unit.key)
        lease.expires_at = int(expires_ms) / 1000

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        args: list[Arg] = [lease.id, lease.token]
        if changes is None:
            args.append("0")
        elif self.store is not None:
            args += ["1", *self.store.encode(changes)]
        else:
            args += ["1", *encode_changes(changes, ttl=None, applied_ttl=self.dedupe_ttl)]
        if not await self._script(self._ack, *args):
            raise LeaseLost(lease.unit.key)

    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        if not await self._script(self._retry, lease.id, lease.token, ms(delay), error):
            raise LeaseLost(lease.unit.key)

    async def dead(self, lease: Lease, *, error: str) -> None:
        if not await self._script(self._dead, lease.id, lease.token, error):
            raise LeaseLost(lease.unit.key)

    async def list_dead(self, *, limit: int = 100) -> list[DeadUnit]:
        if limit <= 0:
            return []
        rows = await self._script(self._list_dead, limit)
        return [
            DeadUnit(_unit(fields), int(attempts), error.decode(), int(died) / 1000)
            for _seq, fields, attempts, error, died in rows
        ]

    async def replay(self, key: str) -> bool:
        return bool(await self._script(self._replay, "key", key))

    async def replay_all(self) -> int:
        total = 0
        while replayed := int(await self._script(self._replay, "all", REPLAY_BATCH)):
            total += replayed
        return total

    # -- quarantine, stats ------------------------------------------------------------------

    async def quarantine(self, body: bytes, reason: str) -> None:
        fields: dict[Any, Any] = {"r": reason, "b": bytes(body)}
        await self._call(self.client.xadd(f"{self.prefix}q:quarantine", fields))

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantinedBody]:
        if limit <= 0:
            return []
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self._call(self.client.xrange(f"{self.prefix}q:quarantine", count=limit)),
        )
        return [
            # The entry id's first part is the server's time of the XADD, in ms.
            QuarantinedBody(
                entry_id.decode(),
                int(entry_id.split(b"-")[0]) / 1000,
                fields[b"r"].decode(),
                fields[b"b"],
            )
            for entry_id, fields in entries
        ]

    async def stats(self) -> QueueStats:
        counts = await self.depth()
        # Counting the dedupe keys walks the keyspace (SCAN): fine for an operator's command,
        # not for a hot path nor for the metrics scrape (depth).
        dedupe_keys = await self._call(self._count(glob_escape(self.prefix) + "q:dedupe:*"))
        return msgspec.structs.replace(counts, dedupe_keys=dedupe_keys)

    async def depth(self) -> QueueStats:
        """The counts without the dedupe keys (0): one read-only script, no SCAN. The
        oldest unit's age is not reported (``None``)."""
        stored, leased, waiting, dead, done, quarantined = await self._script(self._stats)
        return QueueStats(
            ready=stored - leased - waiting - dead,
            leased=leased,
            waiting_retry=waiting,
            dead=dead,
            done=done,
            quarantined=quarantined,
            dedupe_keys=0,
        )

    async def _count(self, pattern: str) -> int:
        count = 0
        async for _ in self.client.scan_iter(match=pattern, count=1000):
            count += 1
        return count
