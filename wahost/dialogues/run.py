"""One run of a dialogue's handler: its steps and sends, live or served from its journal.

A run starts either in the router, the first time a handler asks (:func:`run_of` begins a
journal), or in the dialogue engine (:mod:`wahost.dialogues.engine`) when an update may answer
the step the dialogue waits at. The handler then runs from the top:

* a send the journal records is compared with it (its fingerprint) and its recorded result is
  returned, with no request; a new send goes through the reply outbox under the dialogue's own
  key ``dialogue:<id>``, numbered within the dialogue, so a run of the same step again (the
  unit retried after a crash) does not repeat it;
* a step the journal records is compared with it (kind, place among the sends) and returns its
  recorded answer (or raises the recorded timeout or cancel);
* the step the dialogue waits at takes the offered update when it is an answer (its filters are
  the ask's arguments, so they come from the code), else sends ``retry`` and suspends again;
* a new step sends its prompt, is journaled, arms its timer and suspends the handler
  (:class:`~wahost.dialogues.errors.DialogueSuspended`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import msgspec
import structlog

from wahost.dialogues.errors import (
    AskTimeout,
    ConversationCancelled,
    DialogueDiverged,
    DialogueSuspended,
)
from wahost.dialogues.journal import (
    DEADLINES,
    NAMESPACE,
    Answer,
    Journal,
    SentRecord,
    Step,
    StepKind,
    decode,
    dialogue_id,
    encode,
    encode_signal,
    fingerprint,
)
from wahost.filters.base import MESSAGES, Filter, FilterResult, matched
from wahost.models import Message, Status, decode_unit
from wahost.router import HandlerSkipped
from wahost.state.base import now

if TYPE_CHECKING:
    from wahost.callback_data import CallbackData
    from wahost.context import Context
    from wahost.graph import SentMessage
    from wahost.units import Unit

log = structlog.get_logger("wahost.dialogues")

#: Seconds a deadline key outlives its deadline, in case no worker ever handled it.
DEADLINE_KEPT = 7 * 86400.0

#: The statuses ``wait_status`` may wait for, in the order a message goes through them.
STATUS_RANK: Mapping[str, int] = {"sent": 1, "delivered": 2, "read": 3, "played": 4}


def status_answers(status: str, wanted: str) -> bool:
    """Whether a status ``status`` of a message answers a wait for ``wanted``: the same or a
    later one, or ``failed`` (no other will come)."""
    return status == "failed" or STATUS_RANK.get(status, 0) >= STATUS_RANK[wanted]


def status_rank(status: str) -> int:
    """Which of two statuses of one message to keep: the later one, ``failed`` last."""
    return 9 if status == "failed" else STATUS_RANK.get(status, 0)


@dataclass
class Offer:
    """An update the waiting step may take: a message, a status, its timeout or a cancel."""

    kind: Literal["message", "status", "timeout", "cancel"]
    unit: Unit | None = None
    update: Message | Status | None = None
    #: For a timeout: the step it is for.
    step: int = -1


async def evaluate(check: Filter | None, update: Any, ctx: Context) -> FilterResult:
    """The result of ``check`` for ``update`` (``True`` when there is no filter)."""
    if check is None:
        return True
    try:
        result = check.check(update, ctx)
        if check.is_async:
            result = await result
    except HandlerSkipped:
        return False
    return result  # type: ignore[no-any-return]


def message_filter(filters: tuple[Filter, ...], what: str) -> Filter | None:
    """``filters`` combined with ``&``; each must apply to messages."""
    combined: Filter | None = None
    for item in filters:
        if not isinstance(item, Filter):
            raise TypeError(f"{what}() takes filters, not {item!r}: wrap a function with F.new")
        if not item.kinds & MESSAGES:
            raise TypeError(f"{what}(): {item!r} is not a filter of messages")
        combined = item if combined is None else combined & item
    return combined


def choice_filter(choice: type[CallbackData], filters: tuple[Filter, ...]) -> Filter:
    """The filter of ``ask_choice``: a value of ``choice`` (giving ``data``) and ``filters``."""
    from wahost.callback_data import CallbackData

    if not (isinstance(choice, type) and issubclass(choice, CallbackData)):
        raise TypeError(f"ctx.ask_choice() takes a CallbackData class, not {choice!r}")
    rest = message_filter(filters, "ctx.ask_choice")
    check = choice.filter()
    return check if rest is None else check & rest


class DialogueRun:
    """One run of a dialogue's handler (see the module docstring).

    ``ctx`` is the context the handler runs with (its first update's); ``unit_ctx`` the
    context of the unit being handled, whose buffered writes carry the journal.
    """

    def __init__(
        self,
        journal: Journal,
        ctx: Context,
        unit_ctx: Context,
        *,
        offer: Offer | None = None,
        new: bool = False,
    ) -> None:
        self.journal = journal
        self.ctx = ctx
        self.unit_ctx = unit_ctx
        self.offer = offer
        #: Asks entered so far, and sends made (or served) so far, in this run.
        self.position = 0
        self.sends = 0
        #: Steps and answers the journal had when the run began.
        self.recorded_steps = len(journal.steps)
        self._resume_at = -1 if new else len(journal.answers)
        #: The journal changed in this run (it is written when the handler suspends).
        self.changed = new
        #: The offer became an answer (or the cancel was taken); ``retry`` was sent for it.
        self.consumed = False
        self.retried = False

    @property
    def replaying(self) -> bool:
        """Whether the code running now ran in an earlier unit (before the step being
        answered); see :attr:`wahost.Context.replaying`."""
        return self.position <= self._resume_at

    # -- sends ----------------------------------------------------------------------------

    async def send(self, to: str, message: Any, kwargs: dict[str, Any]) -> SentMessage:
        """A send of the handler: served from the journal, or made under the dialogue's
        outbox key and journaled."""
        n = self.sends
        self.sends += 1
        digest = fingerprint(to, message, kwargs)
        journal = self.journal
        if n < len(journal.sends):
            record = journal.sends[n]
            if record.digest != digest:
                raise DialogueDiverged(
                    f"dialogue {journal.handler}: send {n} is not the one its journal recorded "
                    f"(to {record.sent.to}: {record.sent.preview!r}); its code sends something "
                    "else than when the dialogue started"
                )
            return record.sent
        host = self.ctx.host
        if host.outbox is None:
            raise RuntimeError("the host is not started")
        sent, fresh = await host.outbox.send(f"dialogue:{journal.id}", n, to, message, **kwargs)
        if fresh:
            unit_ctx = self.unit_ctx
            await host.dispatch.broadcast(
                "on_message_sent", unit=unit_ctx.unit, sent=sent, ctx=unit_ctx
            )
        journal.sends.append(SentRecord(digest, sent))
        self.changed = True
        return sent

    # -- steps ----------------------------------------------------------------------------

    async def step(
        self,
        kind: StepKind,
        prompt: Any,
        check: Filter | None,
        *,
        seconds: float | None,
        retry: Any,
        wamid: str = "",
        status: str = "",
    ) -> Any:
        """One ask: its recorded answer, the offered update, or a new wait (suspends)."""
        if seconds is not None and not seconds > 0:
            raise ValueError(f"ctx.ask(timeout=...): seconds > 0, not {seconds!r}")
        k = self.position
        if kind != "status":
            if prompt is None:
                raise TypeError("ctx.ask() needs a prompt: the message that asks")
            await self.ctx.reply(prompt)
        journal = self.journal
        place = (kind, self.sends, wamid, status)
        if k < len(journal.steps):
            recorded = journal.steps[k]
            if (recorded.kind, recorded.sends, recorded.wamid, recorded.status) != place:
                raise DialogueDiverged(
                    f"dialogue {journal.handler}: step {k} is not the one its journal recorded "
                    f"(a {recorded.kind} after {recorded.sends} sends, now a {kind} after "
                    f"{self.sends}); its code asks something else than when it started"
                )
            self.position += 1
            if k < len(journal.answers):
                return await self._recorded(k, recorded, journal.answers[k], check, seconds)
            return await self._waiting(k, recorded, check, seconds, retry)
        deadline = now() + seconds if seconds is not None else None
        waiting = Step(kind, self.sends, deadline, wamid, status)
        journal.steps.append(waiting)
        self.changed = True
        self.position += 1
        if kind == "status":
            seen = journal.statuses.get(wamid)
            if seen is not None:
                update = decode_unit(seen)
                if isinstance(update, Status) and status_answers(update.status_raw, status):
                    journal.answers.append(Answer("status", seen))
                    return update
        if deadline is not None:
            self._arm(k)
        self.suspend()

    def suspend(self) -> NoReturn:
        """Write the journal if it changed and unwind the handler."""
        if self.changed:
            self.save()
        raise DialogueSuspended

    def save(self) -> None:
        """Buffer the journal's write, committed with the unit's ack."""
        unit_ctx = self.unit_ctx
        unit_ctx.kv_set(NAMESPACE, unit_ctx.state.key, encode(self.journal))

    async def _recorded(
        self, k: int, step: Step, answer: Answer, check: Filter | None, seconds: float | None
    ) -> Any:
        if answer.kind == "timeout":
            raise AskTimeout(k, seconds)
        if answer.kind == "cancelled":
            raise ConversationCancelled(k)
        if answer.unit is None:
            raise DialogueDiverged(f"dialogue {self.journal.handler}: answer {k} has no update")
        update = decode_unit(answer.unit)
        if step.kind == "choice":
            result = await evaluate(check, update, self.ctx)
            if not (matched(result) and isinstance(result, Mapping) and "data" in result):
                raise DialogueDiverged(
                    f"dialogue {self.journal.handler}: the answer to step {k} is no longer a "
                    "value of the class it asks for"
                )
            return result["data"]
        return update

    async def _waiting(
        self, k: int, step: Step, check: Filter | None, seconds: float | None, retry: Any
    ) -> Any:
        offer = self.offer
        if offer is None or self.consumed:
            self.suspend()
        assert offer is not None
        if offer.kind == "timeout":
            if offer.step != k:
                self.suspend()
            self._answer(Answer("timeout"))
            raise AskTimeout(k, seconds)
        if offer.kind == "cancel":
            self._answer(Answer("cancelled"))
            raise ConversationCancelled(k)
        if offer.kind == "status":
            update = offer.update
            if not (
                step.kind == "status"
                and isinstance(update, Status)
                and update.id == step.wamid
                and status_answers(update.status_raw, step.status)
            ):
                self.suspend()
            self._answer(Answer("status", offer.unit))
            return update
        if step.kind == "status":
            self.suspend()
        result = await evaluate(check, offer.update, self.ctx)
        if not matched(result):
            if retry is not None:
                await self.unit_ctx.reply(retry)
                self.retried = True
            self.suspend()
        self._answer(Answer("message", offer.unit))
        if step.kind == "choice":
            assert isinstance(result, Mapping)
            return result["data"]
        return offer.update

    def _answer(self, answer: Answer) -> None:
        """Record the waiting step's answer; its deadline goes (with the unit's ack)."""
        journal = self.journal
        timer = journal.timer(len(journal.answers))
        if timer is not None:
            self.unit_ctx.kv_delete(DEADLINES, timer.key)
        journal.answers.append(answer)
        self.consumed = True
        self.changed = True

    def _arm(self, k: int) -> None:
        """Write step ``k``'s deadline key, committed with the journal (see
        :mod:`wahost.dialogues.journal`)."""
        timer = self.journal.timer(k)
        assert timer is not None
        ttl = max(timer.due - now(), 0.0) + DEADLINE_KEPT
        self.unit_ctx.kv_set(DEADLINES, timer.key, encode_signal(timer), ttl=ttl)


def forget_deadline(ctx: Context, journal: Journal) -> None:
    """Delete the deadline of the step ``journal`` waits at, if it has one."""
    if journal.waiting is not None:
        timer = journal.timer(len(journal.answers))
        if timer is not None:
            ctx.kv_delete(DEADLINES, timer.key)


async def run_of(ctx: Context) -> DialogueRun:
    """The dialogue ``ctx`` runs; on a router handler's first ask, a new one."""
    if ctx.dialogue is not None:
        return ctx.dialogue
    running = ctx.running
    if running is None:
        raise RuntimeError(
            "ctx.ask() works inside a Router's message or status handler (the dialogue is "
            "found again by its handler when the answer comes)"
        )
    unit = ctx.unit
    if not unit.user or unit.kind not in ("message", "status"):
        raise RuntimeError("ctx.ask(): this update has no conversation to ask in")
    handler = running.handler
    previous = await ctx.kv_get(NAMESPACE, ctx.state.key)
    if previous is not None:
        with contextlib.suppress(msgspec.DecodeError):
            replaced = decode(previous)
            forget_deadline(ctx, replaced)
            log.info(
                "a new dialogue replaces the one waiting in the conversation",
                conversation=ctx.state.key,
                replaced=replaced.handler,
                handler=handler.dialogue_name,
            )
    journal = Journal(
        id=dialogue_id(unit.key, handler.dialogue_name),
        handler=handler.dialogue_name,
        version=handler.version,
        start=unit,
        start_state=ctx.state.loaded,
        started_at=now(),
    )
    for to, message, kwargs, sent in ctx.sent[running.sends :]:
        journal.sends.append(SentRecord(fingerprint(to, message, kwargs), sent))
    run = DialogueRun(journal, ctx, ctx, new=True)
    run.sends = len(journal.sends)
    ctx.dialogue = run
    return run


async def status_step(
    run: DialogueRun, sent: SentMessage | str, status: str, *, seconds: float | None
) -> Status:
    """``ctx.wait_status``: a step that waits for a status of one of the dialogue's sends."""
    if status not in STATUS_RANK:
        raise ValueError(
            f"ctx.wait_status(): status {status!r} is not one of {', '.join(STATUS_RANK)}"
        )
    if isinstance(sent, str):
        wamid, to = sent, None
    else:
        wamid, to = sent.id, sent.to
    if not wamid:
        raise ValueError("ctx.wait_status(): the message has no wamid (it was not sent)")
    user = run.journal.start.user
    if to is not None and to.lstrip("+") != user.lstrip("+"):
        raise ValueError(
            "ctx.wait_status(): statuses come in the conversation of the recipient; wait "
            f"only for messages sent to this conversation's user ({user}), not to {to}"
        )
    result = await run.step(
        "status", None, None, seconds=seconds, retry=None, wamid=wamid, status=status
    )
    assert isinstance(result, Status)
    return result
