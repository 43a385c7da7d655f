"""The reply outbox: a unit redelivered after a crash does not send again what Meta accepted.

Every send made while handling a unit has a key ``(unit key, n)`` — the n-th send of that unit.
Once Meta accepts it, the answer is written to the state store at once (not with the ack: the
crash may come before the ack). When the unit is handled again, the n-th send finds its record
and returns it without a request. What remains is the window between Meta accepting a send and
the record being written: a crash exactly there sends that message again (reported as
*ambiguous* by the fake Graph API tests and the crash runs).

A store that cannot take the record at that moment (Redis restarting, a disk full for a moment)
does not widen that window: the record is retried with a short capped backoff for up to
``patience`` seconds — half the worker's lease, so the unit cannot be leased to another handling
meanwhile even when the heartbeat cannot extend the lease either (same store, same outage). Only
then does the error reach the plugin, and the unit is handled again later (the send may repeat).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from wahost.graph import SentMessage
from wahost.state.base import TRANSIENT_STORAGE_ERRORS, StateStore

NAMESPACE = "wahost.outbox"

_encode = msgspec.json.encode
_decoder = msgspec.json.Decoder(SentMessage)

log = structlog.get_logger("wahost.outbox")

#: First and longest pause between two tries of a record the store refused.
RECORD_RETRY_BASE = 0.05
RECORD_RETRY_CAP = 1.0


class Outbox:
    """Records confirmed sends per ``(unit key, n)`` for ``ttl`` seconds."""

    def __init__(self, store: StateStore, *, ttl: float, patience: float = 0.0) -> None:
        self.store = store
        self.ttl = ttl
        #: Seconds to keep retrying a record the store refuses (0: one try).
        self.patience = patience

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
        await self._record(key, sent)
        return sent, True

    async def _record(self, key: str, sent: SentMessage) -> None:
        """Write the record of a send Meta accepted, retrying while the store refuses it."""
        value = _encode(sent)
        deadline = time.monotonic() + self.patience
        delay = RECORD_RETRY_BASE
        tries = 0
        while True:
            tries += 1
            try:
                await self.store.kv_set(NAMESPACE, key, value, ttl=self.ttl)
            except TRANSIENT_STORAGE_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    log.error(
                        "outbox could not record a sent message; it is sent again if the unit "
                        "is handled again",
                        send=key,
                        wamid=sent.id,
                        tries=tries,
                        error=str(exc),
                    )
                    raise
                log.warning(
                    "outbox could not record a sent message, retrying",
                    send=key,
                    tries=tries,
                    delay=delay,
                    error=str(exc),
                )
                await asyncio.sleep(delay)
                delay = min(RECORD_RETRY_CAP, delay * 2)
                continue
            if tries > 1:
                log.info("outbox recorded a sent message after retries", send=key, tries=tries)
            return
