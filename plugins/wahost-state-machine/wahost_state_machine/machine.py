"""Defining a state machine in Python.

::

    sm = StateMachine("booking", initial="start")

    @sm.state("start", on=Text("book", ignore_case=True))
    async def start(ctx, message):
        await ctx.reply("Your name?")
        return "ask_name"

A state has an ordered list of ``(trigger, handler)``; the first trigger that matches runs its
handler, whose return value is the next state (``None`` stays). A state may also have a
*prompt* sent whenever a handler returns it, an idle ``timeout`` and an ``invalid_reply``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from wahost import hookimpl
from wahost.outbound import Outbound
from wahost_state_machine.triggers import Predicate, Trigger, as_triggers

if TYPE_CHECKING:
    from wahost import Context

__all__ = [
    "Handler",
    "MachineDefinitionError",
    "Prompt",
    "State",
    "StateMachine",
    "StateMachineError",
    "Transition",
    "UnknownStateError",
]

#: ``async def handler(ctx, message) -> next state name | None``.
Handler = Callable[["Context", Any], Awaitable[str | None]]
#: What a state sends on entry: a text, an outbound message, or ``async def prompt(ctx)``.
Prompt = str | Outbound | Callable[["Context"], Awaitable[Any]]
#: An invalid reply: a text or an outbound message.
Reply = str | Outbound

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


class StateMachineError(Exception):
    """Base of the state machine's errors."""


class MachineDefinitionError(StateMachineError, ValueError):
    """A machine is defined wrongly (an unknown initial or timeout state, a conflicting
    option); raised when it is defined or, at the latest, at start-up."""


class UnknownStateError(StateMachineError):
    """A handler returned something that is not a state of its machine.

    Reported (logged with the plugin's name and passed to ``on_plugin_error``) when it
    happens; the conversation stays where it was.
    """

    def __init__(self, machine: str, state: str, handler: str, returned: object) -> None:
        self.machine = machine
        self.state = state
        self.handler = handler
        self.returned = returned
        what = (
            f"unknown state {returned!r}"
            if isinstance(returned, str)
            else f"{returned!r}, not a state name or None"
        )
        super().__init__(
            f"machine {machine!r}: handler {handler} in state {state!r} returned {what}; "
            f"the conversation stays in {state!r}"
        )


@dataclass
class Transition:
    """One ``(trigger, handler)`` of a state."""

    trigger: Trigger
    handler: Handler

    @property
    def handler_name(self) -> str:
        return getattr(self.handler, "__qualname__", None) or repr(self.handler)


@dataclass
class State:
    """A state: its transitions in order and its options."""

    name: str
    transitions: list[Transition] = field(default_factory=list)
    prompt: Prompt | None = None
    timeout: float | None = None
    timeout_to: str | None = None
    invalid_reply: Reply | None = None


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise MachineDefinitionError(f"{kind} must be a non-empty string, not {name!r}")
    return name


