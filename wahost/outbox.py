"""The reply outbox: a unit redelivered after a crash does not send again what Meta accepted.

Every send made while handling a unit has a key ``(unit key, n)`` — the n-th send of that unit.
Once Meta accepts it, the answer is written to the state store at once (not with the ack: the
crash may come before the ack). When the unit is handled again, the n-th send finds its record
and returns it without a request. What remains is the window between Meta accepting a send and
the record being written: a crash exactly there sends that message again (reported as
*ambiguous* by the fake Graph API tests and the crash runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from wahost.graph import SentMessage
from wahost.state.base import StateStore

NAMESPACE = "wahost.outbox"

_encode = msgspec.json.encode
_decoder = msgspec.json.Decoder(SentMessage)


class Outbox:
    """Records confirmed sends per ``(unit key, n)`` for ``ttl`` seconds."""

    def __init__(self, store: StateStore, *, ttl: float) -> None:
        self.store = store
        self.ttl = ttl

    @staticmethod
    def key(unit_key: str, n: int) -> str:
        return f"{unit_key}#{n}"

    async def deliver(
        self, unit_key: str, n: int, send: Callable[[], Awaitable[SentMessage]]
    ) -> tuple[SentMessage, bool]:
        """``(the n-th send's result, whether it was sent now)``: a recorded send is not
        repeated."""
        key = self.key(unit_key, n)
        recorded = await self.store.kv_get(NAMESPACE, key)
        if recorded is not None:
            return _decoder.decode(recorded), False
        sent = await send()
        await self.store.kv_set(NAMESPACE, key, _encode(sent), ttl=self.ttl)
        return sent, True
