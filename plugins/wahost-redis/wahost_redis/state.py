"""The Redis state store: conversations as hashes, namespaced keys as strings with native TTLs.

Key layout and the Lua scripts: :mod:`wahost_redis.lua_state`. A conversation's TTL is a
``PEXPIRE`` renewed by every write ("idle for ``ttl`` seconds, then forgotten"); a key's TTL is
Redis's own ``PX``, so expiry needs no sweeper. ``update`` is optimistic (``WATCH`` /
``MULTI``) across processes and serialised per conversation within one. Every write of several
keys is one Lua script, and values are encoded before the script runs, so a value that cannot
be encoded writes nothing. Redis failures raise :class:`StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import WatchError

from wahost.state.base import ConversationState, KVWrite, StateChanges, StateStore, now
from wahost_redis import lua_state
from wahost_redis.connection import (
    DEFAULT_URL,
    StoreUnavailable,
    connect,
    describe,
    escape_namespace,
    guarded,
    ms,
)

T = TypeVar("T")

_encode = msgspec.json.encode
_decode_data = msgspec.json.Decoder(dict[str, Any]).decode

Arg = str | bytes | int | float


def encode_changes(changes: StateChanges, *, ttl: float | None, applied_ttl: float) -> list[Arg]:
    """The flat script arguments of a unit's changes (layout in :mod:`lua_state`).

    Encodes every value first: an unencodable one raises here, before anything is written.
    """
    args: list[Arg] = [repr(now()), ms(ttl or 0), ms(applied_ttl), changes.unit_key]
    args.append(len(changes.conversations))
    for conversation, state in changes.conversations.items():
        if state is None:
            args += [conversation, "d", "0", "", ""]
        else:
            name = state.name
            args += [
                conversation,
                "s",
                "0" if name is None else "1",
                name or "",
                _encode(state.data),
            ]
    args.append(len(changes.kv))
    for write in changes.kv:
        namespace = escape_namespace(write.namespace)
        if write.value is None:
            args += [namespace, write.key, "d", "", 0]
        else:
            args += [namespace, write.key, "s", bytes(write.value), ms(write.ttl or 0)]
    return args


def _conversation(raw: dict[bytes, bytes]) -> ConversationState | None:
    if not raw:
        return None
    name = raw.get(b"n")
    return ConversationState(
        name=None if name is None else name.decode(),
        data=_decode_data(raw[b"d"]),
        updated_at=float(raw[b"t"]),
    )


class _KeyedLocks:
    """One asyncio lock per key while anyone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class RedisStateStore(StateStore):
    """Per-conversation state and namespaced keys in Redis (see the module docstring).

    Give ``url`` (the store then owns its client) or a ``client``. ``prefix`` starts every key
    name; a :class:`~wahost_redis.RedisQueue` with the same server and prefix commits a unit's
    changes in its ack. Applied-unit markers are kept ``applied_ttl`` seconds, at least the
    queue's dedupe TTL.
    """

    name = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        client: Redis | None = None,
        prefix: str = "wahost:",
        ttl: float | None = None,
        applied_ttl: float = 8 * 86400,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        max_connections: int = 100,
    ) -> None:
        super().__init__(ttl=ttl)
        self._owns_client = client is None
        self.client = client or connect(
            url,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
        )
        self.prefix = prefix
        self.applied_ttl = applied_ttl
        self._locks = _KeyedLocks()
        register = self.client.register_script
        self._apply = register(lua_state.APPLY)
        self._set_conversation = register(lua_state.SET_CONVERSATION)
        self._kv_set = register(lua_state.KV_SET)
        self._kv_add = register(lua_state.KV_ADD)
        self._kv_scan = register(lua_state.KV_SCAN)
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisStateStore({describe(self.client)!r}, prefix={self.prefix!r})"

    async def _call(self, awaitable: Awaitable[T]) -> T:
        return await guarded(self.client, awaitable, StoreUnavailable)

    async def open(self) -> None:
        await self._call(self.client.ping())

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owns_client:
                await self.client.aclose()

    async def ping(self) -> None:
        """A write of a tiny expiring key: a Redis at ``maxmemory`` answers ``PING`` but
        refuses writes (``OOM``), so only a write tells whether the store can commit."""
        await self._call(self.client.set(f"{self.prefix}s:probe", b"1", px=10_000))

    def _conversation_key(self, conversation: str) -> str:
        return f"{self.prefix}s:conv:{conversation}"

    def _kv_key(self, namespace: str, key: str) -> str:
        return f"{self.prefix}s:kv:{escape_namespace(namespace)}:{key}"

    # -- conversations -------------------------------------------------------------------

    async def get(self, conversation: str) -> ConversationState | None:
        raw = await self._call(self.client.hgetall(self._conversation_key(conversation)))
        return _conversation(cast(dict[bytes, bytes], raw))

    async def get_many(self, conversations: Sequence[str]) -> list[ConversationState | None]:
        if not conversations:
            return []
        # One round trip for a batch of leased units' conversations.
        pipe = self.client.pipeline(transaction=False)
        for conversation in conversations:
            pipe.hgetall(self._conversation_key(conversation))
        raws = await self._call(pipe.execute())
        return [_conversation(cast(dict[bytes, bytes], raw)) for raw in raws]

    async def set(self, conversation: str, state: ConversationState) -> None:
        data = _encode(state.data)
        name = state.name
        args: list[Arg] = [self.prefix, conversation, "s", "0" if name is None else "1"]
        args += [name or "", data, repr(now()), ms(self.ttl or 0)]
        await self._call(self._set_conversation(keys=[], args=args))

    async def update(
        self,
        conversation: str,
        fn: Callable[[ConversationState | None], ConversationState | None],
    ) -> ConversationState | None:
        # Tasks of this process take turns (no WATCH conflicts among them); other processes
        # are detected by WATCH and the read-transform-write runs again.
        key = self._conversation_key(conversation)
        async with self._locks.hold(conversation):
            return await self._call(self._update(key, fn))

    async def _update(
        self, key: str, fn: Callable[[ConversationState | None], ConversationState | None]
    ) -> ConversationState | None:
        while True:
            async with self.client.pipeline(transaction=True) as pipe:
                await pipe.watch(key)
                new = fn(_conversation(cast(dict[bytes, bytes], await pipe.hgetall(key))))
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(key)
                result = None
                if new is not None:
                    at = now()
                    data = _encode(new.data)
                    fields: dict[str, Arg] = {"d": data, "t": repr(at)}
                    if new.name is not None:
                        fields["n"] = new.name
                    pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                    if self.ttl:
                        pipe.pexpire(key, ms(self.ttl))
                    result = ConversationState(new.name, _decode_data(data), at)
                try:
                    await pipe.execute()
                except WatchError:
                    continue
                return result

    async def clear(self, conversation: str) -> None:
        await self._call(self.client.delete(self._conversation_key(conversation)))

    # -- namespaced key-value ------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        value = await self._call(self.client.get(self._kv_key(namespace, key)))
        return cast(bytes | None, value)

    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        args: list[Arg] = [self.prefix, escape_namespace(namespace), key, bytes(value)]
        await self._call(self._kv_set(keys=[], args=[*args, ms(ttl or 0), "0"]))

    async def kv_get_many(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        if not keys:
            return []
        values = await self._call(self.client.mget([self._kv_key(ns, key) for ns, key in keys]))
        return cast(list[bytes | None], values)

    async def kv_write(self, writes: Sequence[KVWrite]) -> None:
        if not writes:
            return
        # One MULTI/EXEC: one round trip, and no other client sees half of the writes.
        pipe = self.client.pipeline(transaction=True)
        for write in writes:
            deleting = write.value is None
            args: list[Arg] = [
                self.prefix,
                escape_namespace(write.namespace),
                write.key,
                b"" if write.value is None else bytes(write.value),
                0 if deleting else ms(write.ttl or 0),
                "1" if deleting else "0",
            ]
            await self._kv_set(keys=[], args=args, client=pipe)
        await self._call(pipe.execute())

    async def kv_add(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        args: list[Arg] = [self.prefix, escape_namespace(namespace), key, bytes(value)]
        added = await self._call(self._kv_add(keys=[], args=[*args, ms(ttl or 0)]))
        return bool(added)

    async def kv_delete(self, namespace: str, key: str) -> None:
        args: list[Arg] = [self.prefix, escape_namespace(namespace), key, b"", 0, "1"]
        await self._call(self._kv_set(keys=[], args=args))

    async def kv_scan(
        self, namespace: str, prefix: str = "", *, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        if limit <= 0:
            return []
        if prefix:
            # Keys are UTF-8, which never has the byte 0xff: every key starting with the
            # prefix sorts before prefix + 0xff.
            low, high = b"[" + prefix.encode(), b"(" + prefix.encode() + b"\xff"
        else:
            low, high = b"-", b"+"
        args: list[Arg] = [self.prefix, escape_namespace(namespace), low, high, limit]
        flat = await self._call(self._kv_scan(keys=[], args=args))
        return [(flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2)]

    # -- unit commits --------------------------------------------------------------------

    def encode(self, changes: StateChanges) -> list[Arg]:
        """The script arguments of ``changes`` with this store's TTLs (used by the queue)."""
        return encode_changes(changes, ttl=self.ttl, applied_ttl=self.applied_ttl)

    async def apply(self, changes: StateChanges) -> bool:
        args = [self.prefix, *self.encode(changes)]
        return bool(await self._call(self._apply(keys=[], args=args)))

    async def is_applied(self, unit_key: str) -> bool:
        key = f"{self.prefix}s:applied:{unit_key}"
        return bool(await self._call(self.client.exists(key)))
