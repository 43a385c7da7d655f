"""The reply outbox: a unit handled again does not send again what Meta accepted.

Every send made while handling a unit has a key ``(unit key, n)`` — the n-th send of that unit
— and a short *token* of that key (:mod:`wahost.receipts`) that travels to Meta in
``biz_opaque_callback_data`` and comes back in the message's statuses. The outbox keeps one
record per token in the state store:

* once Meta accepts the send, its answer (the wamid) is written at once — not with the ack:
  the crash may come before the ack;
* a status of the message that reaches the ingress (a *receipt*) writes the same record, so a
  send whose answer never came back is known to have gone out once Meta's status arrives;
* a send whose outcome is unknown (the request left, then the connection dropped or the answer
  came too late: *ambiguous*) leaves a *pending* record with its time, in a namespace of its
  own so that it never hides a receipt.

When the unit is handled again (a retry after a failure, a replay of a dead unit, a restart),
the n-th send finds its record and returns it without a request. What an ambiguous send does
is ``[outbox] ambiguous`` (docs/reliability.md has the trade-off):

* ``confirm`` (default): wait up to ``[outbox] confirm_wait`` seconds for a receipt; send again
  only when none came. A reply is repeated only when Meta accepted it and its status did not
  reach wahost within the wait.
* ``resend``: send again at once (at least once: the user may see it twice; fastest).
* ``never``: never send again (at most once: the reply may be lost); the send returns with an
  empty ``id`` and ``ambiguous`` set.

While the Graph API is unavailable (the circuit is open, or it answers only errors Meta calls
temporary), a send waits for it — up to ``[worker] outage_patience`` seconds — holding its
unit's lease, so the conversation stays in order and nothing is handled twice.

A store that cannot take a record at that moment (Redis restarting, a disk full for a moment)
does not widen the window between Meta accepting a send and its record: the record is retried
with a short capped backoff for up to ``patience`` seconds — half the worker's lease, so the
unit cannot be leased to another handling meanwhile even when the heartbeat cannot extend the
lease either (same store, same outage). Only then does the error reach the plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import structlog

from wahost import receipts
from wahost.errors import TransportError, graph_unavailable
from wahost.graph import SentMessage
from wahost.retry import capped_delays, retry_transient
from wahost.state.base import TRANSIENT_STORAGE_ERRORS, StateStore

if TYPE_CHECKING:
    from wahost.graph import GraphClient
    from wahost.models import Status

NAMESPACE = "wahost.outbox"
#: Sends whose outcome is unknown, apart from the confirmed ones so that a pending record can
#: never hide a receipt that was written first.
PENDING = "wahost.outbox.pending"

AmbiguousPolicy = Literal["confirm", "resend", "never"]

_encode = msgspec.json.encode
_decoder = msgspec.json.Decoder(SentMessage)

log = structlog.get_logger("wahost.outbox")

#: First and longest pause between two tries of a record the store refused.
RECORD_RETRY_BASE = 0.05
RECORD_RETRY_CAP = 1.0
#: First and longest pause between two looks for a receipt (a receipt handled in this process
#: wakes the waiter at once; the looks find those handled by other processes).
RECEIPT_POLL_BASE = 0.05
RECEIPT_POLL_CAP = 0.5


class Outbox:
    """Sends through ``client`` and records each send per token for ``ttl`` seconds."""

    def __init__(
        self,
        store: StateStore,
        client: GraphClient,
        *,
        ttl: float,
        patience: float = 0.0,
        ambiguous: AmbiguousPolicy = "confirm",
        confirm_wait: float = 30.0,
        outage_patience: float = 0.0,
    ) -> None:
        self.store = store
        self.client = client
        self.ttl = ttl
        #: Seconds to keep retrying a record the store refuses (0: one try).
        self.patience = patience
        self.ambiguous = ambiguous
        self.confirm_wait = confirm_wait
        #: Seconds a send waits for an unavailable Graph API (0: it fails at once).
        self.outage_patience = outage_patience
        self._waiters: dict[str, asyncio.Event] = {}

    @staticmethod
    def token(unit_key: str, n: int) -> str:
        """The token (and record key) of the ``n``-th send of a unit."""
        return receipts.make_token(f"{unit_key}#{n}")

    async def send(
        self,
        unit_key: str,
        n: int,
        to: str,
        message: Any = None,
        /,
        *,
        first_handling: bool = False,
        **kwargs: Any,
    ) -> tuple[SentMessage, bool]:
        """``(the n-th send's result, whether it was sent by this call)``: a send already
        recorded (or confirmed by a receipt) is not made again. ``first_handling``: the unit
        is being handled for the first time ever (:attr:`wahost.queue.Lease.first_handling`),
        so no record of its sends can exist and none is looked for. Other arguments as
        :meth:`GraphClient.send`."""
        token = self.token(unit_key, n)
        if first_handling:  # the usual case: one read a send fewer
            recorded: SentMessage | None = None
            pending: SentMessage | None = None
        elif self.ambiguous == "resend":
            recorded, pending = await self._read(token), None
        else:  # both records in one read: this runs before every send
            found = await self.store.kv_get_many([(NAMESPACE, token), (PENDING, token)])
            recorded, pending = (None if v is None else _decoder.decode(v) for v in found)
        if recorded is not None:
            return recorded, False
        if pending is not None:  # an earlier handling's send may have reached Meta
            if self.ambiguous == "never":
                return pending, False
            confirmed = await self._await_receipt(token, pending.sent_at + self.confirm_wait)
            if confirmed is not None:
                return confirmed, False
        resend = self.ambiguous == "resend"
        outage_deadline: float | None = None
        unavailable = 0
        ambiguous = 0
        while True:
            try:
                sent = await self.client.send(
                    to, message, send_token=token, resend_ambiguous=resend, **kwargs
                )
                break
            except Exception as exc:
                if isinstance(exc, TransportError) and exc.ambiguous and not resend:
                    ambiguous += 1
                    confirmed = await self._ambiguous(token, to, kwargs, ambiguous, exc)
                    if confirmed is None:
                        continue
                    sent = confirmed
                    break
                if not graph_unavailable(exc):
                    raise
                unavailable += 1
                outage_deadline = await self._wait_for_graph(exc, outage_deadline, unavailable)
        await self._record(token, sent)
        return sent, True

    async def _wait_for_graph(self, exc: Exception, deadline: float | None, tries: int) -> float:
        """Wait for the Graph API to be worth trying again; re-raise ``exc`` once the outage
        outlasted ``outage_patience``. Returns the deadline."""
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.outage_patience
        if now >= deadline:
            raise exc
        if tries == 1:
            log.warning(
                "Graph API unavailable: the send waits for it",
                error=str(exc),
                patience=self.outage_patience,
            )
        await self.client.wait_available(deadline, tries)
        return deadline

    async def _ambiguous(
        self, token: str, to: str, kwargs: dict[str, Any], rounds: int, exc: TransportError
    ) -> SentMessage | None:
        """After an ambiguous failure: the send as Meta's status confirmed it, or ``None`` to
        send again; raises when the policy or the number of rounds says to stop."""
        pending = SentMessage(
            id="",
            to=to,
            phone_number_id=kwargs.get("phone_number_id") or self.client.phone_number_id,
            ambiguous=True,
            sent_at=time.time(),
        )
        await self._record(token, pending, PENDING)
        if self.ambiguous == "never":
            log.warning("send may have reached Meta; not sent again (at most once)", error=str(exc))
            return pending
        log.warning(
            "send may have reached Meta; waiting for its status before sending again",
            error=str(exc),
            wait=self.confirm_wait,
        )
        confirmed = await self._await_receipt(token, pending.sent_at + self.confirm_wait)
        if confirmed is not None:
            log.info("ambiguous send confirmed by Meta's status", wamid=confirmed.id)
            return confirmed
        if rounds > self.client.max_retries:
            raise exc
        log.warning("no status for an ambiguous send: sending it again", rounds=rounds)
        return None

    # -- receipts -------------------------------------------------------------------------

    async def confirm(self, token: str, status: Status) -> None:
        """Record what a receipt says: the send of ``token`` went out as ``status.id``."""
        if await self._read(token) is None:
            sent = SentMessage(
                id=status.id,
                to=status.recipient,
                phone_number_id=status.phone_number_id or self.client.phone_number_id,
                callback_data=status.biz_opaque_callback_data,
                sent_at=time.time(),
            )
            await self._record(token, sent)
        waiter = self._waiters.pop(token, None)
        if waiter is not None:
            waiter.set()

    async def _await_receipt(self, token: str, until: float) -> SentMessage | None:
        """The send of ``token`` once a receipt confirmed it, or ``None`` at ``until``
        (``time.time()``)."""
        waiter = self._waiters.setdefault(token, asyncio.Event())
        try:
            for delay in capped_delays(RECEIPT_POLL_BASE, RECEIPT_POLL_CAP):
                recorded = await self._read(token)
                if recorded is not None:
                    return recorded
                remaining = until - time.time()
                if remaining <= 0:
                    return None
                if waiter.is_set():  # woken, but the record is not there (yet)
                    waiter = self._waiters.setdefault(token, asyncio.Event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), min(delay, remaining))
            raise AssertionError("unreachable: capped_delays never ends")  # pragma: no cover
        finally:
            if self._waiters.get(token) is waiter:
                del self._waiters[token]

    # -- records --------------------------------------------------------------------------

    async def _read(self, token: str, namespace: str = NAMESPACE) -> SentMessage | None:
        value = await self.store.kv_get(namespace, token)
        return None if value is None else _decoder.decode(value)

    async def _record(self, token: str, sent: SentMessage, namespace: str = NAMESPACE) -> None:
        """Write the record of a send, retrying while the store refuses it."""
        value = _encode(sent)
        deadline = time.monotonic() + self.patience

        async def write() -> None:
            await self.store.kv_set(namespace, token, value, ttl=self.ttl)

        def out_of_patience(exc: BaseException, tries: int, delay: float) -> bool:
            if time.monotonic() + delay <= deadline:
                return False
            log.error(
                "outbox could not record a sent message; it is sent again if the unit "
                "is handled again",
                send=token,
                wamid=sent.id,
                tries=tries,
                error=str(exc),
            )
            return True

        def retrying(exc: BaseException, tries: int, delay: float) -> None:
            log.warning(
                "outbox could not record a sent message, retrying",
                send=token,
                tries=tries,
                delay=delay,
                error=str(exc),
            )

        tries = await retry_transient(
            write,
            errors=TRANSIENT_STORAGE_ERRORS,
            base=RECORD_RETRY_BASE,
            cap=RECORD_RETRY_CAP,
            give_up=out_of_patience,
            on_retry=retrying,
        )
        if tries > 1:
            log.info("outbox recorded a sent message after retries", send=token, tries=tries)
