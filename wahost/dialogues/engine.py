"""The dialogues of one host: a conversation's updates go to its waiting dialogue first.

The worker hands every message and status of a conversation to :class:`Dialogues` before the
routers see it (:meth:`Dialogues.offer_message`, :meth:`Dialogues.offer_status`), and every
``dialogue`` unit (a step's timeout) to :meth:`Dialogues.time_out`; meanwhile
:meth:`Dialogues.watch_deadlines` turns the deadlines that are due into such units (every
worker does, the queue's deduplication keeps one of each). When the conversation has a
dialogue waiting, the engine finds its handler again by the stable name its journal records,
runs it with the handler's first update (:mod:`wahost.dialogues.run`) and ends the dialogue
when the handler returns or raises.

What ends a dialogue, its journal deleted with the unit's ack and the conversation free:

* the handler returns;
* an exception escapes it — :class:`AskTimeout` and :class:`ConversationCancelled` are logged
  as the end of the dialogue, any other is logged with the router's name and reported to
  ``on_plugin_error`` (the unit is acked: running the dialogue again would raise again).
  Failures of the Graph API or the stores are not the dialogue's: they raise, and the unit is
  retried with its journal unchanged;
* a replay that diverges from its journal (:class:`DialogueDiverged`): logged as an error,
  nothing sent;
* its handler is gone or its ``version`` changed since it started: logged, and the update goes
  on to the routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from wahost.context import Context, Conversation
from wahost.dialogues.errors import (
    AskTimeout,
    ConversationCancelled,
    DialogueDiverged,
    DialogueSuspended,
)
from wahost.dialogues.journal import (
    DEADLINES,
    NAMESPACE,
    Journal,
    Signal,
    decode,
    decode_signal,
    encode,
)
from wahost.dialogues.run import (
    DialogueRun,
    Offer,
    evaluate,
    forget_deadline,
    status_answers,
    status_rank,
)
from wahost.dispatch import HookFailed
from wahost.errors import graph_unavailable
from wahost.filters.base import matched
from wahost.models import DecodeError, Message, Status, TextMessage, decode_unit
from wahost.queue.base import LeaseLost, QueueUnavailable
from wahost.router import Handler, Router
from wahost.state.base import TRANSIENT_STORAGE_ERRORS, StateStore, now

if TYPE_CHECKING:
    from wahost.host import Wahost
    from wahost.units import Unit

__all__ = ["DEADLINES_SCANNED", "Dialogues", "Waiting", "waiting"]

log = structlog.get_logger("wahost.dialogues")

#: Deadlines read by one look for due timeouts (the earliest ones; more are read at once when
#: they are all due).
DEADLINES_SCANNED = 500

_NOT_THE_DIALOGUES: tuple[type[BaseException], ...] = (
    HookFailed,
    LeaseLost,
    QueueUnavailable,
    *TRANSIENT_STORAGE_ERRORS,
)
_NO_VALUES: Mapping[str, Any] = {}


class Dialogues:
    """Runs the waiting dialogues of ``host``'s conversations (see the module docstring)."""

    def __init__(self, host: Wahost) -> None:
        self.host = host
        settings = host.config.dialogues
        self.cancel_command = settings.cancel_command.strip().casefold()
        self.timer_interval = settings.timer_interval
        self._handlers: dict[str, tuple[str, Handler]] | None = None
        #: Deadline keys whose timeout unit this process enqueued (until the key is gone).
        self._fired: set[str] = set()

    @property
    def handlers(self) -> dict[str, tuple[str, Handler]]:
        """Every router handler by its stable name, with its router's plugin name."""
        if self._handlers is None:
            found: dict[str, tuple[str, Handler]] = {}
            pm = self.host.pm
            for plugin in pm.get_plugins():
                if isinstance(plugin, Router) and plugin.parent is None:
                    name = pm.get_name(plugin) or plugin.__name__
                    for router in _walk(plugin):
                        for handler in router.handlers:
                            found.setdefault(handler.dialogue_name, (name, handler))
            self._handlers = found
        return self._handlers

    @property
    def enabled(self) -> bool:
        """Whether a dialogue can exist here: only router handlers start them."""
        return bool(self.handlers)

    # -- updates of the conversation -----------------------------------------------------------

    async def offer_message(self, message: Message, ctx: Context) -> str | None:
        """Give ``message`` to the conversation's waiting dialogue; the name of the router that
        took it (an answer, the cancel command, or a non-answer it sent ``retry`` for), or
        ``None`` to let the routers have it."""
        journal = await self._load(ctx)
        if journal is None:
            return None
        step = journal.waiting
        cancel = self._is_cancel(message)
        if step is None or (step.kind == "status" and not cancel):
            return None
        offer = Offer("cancel" if cancel else "message", ctx.unit, message)
        ran = await self._resume(journal, offer, ctx)
        if ran is None:
            return None
        plugin, run = ran
        return plugin if run.consumed or run.retried else None

    async def offer_status(self, status: Status, ctx: Context) -> None:
        """Note a status of one of the dialogue's messages (a later ``wait_status`` of it
        returns at once), and answer a ``wait_status`` that waits for it."""
        journal = await self._load(ctx)
        if journal is None or not any(r.sent.id == status.id for r in journal.sends):
            return
        kept = journal.statuses.get(status.id)
        changed = False
        if kept is None or status_rank(status.status_raw) > _rank_of(kept):
            journal.statuses[status.id] = ctx.unit
            changed = True
        step = journal.waiting
        if (
            step is not None
            and step.kind == "status"
            and step.wamid == status.id
            and status_answers(status.status_raw, step.status)
        ):
            await self._resume(journal, Offer("status", ctx.unit, status), ctx)
        elif changed:
            _save(ctx, journal)

    # -- timeouts ---------------------------------------------------------------------------

    async def watch_deadlines(self, stopping: asyncio.Event) -> None:
        """Until ``stopping`` is set: enqueue the timeout unit of each due deadline, looking
        every ``[dialogues] timer_interval`` seconds (sooner when a deadline comes first)."""
        if not self.enabled:
            return
        while not stopping.is_set():
            try:
                wait = await self.fire_due()
            except Exception as exc:  # the store or queue is down: look again later
                log.warning("could not look for due dialogue timeouts", error=str(exc))
                wait = self.timer_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), min(wait, self.timer_interval))

    async def fire_due(self) -> float:
        """Enqueue the timeout units of the due deadlines; the seconds until the next one."""
        host = self.host
        entries = await host.state.kv_scan(DEADLINES, limit=DEADLINES_SCANNED)
        at = now()
        due: dict[str, Signal] = {}
        wait = math.inf
        for key, value in entries:
            try:
                signal = decode_signal(value)
            except msgspec.DecodeError:
                await host.state.kv_delete(DEADLINES, key)
                continue
            if signal.due > at:
                wait = signal.due - at
                break
            due[key] = signal
        fresh = [signal.unit() for key, signal in due.items() if key not in self._fired]
        if fresh:
            await host.queue.enqueue(fresh)
            host.wakeup.set()
        # A deadline stays until its unit is handled; the keys gone from the scan are done.
        self._fired = set(due)
        return wait

    async def time_out(self, signal: Signal, ctx: Context) -> None:
        """A timeout unit: raise :class:`AskTimeout` at the step it is for, if the dialogue
        still waits there (an answer, a cancel or another dialogue may have come first)."""
        ctx.kv_delete(DEADLINES, signal.key)
        journal = await self._load(ctx)
        if journal is None or journal.id != signal.dialogue:
            return
        step = journal.waiting
        if step is None or len(journal.answers) != signal.step or step.deadline is None:
            return
        await self._resume(journal, Offer("timeout", step=signal.step), ctx)

    # -- running ------------------------------------------------------------------------------

    async def _resume(
        self, journal: Journal, offer: Offer, ctx: Context
    ) -> tuple[str, DialogueRun] | None:
        """Run the dialogue's handler with ``offer`` for its waiting step; ``None`` when it
        could not run (its handler is gone or changed version: then it is ended)."""
        found = self.handlers.get(journal.handler)
        if found is None:
            _end(ctx, journal, "its handler is not registered any more", warn=True)
            return None
        plugin, handler = found
        if handler.version != journal.version:
            _end(
                ctx,
                journal,
                f"its handler's version is {handler.version!r}, it started under "
                f"{journal.version!r}",
            )
            return None
        try:
            start = decode_unit(journal.start)
        except DecodeError as exc:
            _end(ctx, journal, f"its first update does not decode: {exc}", warn=True)
            return None
        run_ctx = Context(self.host, journal.start, lease=ctx.lease)
        run_ctx.update = start
        run_ctx.attempt = ctx.attempt
        # The handler's filters are checked against the state they saw when it started; the
        # handler itself then works on the conversation's state of now, and its writes go
        # with the unit being handled.
        run_ctx.state = Conversation(ctx.state.key, journal.start_state)
        run = DialogueRun(journal, run_ctx, ctx, offer=offer)
        run_ctx.dialogue = run
        run_ctx.slots = ctx.slots
        run_ctx.log = ctx.log.bind(dialogue=journal.id, handler=journal.handler)
        hook = f"on_{handler.kind}"
        try:
            async with asyncio.timeout(self.host.dispatch.timeout) as scope:
                values = await evaluate(handler.filter, start, run_ctx)
                if not matched(values):
                    raise DialogueDiverged(
                        f"dialogue {journal.handler}: its handler's filters no longer match "
                        "the message that started it"
                    )
                run_ctx.state = ctx.state
                run_ctx.share_writes(ctx)
                arguments = values if isinstance(values, Mapping) else _NO_VALUES
                result = handler.callback(**handler.plan.arguments(start, run_ctx, arguments))
                if inspect.isawaitable(result):
                    await result
        except DialogueSuspended:
            log.debug("dialogue waits", dialogue=journal.id, step=len(journal.answers))
            return plugin, run
        except DialogueDiverged as exc:
            log.error("dialogue diverged from its journal", plugin=plugin, error=str(exc))
            _end(ctx, journal, "it diverged", quiet=True)
        except (AskTimeout, ConversationCancelled) as exc:
            _end(ctx, journal, str(exc))
        except Exception as exc:
            if scope.expired() or graph_unavailable(exc):
                raise HookFailed(hook, [(plugin, exc)]) from exc
            if isinstance(exc, _NOT_THE_DIALOGUES):
                raise
            exc.add_note(f"in dialogue {journal.handler} ({journal.id})")
            await self.host.dispatch.report(plugin, hook, exc, ctx.unit)
            _end(ctx, journal, f"{type(exc).__name__} escaped its handler", quiet=True)
        else:
            if run.position < run.recorded_steps:
                log.error(
                    "dialogue diverged from its journal",
                    plugin=plugin,
                    error=f"dialogue {journal.handler}: its handler returned before step "
                    f"{run.position}, which its journal records",
                )
                _end(ctx, journal, "it diverged", quiet=True)
            else:
                _end(ctx, journal, "its handler returned")
        return plugin, run

    async def _load(self, ctx: Context) -> Journal | None:
        if not ctx.unit.user or not self.enabled:
            return None
        value = await ctx.kv_get(NAMESPACE, ctx.state.key)
        if value is None:
            return None
        try:
            return decode(value)
        except msgspec.DecodeError as exc:
            log.error("dialogue journal unreadable; ended", conversation=ctx.state.key, error=exc)
            ctx.kv_delete(NAMESPACE, ctx.state.key)
            return None

    def _is_cancel(self, message: Message) -> bool:
        return (
            bool(self.cancel_command)
            and isinstance(message, TextMessage)
            and message.text.body.strip().casefold() == self.cancel_command
        )


