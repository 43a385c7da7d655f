"""Running a machine on one message of a conversation.

The conversation's state lives in ``ctx.state`` (the host's state store, keyed by
``(phone_number_id, user)``): ``ctx.state.name`` is the state name and the reserved data key
``"_sm"`` holds the bookkeeping (see :data:`BOOKKEEPING`). Everything is written through
``ctx.state``, so a transition is committed exactly once, with the unit's ack, and a unit that
fails (and is retried) applies none of it.

Order of events for one message (see the README for the reasoning):

1. ``request_welcome`` and the machine has a welcome → the welcome.
2. The stored state's ``timeout`` has passed since the last message → go to ``timeout_to``.
3. The state's triggers, in order: the first that matches runs its handler; its return value
   is validated, then committed (and the new state's prompt sent).
4. Nothing matched: a passive message (reaction, ...) or a ``request_welcome`` is left to
   other plugins; a new conversation gets the welcome; a timed-out one is put back on track
   (the target state is entered); otherwise ``on_invalid_state`` is dispatched.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from wahost.state.base import now
from wahost_state_machine.machine import Handler, StateMachine, UnknownStateError
from wahost_state_machine.triggers import PASSIVE_TYPES

if TYPE_CHECKING:
    from wahost import Context, Wahost
    from wahost.context import Conversation

__all__ = ["BOOKKEEPING", "Step", "current_step", "run", "timed_out"]

#: The reserved key of ``ctx.state.data``: ``{"machine": name, "entered_at": seconds,
#: "active_at": seconds}`` — the machine the conversation is in, when it entered its state
#: (the last transition) and when the machine last handled one of its messages (Unix time).
BOOKKEEPING = "_sm"

#: Where the current :class:`Step` is kept in ``ctx.extras``.
STEP_KEY = "wahost_state_machine.step"

Report = Callable[[BaseException], Awaitable[None]]

log = structlog.get_logger("wahost_state_machine")


@dataclass
class Step:
    """What the machine is doing with the message being handled (``current_step(ctx)``).

    ``state`` is the state whose triggers are tried (after a timeout, the ``timeout_to``
    state); ``previous`` the stored state before this message (``None`` for a new
    conversation); ``timed_out`` the state that timed out, if one did; ``match`` what the
    trigger matched (the text, an :class:`re.Match`, a reply id, a Flow response, ...).
    """

    machine: str
    state: str
    previous: str | None
    timed_out: str | None = None
    match: Any = None
    welcome: bool = False

    @property
    def new(self) -> bool:
        """Whether the conversation had no state in this machine before this message."""
        return self.previous is None


def current_step(ctx: Context) -> Step | None:
    """The machine's :class:`Step` for the unit being handled (``None`` outside a machine)."""
    step = ctx.extras.get(STEP_KEY)
    return step if isinstance(step, Step) else None


def timed_out(ctx: Context) -> str | None:
    """The state that timed out before this message, if one did."""
    step = current_step(ctx)
    return step.timed_out if step is not None else None


def stored_state(machine: StateMachine, conversation: Conversation) -> tuple[str | None, float]:
    """``(state name, last activity)`` of the conversation in ``machine``; ``(None, 0)`` when
    it has no state there (new, reset, expired, in another machine, or a state that the
    machine no longer has)."""
    book = conversation.data.get(BOOKKEEPING)
    name = conversation.name
    if name is None or not isinstance(book, dict) or book.get("machine") != machine.name:
        return None, 0.0
    if name not in machine.states:
        log.warning(
            "stored state no longer exists; starting over",
            machine=machine.name,
            state=name,
            conversation=conversation.key,
        )
        return None, 0.0
    active = book.get("active_at")
    return name, float(active) if isinstance(active, int | float) else now()


