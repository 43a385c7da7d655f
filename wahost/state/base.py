"""The state store contract: per-conversation state and namespaced key-value data.

A conversation's state is a name (``None`` until a plugin sets one) and a JSON-able dict of
data. While a unit is handled, writes made through ``ctx.state`` are buffered in a
:class:`StateChanges` and committed *together with the unit's ack* (see
:meth:`wahost.queue.base.QueueBackend.ack`), so a unit redelivered after a crash never applies
them twice. ``StateChanges.unit_key`` is recorded as applied, which makes :meth:`apply`
idempotent even when the queue and the store are different backends.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from wahost.errors import StoreUnavailable as StoreUnavailable

#: What a store or queue raises when it cannot commit *now* — worth retrying while a lease is
#: held: the backends' own errors, a socket's, and SQLite's (locked, disk full, I/O error).
TRANSIENT_STORAGE_ERRORS: tuple[type[Exception], ...] = (
    StoreUnavailable,
    OSError,
    sqlite3.OperationalError,
)


class ConversationState(msgspec.Struct, omit_defaults=True):
    """The stored state of one conversation."""

    name: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    updated_at: float = 0.0


class KVWrite(msgspec.Struct, frozen=True):
    """A buffered write of a namespaced key: ``value=None`` deletes it."""

    namespace: str
    key: str
    value: bytes | None
    ttl: float | None = None


class StateChanges(msgspec.Struct):
    """Writes buffered while one unit is handled, applied atomically at its ack.

    ``conversations`` maps a conversation key to its new state, or to ``None`` to clear it.
    """

    unit_key: str
    conversations: dict[str, ConversationState | None] = msgspec.field(default_factory=dict)
    kv: list[KVWrite] = msgspec.field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.conversations and not self.kv


class StateStore(abc.ABC):
    """Per-conversation state and namespaced key-value data, durable and atomic.

    Implementations: ``sqlite`` (default), ``memory`` (tests), ``redis`` (wahost-redis).
    Every implementation passes :mod:`wahost.testing.contracts`.

    ``ttl`` (seconds, ``None`` = forever) on a conversation makes an idle conversation forget
    its state; on a key, the key expires.
    """

    #: The name used in ``[state] backend = "..."``.
    name: str = ""

    def __init__(self, *, ttl: float | None = None) -> None:
        self.ttl = ttl

    async def open(self) -> None:
        """Open connections and create the schema. Called once before use."""

    async def close(self) -> None:
        """Release resources. Safe to call twice."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot be reached or cannot commit now (``/readyz``); cheap,
        as :meth:`wahost.queue.base.QueueBackend.ping`."""

    # -- conversations -------------------------------------------------------------------

    @abc.abstractmethod
    async def get(self, conversation: str) -> ConversationState | None:
        """The state of a conversation, or ``None`` when it has none (or it expired)."""

    async def get_many(self, conversations: Sequence[str]) -> list[ConversationState | None]:
        """The states of several conversations, in order (``None`` where a conversation has
        none). The worker reads the conversations of a batch of leased units with one call:
        a backend that can should read them in one round trip; the default asks for them all
        at once, one :meth:`get` each."""
        return list(await asyncio.gather(*(self.get(key) for key in conversations)))

    @abc.abstractmethod
    async def set(self, conversation: str, state: ConversationState) -> None:
        """Replace a conversation's state."""

    @abc.abstractmethod
    async def update(
        self,
        conversation: str,
        fn: Callable[[ConversationState | None], ConversationState | None],
    ) -> ConversationState | None:
        """Atomically read, transform with ``fn`` and write a conversation's state.

        ``fn`` returning ``None`` clears it. Returns what was written.
        """

    @abc.abstractmethod
    async def clear(self, conversation: str) -> None:
        """Forget a conversation's state."""

    # -- namespaced key-value ------------------------------------------------------------

    @abc.abstractmethod
    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        """The value of a key, or ``None``."""

    @abc.abstractmethod
    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        """Set a key, with an optional time to live in seconds."""

    @abc.abstractmethod
    async def kv_add(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        """Set a key only if it is absent (or expired); ``True`` when this call set it."""

    @abc.abstractmethod
    async def kv_delete(self, namespace: str, key: str) -> None:
        """Delete a key (no error when absent)."""

    @abc.abstractmethod
    async def kv_scan(
        self, namespace: str, prefix: str = "", *, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        """Keys of a namespace starting with ``prefix``, sorted by key, with their values."""

    async def kv_get_many(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """The values of several ``(namespace, key)`` pairs, in order (``None`` where absent).
        A backend that can should read them in one round trip; the default reads them one by
        one."""
        return [await self.kv_get(namespace, key) for namespace, key in keys]

    async def kv_write(self, writes: Sequence[KVWrite]) -> None:
        """Apply several key writes (``value=None`` deletes) in order. A backend that can
        should apply them in one transaction (one round trip); the default writes them one by
        one."""
        for write in writes:
            if write.value is None:
                await self.kv_delete(write.namespace, write.key)
            else:
                await self.kv_set(write.namespace, write.key, write.value, ttl=write.ttl)

    async def kv_count(self, namespace: str, *, limit: int = 10_000) -> int:
        """How many live keys the namespace holds, counted up to ``limit`` (for metrics).
        The default reads them through :meth:`kv_scan`; a backend that can count without
        reading the values should."""
        return len(await self.kv_scan(namespace, limit=limit))

    # -- unit commits --------------------------------------------------------------------

    @abc.abstractmethod
    async def apply(self, changes: StateChanges) -> bool:
        """Apply a unit's buffered writes atomically, once.

        Returns ``False`` (and writes nothing) when ``changes.unit_key`` was already applied.
        The record of applied unit keys is kept for at least the queue's dedupe TTL.
        """

    @abc.abstractmethod
    async def is_applied(self, unit_key: str) -> bool:
        """Whether the writes of this unit were already applied."""


def now() -> float:
    """Wall-clock seconds; one function so tests and backends agree."""
    return time.time()
