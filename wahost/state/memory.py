"""The in-memory state store — for tests only: nothing survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from wahost.state.base import ConversationState, StateChanges, StateStore, now

_decode_data = msgspec.json.Decoder(dict[str, Any]).decode


class MemoryStateStore(StateStore):
    """State in dictionaries of this process — for tests only: nothing survives a restart.

    Same semantics as the durable stores: data is stored JSON-encoded (so what a test reads
    back is what SQLite would give), expiry is checked at read time. Every method runs without
    awaiting in between, which makes each one atomic with respect to other asyncio tasks.
    """

    name = "memory"

    def __init__(self, *, ttl: float | None = None, applied_ttl: float = 8 * 86400) -> None:
        super().__init__(ttl=ttl)
        self.applied_ttl = applied_ttl
        self._conversations: dict[str, tuple[str | None, bytes, float]] = {}
        self._kv: dict[str, dict[str, tuple[bytes, float | None]]] = {}
        self._applied: dict[str, float] = {}

    async def ping(self) -> None:
        return None

    # -- conversations -------------------------------------------------------------------

    def _get(self, conversation: str, at: float) -> ConversationState | None:
        row = self._conversations.get(conversation)
        if row is None:
            return None
        name, data, updated_at = row
        if self.ttl is not None and updated_at + self.ttl <= at:
            del self._conversations[conversation]
            return None
        return ConversationState(name=name, data=_decode_data(data), updated_at=updated_at)

    def _set(
        self, conversation: str, state: ConversationState | None, at: float
    ) -> ConversationState | None:
        if state is None:
            self._conversations.pop(conversation, None)
            return None
        data = msgspec.json.encode(state.data)
        self._conversations[conversation] = (state.name, data, at)
        return ConversationState(name=state.name, data=_decode_data(data), updated_at=at)

    async def get(self, conversation: str) -> ConversationState | None:
        return self._get(conversation, now())

    async def set(self, conversation: str, state: ConversationState) -> None:
        self._set(conversation, state, now())

    async def update(
        self,
        conversation: str,
        fn: Callable[[ConversationState | None], ConversationState | None],
    ) -> ConversationState | None:
        at = now()
        return self._set(conversation, fn(self._get(conversation, at)), at)

    async def clear(self, conversation: str) -> None:
        self._conversations.pop(conversation, None)

    # -- namespaced key-value ------------------------------------------------------------

    def _kv_live(self, namespace: str, key: str, at: float) -> bytes | None:
        space = self._kv.get(namespace, {})
        entry = space.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= at:
            del space[key]
            return None
        return entry[0]

    def _kv_write(
        self, namespace: str, key: str, value: bytes | None, ttl: float | None, at: float
    ) -> None:
        if value is None:
            self._kv.get(namespace, {}).pop(key, None)
        else:
            expires_at = None if ttl is None else at + ttl
            self._kv.setdefault(namespace, {})[key] = (bytes(value), expires_at)

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        return self._kv_live(namespace, key, now())

    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        self._kv_write(namespace, key, value, ttl, now())

    async def kv_add(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        at = now()
        if self._kv_live(namespace, key, at) is not None:
            return False
        self._kv_write(namespace, key, value, ttl, at)
        return True

    async def kv_delete(self, namespace: str, key: str) -> None:
        self._kv_write(namespace, key, None, None, now())

    async def kv_scan(
        self, namespace: str, prefix: str = "", *, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        at = now()
        found: list[tuple[str, bytes]] = []
        for key in sorted(k for k in self._kv.get(namespace, {}) if k.startswith(prefix)):
            if len(found) >= limit:
                break
            value = self._kv_live(namespace, key, at)
            if value is not None:
                found.append((key, value))
        return found

    # -- unit commits --------------------------------------------------------------------

    def apply_now(self, changes: StateChanges) -> bool:
        """:meth:`apply` without awaiting, for :class:`MemoryQueue` to apply inside its ack."""
        at = now()
        if changes.unit_key in self._applied:
            return False
        # Encode everything first: a value that is not JSON-able fails before any write.
        encoded = {
            c: None if s is None else msgspec.json.encode(s.data)
            for c, s in changes.conversations.items()
        }
        self._applied[changes.unit_key] = at
        for conversation, state in changes.conversations.items():
            data = encoded[conversation]
            if state is None or data is None:
                self._conversations.pop(conversation, None)
            else:
                self._conversations[conversation] = (state.name, data, at)
        for write in changes.kv:
            self._kv_write(write.namespace, write.key, write.value, write.ttl, at)
        self._purge_applied(at)
        return True

    async def apply(self, changes: StateChanges) -> bool:
        return self.apply_now(changes)

    async def is_applied(self, unit_key: str) -> bool:
        return unit_key in self._applied

    def _purge_applied(self, at: float) -> None:
        # Markers are inserted in time order, so the expired ones are at the front.
        horizon = at - self.applied_ttl
        while self._applied:
            key, applied_at = next(iter(self._applied.items()))
            if applied_at > horizon:
                break
            del self._applied[key]