async def run(
    machine: StateMachine, host: Wahost, ctx: Context, message: Any, report: Report
) -> bool | None:
    """Handle ``message`` in ``machine``; ``True`` when the machine took it, ``None`` when it
    leaves it to other plugins (and ``on_unhandled``)."""
    conversation = ctx.state
    previous, active_at = stored_state(machine, conversation)
    step = Step(machine=machine.name, state=previous or machine.initial, previous=previous)
    ctx.extras[STEP_KEY] = step
    runner = _Runner(machine, host, ctx, message, step, report)
    passive = message.type in PASSIVE_TYPES

    if message.type == "request_welcome" and machine.has_welcome:
        return await runner.welcome()
    if previous is not None and not passive:
        state = machine.states[previous]
        if state.timeout is not None and runner.now - active_at > state.timeout:
            step.timed_out = previous
            step.state = state.timeout_to or machine.initial

    for transition in machine.states[step.state].transitions:
        value = transition.trigger.match(ctx, message)
        if inspect.isawaitable(value):
            value = await value
        if value is not None:
            step.match = value
            return await runner.transition(transition.handler)

    if passive or message.type == "request_welcome":
        # Not a turn of the conversation (a reaction; a chat opened, with no welcome to
        # send): no state change, not activity, and no "I did not understand".
        return None
    if step.new and machine.welcome_on_first_message and machine.has_welcome:
        return await runner.welcome()
    if step.timed_out is not None and runner.enters_with_message(step.state):
        if step.state == machine.initial and machine.welcome_handler is not None:
            return await runner.welcome()
        runner.commit(step.state, entered=True)
        await runner.enter(step.state)
        return True
    runner.commit(step.state, entered=step.state != previous)
    result = await host.dispatch.first(
        "on_invalid_state", unit=ctx.unit, message=message, state=step.state, ctx=ctx
    )
    return True if result.value is not None else None


class _Runner:
    """The steps of handling one message, sharing the snapshot taken before any change."""

    def __init__(
        self,
        machine: StateMachine,
        host: Wahost,
        ctx: Context,
        message: Any,
        step: Step,
        report: Report,
    ) -> None:
        self.machine = machine
        self.host = host
        self.ctx = ctx
        self.message = message
        self.step = step
        self.report = report
        self.now = now()
        conversation = ctx.state
        self.snapshot = (conversation.name, copy.deepcopy(conversation.data))

    def enters_with_message(self, name: str) -> bool:
        """Whether entering ``name`` sends something (a prompt, or the welcome)."""
        if name == self.machine.initial and self.machine.has_welcome:
            return True
        return self.machine.states[name].prompt is not None

    async def welcome(self) -> bool:
        self.step.state = self.machine.initial
        self.step.welcome = True
        if self.machine.welcome_handler is not None:
            return await self.transition(self.machine.welcome_handler)
        self.commit(self.machine.initial, entered=True)
        await self.enter(self.machine.initial)
        return True

    async def transition(self, handler: Handler) -> bool:
        """Run ``handler`` in ``step.state``, validate what it returns, commit, prompt."""
        step = self.step
        self.ctx.state.set(step.state)  # the handler sees the state it runs in
        returned: Any = handler(self.ctx, self.message)
        result: object = await returned if inspect.isawaitable(returned) else returned
        if result is not None and (
            not isinstance(result, str) or result not in self.machine.states
        ):
            # Nothing of this message's run is applied: the conversation stays where it was.
            name, data = self.snapshot
            self.ctx.state.set(name, data)
            handler_name = getattr(handler, "__qualname__", None) or repr(handler)
            await self.report(
                UnknownStateError(self.machine.name, step.state, handler_name, result)
            )
            return True
        target = result if isinstance(result, str) else None
        entered = target is not None or step.state != step.previous or step.welcome
        self.commit(target or step.state, entered=entered)
        if target is not None:
            await self.enter(target)
        return True

    def commit(self, name: str, *, entered: bool) -> None:
        """Write the state name and the bookkeeping (committed with the unit's ack)."""
        conversation = self.ctx.state
        book = conversation.data.get(BOOKKEEPING)
        book = dict(book) if isinstance(book, dict) else {}
        if book.get("machine") != self.machine.name or "entered_at" not in book:
            entered = True
        book["machine"] = self.machine.name
        if entered:
            book["entered_at"] = self.now
        book["active_at"] = self.now
        conversation.data[BOOKKEEPING] = book
        conversation.set(name)
        if name != self.step.previous:
            self.ctx.log.info(
                "state machine transition",
                machine=self.machine.name,
                previous=self.step.previous,
                state=name,
                timed_out=self.step.timed_out,
            )

    async def enter(self, name: str) -> None:
        """Send the prompt of state ``name``, if it has one."""
        prompt = self.machine.states[name].prompt
        if prompt is None:
            return
        if isinstance(prompt, str) or not callable(prompt):
            await self.ctx.reply(prompt)
            return
        result = prompt(self.ctx)
        if inspect.isawaitable(result):
            await result
