"""The worker: leases units, hands each to the plugins, acks, retries or parks it.

Many units are in flight at once (``[worker] concurrency``), but the queue never leases two
units of one conversation at the same time and always leases a conversation's oldest unit
first, so a user's messages are handled one at a time and in arrival order — with any number of
workers on the same store.

A unit's ``ctx.state`` writes are committed with its ack, in one transaction where the queue and
the state store share one (SQLite on one file, memory), otherwise through the store's
idempotent ``apply`` keyed by the unit. On an exception the unit is retried with capped
exponential backoff and full jitter; after ``max_attempts`` it is parked as dead, kept with its
error and replayable (``wahost queue replay``).

An ack that cannot commit (disk full, store down) is retried by the worker itself, with a short
capped backoff, for as long as the lease is held (the heartbeat keeps extending it): the unit
was handled and its sends are in the outbox, so handling it again would only re-run the plugins.
The worker gives up when the lease is lost or when it is stopping; the unit is then leased
again once its lease expires — at least once, never lost.

A conversation's messages and statuses go to its waiting dialogue (``ctx.ask``,
:mod:`wahost.dialogues`) before the routers; ``dialogue`` units are dialogues' timeouts, and
the worker also looks for the timeouts that are due (:meth:`Dialogues.watch_deadlines`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import traceback
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from wahost.context import Context
from wahost.dialogues.engine import Dialogues
from wahost.dialogues.journal import decode_signal
from wahost.dispatch import HookFailed
from wahost.errors import graph_unavailable
from wahost.models import DecodeError, Event, Message, Status, WebhookError, decode_unit
from wahost.queue.base import Lease, LeaseLost, QueueUnavailable
from wahost.retry import backoff_delay as backoff_delay
from wahost.retry import capped_delay, retry_transient
from wahost.state.base import TRANSIENT_STORAGE_ERRORS, StateChanges
from wahost.unit_stamp import traceparent
from wahost.units import conversation_key

if TYPE_CHECKING:
    from wahost.host import Wahost

log = structlog.get_logger("wahost.worker")
#: The standard library logger behind ``log``, asked whether info lines are wanted.
_INFO = logging.getLogger("wahost.worker")

#: Seconds a unit is assumed to take (its handler, waits on an upstream included, and its
#: reply) when ``[worker] concurrency`` is unset: by Little's law, ``messages_per_second x``
#: this many units in flight keep the sends at Meta's cap for handlers up to this slow.
ASSUMED_UNIT_SECONDS = 2.0
#: The least concurrency derived, for bots whose number has a low cap.
MIN_CONCURRENCY = 64
#: The most concurrency derived: enough for Meta's highest standard cap (1,000/s). A cap set
#: far above it (a benchmark's, or a test's) would otherwise lease whole backlogs at once.
MAX_CONCURRENCY = 2000


def default_concurrency(messages_per_second: float) -> int:
    """``[worker] concurrency`` when it is unset (see :data:`ASSUMED_UNIT_SECONDS`)."""
    derived = math.ceil(messages_per_second * ASSUMED_UNIT_SECONDS)
    return min(MAX_CONCURRENCY, max(MIN_CONCURRENCY, derived))


#: Seconds a worker keeps polling (at most ``[worker] poll_interval`` apart) after its last
#: wake-up before it waits for the wake-up of a queue that wakes its workers: a busy worker,
#: woken by each unit it finishes, would otherwise ask to be woken for every new unit.
IDLE_BEFORE_WAITING = 0.05
#: Seconds between two polls of an idle worker waiting for such a queue's wake-up, at least
#: ``[worker] poll_interval``: only a safety net (a wake-up lost with a crashed process); the
#: queue itself returns when new work, a retry or an expired lease comes due.
IDLE_POLL_INTERVAL = 5.0

#: First and longest pause between two tries of an ack that could not commit.
ACK_RETRY_BASE = 0.05
ACK_RETRY_CAP = 1.0
#: What a failed commit raises: the queue's error, the state store's, a socket's, SQLite's.
_STORAGE_ERRORS: tuple[type[Exception], ...] = (QueueUnavailable, *TRANSIENT_STORAGE_ERRORS)


#: A unit's conversation state not read with its batch (``None`` is a state: none).
_UNREAD: Any = object()


class _AckAbandoned(Exception):
    """The worker stopped while an ack could not commit; the lease will expire."""


def _only_graph_unavailable(exc: HookFailed) -> bool:
    """Whether every plugin error of ``exc`` says the Graph API was unavailable (an error a
    plugin raised in its turn, e.g. ``raise MyError() from graph_error``, counts by its
    cause)."""

    def unavailable(error: BaseException | None) -> bool:
        seen = 0
        while error is not None and seen < 10:
            if graph_unavailable(error):
                return True
            error = error.__cause__
            seen += 1
        return False

    return bool(exc.errors) and all(unavailable(error) for _, error in exc.errors)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, HookFailed):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _cause(exc: BaseException) -> BaseException:
    """The exception whose traceback explains ``exc``: a hook's failure is its plugin's."""
    if isinstance(exc, HookFailed) and exc.errors:
        return exc.errors[0][1]
    return exc


class Worker:
    """Runs until :meth:`stop`; see the module docstring."""

    def __init__(self, host: Wahost) -> None:
        self.host = host
        cfg = host.config.worker
        #: Units in flight at most; a waiting handler costs a task and its context.
        self.concurrency = (
            cfg.concurrency
            if cfg.concurrency is not None
            else default_concurrency(host.config.graph.messages_per_second)
        )
        self.lease_seconds = cfg.lease_seconds
        self.max_attempts = cfg.max_attempts
        self.backoff_base = cfg.backoff_base
        self.backoff_cap = cfg.backoff_cap
        self.poll_interval = cfg.poll_interval
        self.outage_patience = cfg.outage_patience
        #: Seconds to gather wake-ups before leasing again while units are in flight.
        self.coalesce = min(0.002, cfg.poll_interval)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        #: Waits in a row that ended with nothing woken (see :meth:`_wait`).
        self._quiet_waits = 0
        self.handled = 0
        #: The conversations' waiting dialogues (``ctx.ask``): their updates go there first.
        self.dialogues = Dialogues(host)
        self._acks = _Acks(host)
        self._heartbeats = _Heartbeats(self)
        #: Whether the queue's ack commits the store's changes in its transaction (run).
        self._shared = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self) -> None:
        """Lease and handle units until :meth:`stop` is called."""
        # The host's queue and store are set for its life: asked once, not for every unit.
        self._shared = self.host.queue.shares_transaction_with(self.host.state)
        deadlines = asyncio.create_task(self.dialogues.watch_deadlines(self._stopping))
        try:
            await self._lease_and_handle()
        finally:
            deadlines.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadlines

    async def _lease_and_handle(self) -> None:
        queue = self.host.queue
        wakeup = self.host.wakeup
        loop = asyncio.get_running_loop()
        failures = 0
        outage_began = 0.0
        while not self._stopping.is_set():
            free = self.concurrency - len(self._tasks)
            leases: list[Lease] = []
            if free > 0:
                wakeup.clear()
                try:
                    leases = await queue.lease(free, lease_seconds=self.lease_seconds)
                except (QueueUnavailable, OSError) as exc:
                    failures += 1
                    delay = capped_delay(failures + 1, 0.1, 5.0)
                    # One line when the outage starts and one when it ends; each try in
                    # between (every 5 s at most, for as long as it lasts) only at debug.
                    if failures == 1:
                        outage_began = time.monotonic()
                        log.warning("queue unavailable, backing off", error=str(exc), delay=delay)
                    else:
                        log.debug("queue still unavailable", error=str(exc), tries=failures)
                    await self._sleep(delay)
                    continue
                if failures:
                    log.warning(
                        "queue available again: leasing resumed",
                        tries=failures,
                        seconds=round(time.monotonic() - outage_began, 1),
                    )
                    failures = 0
                states = await self._prefetch(leases) if leases else None
                # Without tracing, each unit's task runs _handle_lease itself: one coroutine
                # fewer a unit.
                handle = self._handle if self.host.tracing is not None else self._handle_lease
                for n, lease in enumerate(leases):
                    task = loop.create_task(handle(lease, _UNREAD if states is None else states[n]))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
            if not leases:
                await self._wait(wakeup)
                if self._tasks:
                    # Coalesce: one lease for the completions and enqueues of the next moment
                    # rather than one per event (a lease is a write transaction).
                    await asyncio.sleep(self.coalesce)

    async def _prefetch(self, leases: list[Lease]) -> list[Any] | None:
        """The conversation states of ``leases``' units in one read (``_UNREAD`` for a unit
        without a user), or ``None`` when the store could not answer: each unit then reads its
        own. Read after the lease: no other worker changes these conversations meanwhile."""
        keys = [conversation_key(lease.unit.phone_number_id, lease.unit.user) for lease in leases]
        wanted = [key for lease, key in zip(leases, keys, strict=True) if lease.unit.user]
        try:
            found = iter(await self.host.state.get_many(wanted))
        except Exception as exc:  # the units read their own (and meet the error there)
            log.debug("state prefetch failed", error=str(exc))
            return None
        return [next(found) if lease.unit.user else _UNREAD for lease in leases]

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.host.wakeup.set()  # the next unit of that conversation may be leasable now

    async def _wait(self, wakeup: asyncio.Event) -> None:
        """Until woken, stopped, or the next poll. On a queue that wakes its workers, a worker
        that nothing woke for :data:`IDLE_BEFORE_WAITING` waits for the queue's wake-up
        (:meth:`QueueBackend.wait_for_work`: new work from any process, a retry or lease
        coming due) and polls only every :data:`IDLE_POLL_INTERVAL`."""
        queue = self.host.queue
        wake = asyncio.ensure_future(wakeup.wait())
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._stopping.wait()), wake}
        timeout: float | None = self.poll_interval
        if queue.wakes_workers and self._quiet_waits == 0:
            timeout = min(self.poll_interval, IDLE_BEFORE_WAITING)
        elif queue.wakes_workers:
            safety = max(self.poll_interval, IDLE_POLL_INTERVAL)
            waits.add(asyncio.ensure_future(queue.wait_for_work(safety)))
            timeout = None
        try:
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
        for finished in done:
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("waiting for work failed", error=str(finished.exception()))
        if wake in done:
            self._quiet_waits = 0
        elif not done:
            self._quiet_waits += 1

    async def _sleep(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop leasing; wait up to ``grace`` seconds for units in flight, then abandon them.

        An abandoned unit's lease is released for immediate retry where possible; otherwise it
        expires and the unit is handed out again — never lost.
        """
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # -- one unit -------------------------------------------------------------------------

    async def _handle(self, lease: Lease, state: Any = _UNREAD) -> None:
        """:meth:`_handle_lease` in the unit's span, when tracing."""
        tracing = self.host.tracing
        if tracing is None:
            return await self._handle_lease(lease, state)
        unit = lease.unit
        with tracing.unit_span(traceparent(unit), unit.kind, unit.key, lease.attempt):
            await self._handle_lease(lease, state)

    async def _handle_lease(self, lease: Lease, state: Any = _UNREAD) -> None:
        """Handle one leased unit; ``state``: its conversation's state as read with its
        batch (``_UNREAD``: not read yet)."""
        unit = lease.unit
        host = self.host
        queue, store = host.queue, host.state
        started = time.perf_counter()
        heartbeats = self._heartbeats
        heartbeats.add(lease)
        try:
            shared = self._shared
            if not shared and await store.is_applied(unit.key):
                # Handled before a crash that came between its commit and its ack.
                await self._commit(lease, None, shared=False)
                return
            if unit.kind == "dialogue":
                await self._dialogue_signal(lease, shared=shared)
                return
            try:
                update = decode_unit(unit)
            except DecodeError as exc:
                # Can never succeed: park it at once for an operator, and tell the plugins
                # (on_plugin_error from "wahost" at "decode_unit"), since no other hook runs.
                await queue.dead(lease, error=f"undecodable unit: {exc}")
                log.error("unit undecodable", unit=unit.key, error=str(exc))
                await host.dispatch.report("wahost", "decode_unit", exc, unit)
                return
            if unit.kind == "receipt":
                await self._receipt(lease, update)
                return
            ctx, handled_by = await self._handle_update(lease, update, time.monotonic(), state)
            await self._commit(lease, ctx.changes(), shared=shared)
            self.handled += 1
            if host.metrics is not None:
                host.metrics.unit_handled(unit.kind, time.perf_counter() - started)
            if _INFO.isEnabledFor(logging.INFO):  # skipped cheaply at the usual "warning"
                log.info(
                    "unit handled",
                    unit=unit.key,
                    type=getattr(update, "type", unit.kind),
                    plugin=handled_by,
                    attempt=lease.attempt,
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )
        except LeaseLost:
            log.warning("lease lost; another worker has the unit", unit=unit.key)
        except _AckAbandoned as exc:
            log.warning(
                "worker stopping; ack abandoned, the unit comes back when its lease expires",
                unit=unit.key,
                error=str(exc.__cause__),
            )
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(queue.retry(lease, delay=0, error="worker stopped"))
            raise
        except Exception as exc:
            await self._failed(lease, exc, started=started)
        finally:
            heartbeats.discard(lease)

    async def _handle_update(
        self, lease: Lease, update: Any, began: float, state: Any = _UNREAD
    ) -> tuple[Context, str | None]:
        """Dispatch the update; while the Graph API is unavailable, wait and handle it again.

        A unit whose hooks failed only because the Graph API could not be used (a mark-read
        or a media call in an outage; replies wait inside ``ctx.send`` instead) is not at
        fault: it keeps its lease — its conversation stays in order — and is handled again
        once the API is worth trying, until ``[worker] outage_patience`` seconds after its
        handling ``began`` (so that a send which already waited that long is not given as
        long again), without using up an attempt. Sends it already made are in the outbox
        and are not repeated.
        """
        host = self.host
        deadline = began + self.outage_patience
        tries = 0
        while True:
            ctx = Context(host, lease.unit, lease=lease)
            ctx.update = update
            if tries:  # handled again in place: the first try's sends may be recorded
                ctx.first_handling = False
            if state is _UNREAD or not lease.unit.user:
                await ctx.load()
            else:
                ctx.set_loaded_state(state)
                state = _UNREAD  # a second try reads it again: the first may have changed it
            try:
                return ctx, await self._dispatch(update, ctx)
            except HookFailed as exc:
                client = host.client
                if client is None or not _only_graph_unavailable(exc) or self._stopping.is_set():
                    raise
                if time.monotonic() >= deadline:
                    raise
                tries += 1
                log.warning(
                    "Graph API unavailable: the unit waits and is handled again",
                    unit=lease.unit.key,
                    tries=tries,
                    error=str(exc),
                )
                await client.wait_available(deadline, tries)

    async def _dialogue_signal(self, lease: Lease, *, shared: bool) -> None:
        """A dialogue's timeout: raised at the ask that still waits for it."""
        unit = lease.unit
        try:
            signal = decode_signal(unit.body)
        except msgspec.DecodeError as exc:
            await self.host.queue.dead(lease, error=f"undecodable unit: {exc}")
            log.error("unit undecodable", unit=unit.key, error=str(exc))
            return
        ctx = Context(self.host, unit, lease=lease)
        await ctx.load()
        await self.dialogues.time_out(signal, ctx)
        await self._commit(lease, ctx.changes(), shared=shared)

    async def _receipt(self, lease: Lease, status: Any) -> None:
        """A status that carried an outbox token: tell the outbox the send went out."""
        outbox = self.host.outbox
        if outbox is not None:
            await outbox.confirm(lease.unit.key.removeprefix("receipt:"), status)
        await self._commit(lease, None, shared=False)

    async def _commit(self, lease: Lease, changes: StateChanges | None, *, shared: bool) -> None:
        """Ack the handled unit (with its state changes), retrying a commit that fails.

        Retries with capped exponential backoff while the lease is held; raises
        :class:`LeaseLost` when it is not, :class:`_AckAbandoned` when the worker stops first.
        """
        store = self.host.state
        acks = self._acks
        failed: BaseException | None = None
        if shared or changes is None or changes.is_empty():
            # Nearly every ack commits at its first try, one call: made here, so that the retry
            # loop (its closures and coroutines) is built only after it failed.
            try:
                await acks.ack(lease, changes if shared else None)
                return
            except _STORAGE_ERRORS as exc:
                failed = exc

        async def ack() -> None:
            if shared:
                await acks.ack(lease, changes)
            else:
                if changes is not None and not changes.is_empty():
                    await store.apply(changes)  # idempotent: keyed by the unit
                await acks.ack(lease, None)

        def retrying(exc: BaseException, tries: int, delay: float) -> None:
            log.warning(
                "ack could not commit, retrying",
                unit=lease.unit.key,
                tries=tries,
                delay=delay,
                error=str(exc),
            )

        try:
            tries = await retry_transient(
                ack,
                errors=_STORAGE_ERRORS,
                base=ACK_RETRY_BASE,
                cap=ACK_RETRY_CAP,
                give_up=lambda _exc, _tries, _delay: self._stopping.is_set(),
                on_retry=retrying,
                sleep=self._sleep,  # returns at once when the worker stops
                first_error=failed,
            )
        except _STORAGE_ERRORS as exc:
            raise _AckAbandoned from exc
        if tries > 1:
            log.info("ack committed after retries", unit=lease.unit.key, tries=tries)

    async def _failed(self, lease: Lease, exc: Exception, *, started: float) -> None:
        """Schedule the failed unit's retry, or park it after its last attempt.

        A store that cannot record that (Redis restarting, a disk full for a moment) is tried
        again with a short capped backoff while the lease is held, as an ack is: otherwise the
        unit would wait for its lease to expire before anyone handled it again.
        """
        queue = self.host.queue
        error = _error_text(exc)

        async def record() -> None:
            if lease.attempt >= self.max_attempts:
                await queue.dead(lease, error=error)
                # The traceback once, here: each failed attempt logged one line.
                log.error(
                    "unit dead",
                    unit=lease.unit.key,
                    attempts=lease.attempt,
                    error=error,
                    exc_info=_cause(exc),
                )
            else:
                retry_in = backoff_delay(lease.attempt, self.backoff_base, self.backoff_cap)
                await queue.retry(lease, delay=retry_in, error=error)
                log.warning(
                    "unit failed, will retry",
                    unit=lease.unit.key,
                    attempt=lease.attempt,
                    delay=round(retry_in, 3),
                    error=error,
                )
            if (metrics := self.host.metrics) is not None:
                dead = lease.attempt >= self.max_attempts
                metrics.unit_failed(lease.unit.kind, time.perf_counter() - started, dead=dead)

        def retrying(nested: BaseException, tries: int, delay: float) -> None:
            log.warning(
                "could not record a failure, retrying",
                unit=lease.unit.key,
                tries=tries,
                delay=delay,
                error=error,
                store_error=str(nested),
            )

        try:
            await retry_transient(
                record,
                errors=_STORAGE_ERRORS,
                base=ACK_RETRY_BASE,
                cap=ACK_RETRY_CAP,
                give_up=lambda _exc, _tries, _delay: self._stopping.is_set(),
                on_retry=retrying,
                sleep=self._sleep,
            )
        except LeaseLost:
            log.warning("lease lost while recording a failure", unit=lease.unit.key, error=error)
        except _STORAGE_ERRORS as nested:  # the worker is stopping
            log.error(
                "could not record a failure; the unit comes back when its lease expires",
                unit=lease.unit.key,
                error=error,
                store_error=str(nested),
            )
        except Exception as nested:  # the lease will expire and the unit comes back
            log.error(
                "could not record a failure",
                unit=lease.unit.key,
                error=error,
                store_error=str(nested),
            )

    async def _heartbeat(self, lease: Lease) -> None:
        # Keeps going through failed extends (a disk full for a moment): the lease must
        # outlast an ack that is being retried.
        interval = self.lease_seconds / 3
        with contextlib.suppress(LeaseLost, asyncio.CancelledError):
            while True:
                with contextlib.suppress(*_STORAGE_ERRORS):
                    await self.host.queue.extend(lease, lease_seconds=self.lease_seconds)
                await asyncio.sleep(interval)

    async def _dispatch(self, update: Any, ctx: Context) -> str | None:
        dispatch = self.host.dispatch
        unit = ctx.unit
        if isinstance(update, Message):
            await dispatch.broadcast("before_message", unit=unit, message=update, ctx=ctx)
            # Only router handlers start dialogues: without one, nothing waits for a message.
            if self.dialogues.enabled:
                taken = await self.dialogues.offer_message(update, ctx)
                if taken is not None:
                    return taken
            result = await dispatch.first("on_message", unit=unit, message=update, ctx=ctx)
            if result.value is None:
                result = await dispatch.first("on_unhandled", unit=unit, message=update, ctx=ctx)
            return result.plugin
        if isinstance(update, Status):
            await dispatch.broadcast("on_status", unit=unit, status=update, ctx=ctx)
            if self.dialogues.enabled:
                await self.dialogues.offer_status(update, ctx)
        elif isinstance(update, WebhookError):
            await dispatch.broadcast("on_webhook_error", unit=unit, error=update, ctx=ctx)
        elif isinstance(update, Event):
            await dispatch.broadcast("on_event", unit=unit, event=update, ctx=ctx)
        return None