class StateMachine:
    """A named machine: states, an initial state, optional welcome.

    * ``initial`` — where a new conversation starts (it must be defined before the host
      starts).
    * ``phone_number_ids`` — the business numbers it serves; empty: every number no other
      machine claims.
    * ``invalid_reply`` — sent when no trigger matches (unless a state has its own, or an
      ``on_invalid_state`` implementation takes over).
    * ``welcome_on_first_message`` — a new conversation's first message that no trigger of
      the initial state takes gets the welcome instead of the invalid reply.

    A machine is also a wahost plugin: ``plugins=[wahost_state_machine, sm]`` registers it.
    """

    def __init__(
        self,
        name: str,
        *,
        initial: str,
        phone_number_ids: Iterable[str] = (),
        invalid_reply: Reply | None = None,
        welcome_on_first_message: bool = True,
    ) -> None:
        self.name = _check_name("the machine's name", name)
        self.initial = _check_name("initial", initial)
        if isinstance(phone_number_ids, str):
            raise MachineDefinitionError("phone_number_ids takes a list of ids, not a string")
        self.phone_number_ids = list(phone_number_ids)
        self.invalid_reply = invalid_reply
        self.welcome_on_first_message = welcome_on_first_message
        self.states: dict[str, State] = {}
        self.welcome_handler: Handler | None = None
        # The name pluggy registers the machine under when it is passed as a plugin.
        self.__name__ = f"state-machine:{name}"

    def __repr__(self) -> str:
        return f"StateMachine({self.name!r}, initial={self.initial!r}, states={list(self.states)})"

    # -- defining ---------------------------------------------------------------------------

    def add_state(
        self,
        name: str,
        *,
        prompt: Prompt | None = None,
        timeout: float | None = None,
        timeout_to: str | None = None,
        invalid_reply: Reply | None = None,
    ) -> State:
        """Declare a state (or set options of a declared one) and return it.

        ``prompt`` is sent each time a handler returns this state. ``timeout`` (seconds): a
        conversation idle here longer than that goes to ``timeout_to`` (default: the initial
        state) on its next message. Setting an option twice to different values is an error.
        """
        _check_name("a state's name", name)
        state = self.states.get(name)
        if state is None:
            state = self.states[name] = State(name)
        options = {
            "prompt": prompt,
            "timeout": timeout,
            "timeout_to": timeout_to,
            "invalid_reply": invalid_reply,
        }
        for option, value in options.items():
            if value is None:
                continue
            current = getattr(state, option)
            if current is not None and current != value:
                raise MachineDefinitionError(
                    f"machine {self.name!r}: state {name!r}: {option} is already {current!r}"
                )
            setattr(state, option, value)
        if state.timeout is not None:
            if isinstance(state.timeout, bool) or not isinstance(state.timeout, int | float):
                raise MachineDefinitionError(f"state {name!r}: timeout is a number of seconds")
            if state.timeout <= 0:
                raise MachineDefinitionError(f"state {name!r}: timeout must be > 0")
        return state

    def state(
        self,
        name: str,
        *,
        on: Trigger | Predicate | Sequence[Trigger | Predicate],
        prompt: Prompt | None = None,
        timeout: float | None = None,
        timeout_to: str | None = None,
        invalid_reply: Reply | None = None,
    ) -> Callable[[H], H]:
        """Decorator: in state ``name``, run the handler when ``on`` matches.

        ``on`` is a trigger, a predicate ``fn(ctx, message) -> bool``, or a list of them (any
        of which runs the handler). Handlers of a state are tried in the order they are
        declared. The other keywords set the state's options, as :meth:`add_state` does.
        """
        triggers = as_triggers(on)

        def register(handler: H) -> H:
            if not callable(handler):
                raise TypeError(f"@{self.name}.state({name!r}) decorates a function")
            state = self.add_state(
                name,
                prompt=prompt,
                timeout=timeout,
                timeout_to=timeout_to,
                invalid_reply=invalid_reply,
            )
            state.transitions.extend(Transition(trigger, handler) for trigger in triggers)
            return handler

        return register

    def welcome(self, handler: H) -> H:
        """Decorator: the welcome, run on a ``request_welcome`` message and (with
        ``welcome_on_first_message``) on a new conversation's first message that no trigger
        takes. It returns the next state; ``None`` puts the conversation in the initial state
        without sending its prompt. Without a welcome handler, the welcome is the initial
        state's prompt."""
        if self.welcome_handler is not None:
            raise MachineDefinitionError(f"machine {self.name!r} already has a welcome")
        self.welcome_handler = handler
        return handler

    # -- reading ----------------------------------------------------------------------------

    @property
    def has_welcome(self) -> bool:
        """Whether the machine has something to send as a welcome."""
        initial = self.states.get(self.initial)
        return self.welcome_handler is not None or (
            initial is not None and initial.prompt is not None
        )

    def check(self) -> None:
        """Raise :class:`MachineDefinitionError` when a state it names is not defined."""
        problems = []
        if self.initial not in self.states:
            problems.append(f"initial state {self.initial!r} is not defined")
        for state in self.states.values():
            if state.timeout_to is not None and state.timeout_to not in self.states:
                problems.append(
                    f"state {state.name!r}: timeout_to {state.timeout_to!r} is not defined"
                )
            if state.timeout_to is not None and state.timeout is None:
                problems.append(f"state {state.name!r}: timeout_to without timeout")
        if problems:
            defined = ", ".join(map(repr, self.states)) or "none"
            raise MachineDefinitionError(
                f"machine {self.name!r}: {'; '.join(problems)} (states defined: {defined})"
            )

    # -- as a plugin ------------------------------------------------------------------------

    @hookimpl
    def wahost_state_machines(self) -> list[StateMachine]:
        """A machine passed as a plugin provides itself."""
        return [self]
