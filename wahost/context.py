"""The context a hook gets while a unit is handled (``ctx``).

Writes made through ``ctx.state`` and ``ctx.kv_set`` are buffered and committed together
with the unit's ack, so a unit that is redelivered after a crash never applies them twice and
a unit that fails applies none of them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from wahost.state.base import ConversationState, KVWrite, StateChanges, now
from wahost.units import Unit, conversation_key

if TYPE_CHECKING:
    from wahost.host import Wahost
    from wahost.queue.base import Lease

_encode = msgspec.json.encode


class Conversation:
    """The state of the unit's conversation ``(phone_number_id, user)``: a name and data.

    ``name`` is ``None`` until a plugin sets one. ``data`` is a plain dict you may mutate in
    place; changes are detected and committed with the unit's ack.
    """

    def __init__(self, key: str, stored: ConversationState | None) -> None:
        self.key = key
        self._stored = stored
        self._name = stored.name if stored else None
        self.data: dict[str, Any] = copy.deepcopy(stored.data) if stored else {}
        self._snapshot = _encode([self._name, self.data])
        self._cleared = False

    @property
    def name(self) -> str | None:
        """The conversation's current state name."""
        return self._name

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the conversation's data."""
        return self.data.get(key, default)

    def set(self, name: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Set the state name and, when given, replace the data."""
        self._name = name
        if data is not None:
            self.data = dict(data)
        self._cleared = False

    def update(self, values: dict[str, Any] | None = None, /, **more: Any) -> None:
        """Merge values into the data."""
        if values:
            self.data.update(values)
        self.data.update(more)
        self._cleared = False

    def clear(self) -> None:
        """Forget the conversation's name and data."""
        self._name = None
        self.data = {}
        self._cleared = True

    def pending(self) -> tuple[bool, ConversationState | None]:
        """``(changed, new state or None when cleared)`` — used when committing."""
        if self._cleared and self._stored is not None and not self.data and self._name is None:
            return True, None
        if _encode([self._name, self.data]) == self._snapshot:
            return False, None
        return True, ConversationState(name=self._name, data=self.data, updated_at=now())


class Context:
    """What a hook implementation gets as ``ctx`` while a unit is handled."""

    def __init__(self, host: Wahost, unit: Unit, *, lease: Lease | None = None) -> None:
        self.host = host
        self.unit = unit
        self.lease = lease
        #: How many times this unit has been tried, this time included.
        self.attempt = lease.attempt if lease is not None else 1
        self.state = Conversation(conversation_key(unit.phone_number_id, unit.user), None)
        self._kv: dict[tuple[str, str], KVWrite] = {}
        #: Number of messages sent so far while handling this unit (the outbox sequence).
        self.sends = 0
        self.log = structlog.get_logger("wahost.unit").bind(
            unit=unit.key, kind=unit.kind, conversation=unit.conversation
        )

    async def load(self) -> None:
        """Read the conversation's state from the store (done by the worker)."""
        if self.unit.user:
            stored = await self.host.state.get(self.state.key)
            self.state = Conversation(self.state.key, stored)

    @property
    def client(self) -> Any:
        """The Graph API client of the host."""
        return self.host.client

    # -- key-value, committed with the unit ---------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        """Read a namespaced key, seeing this unit's own buffered writes."""
        pending = self._kv.get((namespace, key))
        if pending is not None:
            return pending.value
        return await self.host.state.kv_get(namespace, key)

    def kv_set(self, namespace: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Buffer a namespaced write, committed with the unit's ack."""
        self._kv[(namespace, key)] = KVWrite(namespace, key, value, ttl)

    def kv_delete(self, namespace: str, key: str) -> None:
        """Buffer a delete, committed with the unit's ack."""
        self._kv[(namespace, key)] = KVWrite(namespace, key, None)

    def changes(self) -> StateChanges:
        """Everything this unit wrote, to commit with its ack."""
        changes = StateChanges(unit_key=self.unit.key, kv=list(self._kv.values()))
        changed, state = self.state.pending()
        if changed:
            changes.conversations[self.state.key] = state
        return changes

    # -- sending: filled in by the Graph client -------------------------------------------

    async def send(self, to: str, message: Any = None, **kwargs: Any) -> Any:
        """Send a message to ``to`` from the unit's phone number (see :mod:`wahost.graph`)."""
        client = self.host.client
        if client is None:
            raise RuntimeError("this host has no Graph API client")
        return await client.send_from_unit(self, to, message, **kwargs)

    async def reply(self, message: Any = None, *, quote: bool = False, **kwargs: Any) -> Any:
        """Send a message to the unit's user; ``quote=True`` shows it as a reply."""
        if quote and self.unit.kind == "message":
            kwargs.setdefault("reply_to", self.unit.key.removeprefix("msg:"))
        return await self.send(self.unit.user, message, **kwargs)