class _Heartbeats:
    """Extend the leases of the units handled for longer than a third of a lease.

    Most units are handled well within that, so no unit gets a task, or even a timer, of its
    own when it starts: one timer, running while units are in flight, looks every sixth of a
    lease for units handled for a third of one or more, and starts their heartbeat task (the
    first extend comes between a third and half a lease after the unit's start).
    """

    __slots__ = ("_running", "_tasks", "_timer", "_worker")

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        #: The units in flight: ``id(lease)`` -> (lease, when its handling began).
        self._running: dict[int, tuple[Lease, float]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, lease: Lease) -> None:
        loop = asyncio.get_running_loop()
        self._running[id(lease)] = (lease, loop.time())
        if self._timer is None:
            self._timer = loop.call_later(self._worker.lease_seconds / 6, self._look)

    def discard(self, lease: Lease) -> None:
        self._running.pop(id(lease), None)
        task = self._tasks.pop(id(lease), None)
        if task is not None:
            task.cancel()

    def _look(self) -> None:
        loop = asyncio.get_running_loop()
        begun_before = loop.time() - self._worker.lease_seconds / 3
        for key, (lease, began) in self._running.items():
            if began <= begun_before and key not in self._tasks:
                self._tasks[key] = loop.create_task(self._worker._heartbeat(lease))
        self._timer = (
            loop.call_later(self._worker.lease_seconds / 6, self._look) if self._running else None
        )