def _walk(router: Router) -> list[Router]:
    found = [router]
    for child in router.routers:
        found.extend(_walk(child))
    return found


def _rank_of(unit: Unit) -> int:
    update = decode_unit(unit)
    return status_rank(update.status_raw) if isinstance(update, Status) else 0


def _save(ctx: Context, journal: Journal) -> None:
    ctx.kv_set(NAMESPACE, ctx.state.key, encode(journal))


def _end(
    ctx: Context, journal: Journal, reason: str, *, warn: bool = False, quiet: bool = False
) -> None:
    """End the dialogue: its journal (and its waiting step's deadline) are deleted with the
    unit's ack."""
    ctx.kv_delete(NAMESPACE, ctx.state.key)
    forget_deadline(ctx, journal)
    if quiet:
        return
    (log.warning if warn else log.info)(
        "dialogue ended",
        dialogue=journal.id,
        handler=journal.handler,
        reason=reason,
        steps=len(journal.steps),
    )


class Waiting(msgspec.Struct):
    """What a conversation's dialogue waits for (the simulator and tools show it)."""

    handler: str
    #: The step waiting (1 for the first ask), and its kind.
    step: int
    kind: str
    deadline: float | None


async def waiting(store: StateStore, conversation: str) -> Waiting | None:
    """The waiting dialogue of ``conversation``, read from the store, or ``None``."""
    value = await store.kv_get(NAMESPACE, conversation)
    if value is None:
        return None
    try:
        journal = decode(value)
    except msgspec.DecodeError:
        return None
    step = journal.waiting
    if step is None:
        return None
    return Waiting(journal.handler, len(journal.answers) + 1, step.kind, step.deadline)
