"""Running a machine on one message of a conversation.

The conversation's state lives in ``ctx.state`` (the host's state store, keyed by
``(phone_number_id, user)``): ``ctx.state.name`` is the state name and the reserved data key
``"_sm"`` holds the bookkeeping (see :data:`BOOKKEEPING`). Everything is written through
``ctx.state``, so a transition is committed exactly once, with the unit's ack, and a unit that
fails (and is retried) applies none of it.

Order of events for one message (see the README for the reasoning):

1. Before any plugin handles it (``before_message``, :func:`prepare`): when the stored
   state's ``timeout`` has passed since the last message, the conversation goes to
   ``timeout_to`` — so a router handler with ``state=...`` sees the state the machine would
   try. :func:`current_step` is set from here on.
2. If no other plugin took the message (``on_message``, :func:`run`): ``request_welcome`` and
   the machine has a welcome → the welcome.
3. The state's handlers, in order: the first whose filters match runs; its return value is
   validated, then committed (and the new state's prompt sent). A handler that passes the
   message on (``ctx.skip()``, ``SKIP``) lets the next one try.
4. Nothing matched: a passive message (reaction, ...) or a ``request_welcome`` is left to
   other plugins; a new conversation gets the welcome; a timed-out one is put back on track
   (the target state is entered); otherwise ``on_invalid_state`` is dispatched.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from wahost import SKIP, HandlerSkipped
from wahost.deprecation import moved_names
from wahost.filters import Filter
from wahost.models import Message
from wahost.slots import SlotKey
from wahost.state.base import now
from wahost_state_machine.machine import (
    STEP,
    StateMachine,
    StateMachineError,
    Transition,
    UnknownStateError,
)
from wahost_state_machine.registry import registry_of
from wahost_state_machine.triggers import PASSIVE_TYPES

if TYPE_CHECKING:
    from wahost import Context, Wahost
    from wahost.context import Conversation

__all__ = [
    "BOOKKEEPING",
    "Step",
    "current_step",
    "goto",
    "handle_in_machine",
    "prepare",
    "timed_out",
]

#: The reserved key of ``ctx.state.data``: ``{"machine": name, "entered_at": seconds,
#: "active_at": seconds}`` — the machine the conversation is in, when it entered its state
#: (the last transition) and when the machine last handled one of its messages (Unix time).
BOOKKEEPING = "_sm"

#: The slot of ``ctx.slots`` holding the current :class:`Step` (read it with
#: :func:`current_step`).
CURRENT_STEP: SlotKey[Step] = SlotKey("wahost_state_machine.step")
#: The slot of ``ctx.slots`` holding the :class:`Prepared` message.
PREPARED_MESSAGE: SlotKey[Prepared] = SlotKey("wahost_state_machine.prepared")

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
    #: The state :meth:`StateMachine.goto` moved the conversation to during this message.
    went_to: str | None = field(default=None, repr=False)

    @property
    def new(self) -> bool:
        """Whether the conversation had no state in this machine before this message."""
        return self.previous is None


def current_step(ctx: Context) -> Step | None:
    """The machine's :class:`Step` for the message being handled: set before any plugin
    handles it (so router handlers see it too) when a machine serves the conversation;
    ``None`` otherwise."""
    return ctx.slots.get(CURRENT_STEP)


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


@dataclass
class Prepared:
    """A message as the machine found it: its :class:`Step`, the conversation before any
    change (restored when a handler returns a bad state) and after the timeout (restored
    when a handler passes the message on)."""

    machine: StateMachine
    step: Step
    now: float
    before: tuple[str | None, dict[str, Any]]
    ready: tuple[str | None, dict[str, Any]] = field(default_factory=lambda: (None, {}))
    logged: str | None = None


def _snapshot(conversation: Conversation) -> tuple[str | None, dict[str, Any]]:
    return conversation.name, copy.deepcopy(conversation.data)


def prepare(machine: StateMachine, ctx: Context, message: Any) -> Prepared:
    """The machine's view of ``message`` (once per unit): the stored state, and for a turn of
    a conversation in the machine (not a passive message) the timeout applied — a
    conversation idle past its state's ``timeout`` is moved to ``timeout_to`` — or else the
    activity recorded; both are committed with the unit's ack, whoever handles the
    message."""
    found = ctx.slots.get(PREPARED_MESSAGE)
    if found is not None and found.machine is machine:
        return found
    conversation = ctx.state
    previous, active_at = stored_state(machine, conversation)
    step = Step(machine=machine.name, state=previous or machine.initial, previous=previous)
    prepared = Prepared(machine, step, now(), _snapshot(conversation))
    ctx.slots[CURRENT_STEP] = step
    ctx.slots[PREPARED_MESSAGE] = prepared
    kind = message.type if isinstance(message, Message) else None
    if previous is not None and kind is not None and kind not in PASSIVE_TYPES:
        state = machine.states[previous]
        welcome_first = kind == "request_welcome" and machine.has_welcome
        if (
            not welcome_first
            and state.timeout is not None
            and prepared.now - active_at > state.timeout
        ):
            step.timed_out = previous
            step.state = state.timeout_to or machine.initial
            commit(prepared, ctx, step.state, entered=True)
        else:
            # A turn of the conversation, whoever handles it (a router handler with
            # state=..., a command): the conversation is not idle.
            commit(prepared, ctx, previous, entered=False)
    prepared.ready = _snapshot(conversation)
    return prepared


async def matches(check: Filter | None, message: Any, ctx: Context) -> dict[str, Any] | None:
    """The values of a state handler's filter for ``message`` (``{}`` when it gives none),
    or ``None`` when it does not match. No filter: every message but the passive ones."""
    if check is None:
        return None if message.type in PASSIVE_TYPES else {}
    try:
        result = check.check(message, ctx)
        if check.is_async:
            result = await result
    except HandlerSkipped:
        return None
    if result is None or result is False:
        return None
    return {} if result is True else dict(result)


async def handle_in_machine(
    machine: StateMachine, host: Wahost, ctx: Context, message: Any, report: Report
) -> bool | None:
    """Handle ``message`` in ``machine``; ``True`` when the machine took it, ``None`` when it
    leaves it to other plugins (and ``on_unhandled``)."""
    prepared = prepare(machine, ctx, message)
    step = prepared.step
    runner = _Runner(prepared, host, ctx, message, report)
    passive = message.type in PASSIVE_TYPES

    if message.type == "request_welcome" and machine.has_welcome:
        return await runner.welcome()

    for transition in machine.states[step.state].transitions:
        values = await matches(transition.trigger, message, ctx)
        if values is None:
            continue
        step.match = values.get("match")
        if await runner.transition(transition, values):
            return True
        step.match = None

    if passive or message.type == "request_welcome":
        # Not a turn of the conversation (a reaction; a chat opened, with no welcome to
        # send): no state change, not activity, and no "I did not understand".
        return None
    if step.new and machine.welcome_on_first_message and machine.has_welcome:
        return await runner.welcome()
    if step.timed_out is not None and runner.enters_with_message(step.state):
        if step.state == machine.initial and machine.welcome_handler is not None:
            return await runner.welcome()
        commit(prepared, ctx, step.state, entered=True)
        await enter(machine, ctx, step.state)
        return True
    commit(prepared, ctx, step.state, entered=step.state != step.previous)
    result = await host.dispatch.first(
        "on_invalid_state", unit=ctx.unit, message=message, state=step.state, ctx=ctx
    )
    return True if result.value is not None else None


async def goto(machine: StateMachine, ctx: Context, name: str) -> None:
    """:meth:`StateMachine.goto`: commit state ``name`` for the unit's conversation and send
    its prompt."""
    if name not in machine.states:
        known = ", ".join(map(repr, machine.states))
        raise StateMachineError(
            f"machine {machine.name!r}: goto({name!r}): no such state (states: {known})"
        )
    if not ctx.unit.user:
        raise StateMachineError(f"machine {machine.name!r}: goto(): this unit has no user")
    serving = registry_of(ctx.host).for_number(ctx.phone_number_id)
    if serving is not machine:
        who = f"machine {serving.name!r} does" if serving is not None else "no machine does"
        raise StateMachineError(
            f"machine {machine.name!r} does not serve phone number id {ctx.phone_number_id} "
            f"({who}): goto({name!r}) would put the conversation in a machine that never "
            "sees it"
        )
    prepared = prepare(machine, ctx, ctx.update)
    commit(prepared, ctx, name, entered=True)
    prepared.step.went_to = name
    await enter(machine, ctx, name)


def commit(prepared: Prepared, ctx: Context, name: str, *, entered: bool) -> None:
    """Write the state name and the bookkeeping (committed with the unit's ack)."""
    machine, step = prepared.machine, prepared.step
    conversation = ctx.state
    book = conversation.data.get(BOOKKEEPING)
    book = dict(book) if isinstance(book, dict) else {}
    if book.get("machine") != machine.name or "entered_at" not in book:
        entered = True
    book["machine"] = machine.name
    if entered:
        book["entered_at"] = prepared.now
    book["active_at"] = prepared.now
    conversation.data[BOOKKEEPING] = book
    conversation.set(name)
    if name != step.previous and name != prepared.logged:
        prepared.logged = name
        ctx.log.info(
            "state machine transition",
            machine=machine.name,
            previous=step.previous,
            state=name,
            timed_out=step.timed_out,
        )


async def enter(machine: StateMachine, ctx: Context, name: str) -> None:
    """Send the prompt of state ``name``, if it has one."""
    prompt = machine.states[name].prompt
    if prompt is None:
        return
    if isinstance(prompt, str) or not callable(prompt):
        await ctx.reply(prompt)
        return
    result = prompt(ctx)
    if inspect.isawaitable(result):
        await result


class _Runner:
    """The steps of handling one message in the machine."""

    def __init__(
        self, prepared: Prepared, host: Wahost, ctx: Context, message: Any, report: Report
    ) -> None:
        self.prepared = prepared
        self.machine = prepared.machine
        self.step = prepared.step
        self.host = host
        self.ctx = ctx
        self.message = message
        self.report = report

    def enters_with_message(self, name: str) -> bool:
        """Whether entering ``name`` sends something (a prompt, or the welcome)."""
        if name == self.machine.initial and self.machine.has_welcome:
            return True
        return self.machine.states[name].prompt is not None

    async def welcome(self) -> bool | None:
        self.step.state = self.machine.initial
        self.step.welcome = True
        handler = self.machine.welcome_handler
        if handler is not None:
            welcome = Transition(None, handler, self.machine.welcome_plan)
            return True if await self.transition(welcome, {}) else None
        commit(self.prepared, self.ctx, self.machine.initial, entered=True)
        await enter(self.machine, self.ctx, self.machine.initial)
        return True

    async def transition(self, transition: Transition, values: Mapping[str, Any]) -> bool:
        """Run a handler in ``step.state``, validate what it returns, commit, prompt;
        ``False`` when the handler passed the message on (its ``ctx.state`` changes undone)."""
        step, ctx = self.step, self.ctx
        ctx.state.set(step.state)  # the handler sees the state it runs in
        step.went_to = None
        try:
            returned: Any = transition.call(ctx, self.message, {**values, STEP: step})
            result: object = await returned if inspect.isawaitable(returned) else returned
        except HandlerSkipped:
            result = SKIP
        if result is SKIP:
            name, data = self.prepared.ready
            ctx.state.set(name, copy.deepcopy(data))
            step.went_to = None
            return False
        if result is not None and (
            not isinstance(result, str) or result not in self.machine.states
        ):
            # Nothing of this message's run is applied: the conversation stays where it was.
            name, data = self.prepared.before
            ctx.state.set(name, copy.deepcopy(data))
            await self.report(
                UnknownStateError(self.machine.name, step.state, transition.handler_name, result)
            )
            return True
        if result is None and step.went_to is not None:
            return True  # the handler called goto(): committed and prompted there
        target = result if isinstance(result, str) else None
        entered = target is not None or step.state != step.previous or step.welcome
        commit(self.prepared, ctx, target or step.state, entered=entered)
        if target is not None:
            await enter(self.machine, ctx, target)
        return True


#: ``run`` until the next minor release.
__getattr__ = moved_names(__name__, {"run": "wahost_state_machine.engine.handle_in_machine"})