class _Acks:
    """Gathers the acks asked for in one turn of the event loop into one queue call.

    Units leased together finish together: acked one by one, each would be a write
    transaction's operation of its own, with its own hand-over to the store and back. The
    first ack of a turn schedules the call for the end of the turn, so an ack waits for no
    other. When the whole call fails (the store unavailable, or an error SQLite raises for
    the call), each unit's ack is tried on its own, so that no unit's trouble stands in for
    another's: each then fails, or is retried, by its own outcome.
    """

    __slots__ = ("_calls", "_host", "_pending")

    def __init__(self, host: Wahost) -> None:
        self._host = host
        self._pending: list[tuple[Lease, StateChanges | None, asyncio.Future[None]]] = []
        self._calls: set[asyncio.Task[None]] = set()

    def ack(self, lease: Lease, changes: StateChanges | None) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((lease, changes, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        call = asyncio.create_task(self._commit(batch))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)

    async def _commit(
        self, batch: list[tuple[Lease, StateChanges | None, asyncio.Future[None]]]
    ) -> None:
        queue = self._host.queue
        outcomes: list[Exception | None]
        if len(batch) == 1:
            lease, changes, _ = batch[0]
            outcomes = [await self._one(lease, changes)]
        else:
            try:
                outcomes = await queue.ack_many([(lease, changes) for lease, changes, _ in batch])
            except Exception:
                outcomes = list(
                    await asyncio.gather(
                        *(self._one(lease, changes) for lease, changes, _ in batch)
                    )
                )
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its unit was cancelled (the worker stopping)
                continue
            if outcome is None:
                future.set_result(None)
            else:
                future.set_exception(outcome)

    async def _one(self, lease: Lease, changes: StateChanges | None) -> Exception | None:
        try:
            await self._host.queue.ack(lease, changes)
        except Exception as exc:
            return exc
        return None
