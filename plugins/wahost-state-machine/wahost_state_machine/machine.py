"""Defining a state machine in Python.

::

    from wahost import filters as F

    sm = StateMachine("booking", initial="start")

    @sm.state("start", F.text("book", ignore_case=True))
    async def start(message, ctx):
        await ctx.reply("Your name?")
        return "ask_name"

A state has an ordered list of ``(filter, handler)``; the first filter that matches runs its
handler, whose return value is the next state (``None`` stays). Handlers take their
arguments by name, as a router's do (:mod:`wahost.injection`), plus ``step``. A state may
also have a *prompt* sent whenever the conversation enters it, an idle ``timeout`` and an
``invalid_reply``.

The old form, ``@sm.state("start", on=Text("book"))`` with ``handler(ctx, message)``, still
works and warns (:class:`DeprecationWarning`, and a log line at start-up) with the rewrite.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from wahost import hookimpl
from wahost.errors import WahostError
from wahost.filters import Filter
from wahost.injection import ArgumentPlan, plan
from wahost.outbound import Outbound
from wahost_state_machine.triggers import Predicate, Trigger, as_triggers, replacement

if TYPE_CHECKING:
    from wahost import Context

__all__ = [
    "STEP",
    "Deprecation",
    "Handler",
    "MachineDefinitionError",
    "Prompt",
    "State",
    "StateMachine",
    "StateMachineError",
    "Transition",
    "UnknownStateError",
]

#: A state handler: it takes its arguments by name (``message``, ``ctx``, ``state``, ``host``,
#: ``step`` and what its filters give, such as ``match``) and returns the next state's name,
#: or ``None`` to stay. A handler of the deprecated ``on=`` form is called ``(ctx, message)``.
Handler = Callable[..., Any]
#: What a state sends on entry: a text, an outbound message, or ``async def prompt(ctx)``.
Prompt = str | Outbound | Callable[["Context"], Awaitable[Any]]
#: An invalid reply: a text or an outbound message.
Reply = str | Outbound

#: The name under which state handlers (and the welcome) take the machine's :class:`Step
#: <wahost_state_machine.Step>`.
STEP = "step"

H = TypeVar("H", bound=Callable[..., Any])

#: The prefix of this plugin's deprecation warnings (for ``-W`` and ``filterwarnings``).
DEPRECATED = "deprecated state machine API"


class StateMachineError(WahostError):
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
    """One ``(filter, handler)`` of a state.

    ``trigger`` is the filter (an old :class:`~wahost_state_machine.Trigger` is one too), or
    ``None``: every message but the passive ones (reactions, revokes, system notices).
    ``plan`` says how the handler takes its arguments by name; without one, the handler is
    of the deprecated form and is called ``handler(ctx, message)``.
    """

    trigger: Filter | None
    handler: Handler
    plan: ArgumentPlan | None = None

    @property
    def handler_name(self) -> str:
        return getattr(self.handler, "__qualname__", None) or repr(self.handler)

    def call(self, ctx: Context, message: Any, values: dict[str, Any]) -> Any:
        """Call the handler (its result may be awaitable); ``values`` are the filter's and
        ``step``."""
        if self.plan is None:
            return self.handler(ctx, message)
        return self.handler(**self.plan.arguments(message, ctx, values))


@dataclass(frozen=True)
class Deprecation:
    """One use of the deprecated API in a machine's definition, logged at start-up."""

    #: ``file:line`` of the definition.
    where: str
    #: What was written.
    used: str
    #: What to write instead.
    instead: str

    @property
    def message(self) -> str:
        return f"{DEPRECATED}: {self.used}; write {self.instead}"


def handler_plan(handler: Callable[..., Any], provided: Iterable[str], what: str) -> ArgumentPlan:
    """How a state handler (or the welcome) takes its arguments by name: as a router's
    message handler, plus ``step``."""
    return plan(handler, update_names=("message",), provided={*provided, STEP}, what=what)


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
        self.welcome_plan: ArgumentPlan | None = None
        #: Uses of the deprecated API in this machine's definition (logged at start-up).
        self.deprecations: list[Deprecation] = []
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
        *filters: Filter,
        on: Trigger | Predicate | Sequence[Trigger | Predicate] | None = None,
        prompt: Prompt | None = None,
        timeout: float | None = None,
        timeout_to: str | None = None,
        invalid_reply: Reply | None = None,
    ) -> Callable[[H], H]:
        """Decorator: in state ``name``, run the handler when the filters match.

        ``filters`` are core filters (``from wahost import filters as F``), combined with
        ``&``; none: every message but reactions, revokes and system notices. The handler
        takes its arguments by name like a router's (``message``, ``ctx``, ``state``, what
        the filters give such as ``match``, and ``step``) and returns the next state or
        ``None``. Handlers of a state are tried in the order they are declared. The other
        keywords set the state's options, as :meth:`add_state` does.

        **Deprecated:** ``on=`` (a trigger, a predicate ``fn(ctx, message)``, or a list of
        them) with a handler called ``(ctx, message)``; it warns with the rewrite.
        """
        triggers = as_triggers(on) if on is not None else None
        if triggers is not None and filters:
            raise TypeError(
                f"@sm.state({name!r}, ...): give filters or the deprecated on=, not both"
            )
        combined = _combine(name, filters)

        def register(handler: H) -> H:
            if not callable(handler):
                raise TypeError(f"@{self.name}.state({name!r}) decorates a function")
            transitions: list[Transition]
            if triggers is not None:
                self._deprecated_on(name, on, triggers, handler)
                transitions = [Transition(trigger, handler) for trigger in triggers]
            else:
                self._deprecated_triggers(name, filters, handler)
                provided = combined.provides if combined is not None else ()
                what = f"machine {self.name!r}: state {name!r}: handler"
                transitions = [Transition(combined, handler, handler_plan(handler, provided, what))]
            state = self.add_state(
                name,
                prompt=prompt,
                timeout=timeout,
                timeout_to=timeout_to,
                invalid_reply=invalid_reply,
            )
            state.transitions.extend(transitions)
            return handler

        return register

    def welcome(self, handler: H) -> H:
        """Decorator: the welcome, run on a ``request_welcome`` message and (with
        ``welcome_on_first_message``) on a new conversation's first message that no handler
        takes. It takes its arguments by name like a state handler and returns the next
        state; ``None`` puts the conversation in the initial state without sending its
        prompt. Without a welcome handler, the welcome is the initial state's prompt.

        **Deprecated:** a welcome whose parameters are not names it can be given (``(c, m)``)
        is called ``(ctx, message)``, and warns."""
        if self.welcome_handler is not None:
            raise MachineDefinitionError(f"machine {self.name!r} already has a welcome")
        try:
            welcome_plan: ArgumentPlan | None = handler_plan(
                handler, (), f"machine {self.name!r}: welcome"
            )
        except TypeError:
            welcome_plan = None
            name = getattr(handler, "__name__", "welcome")
            self._warn(
                f"@sm.welcome on {name}, called {name}(ctx, message)",
                f"{name}(message, ctx): the welcome takes its arguments by name",
                depth=2,
            )
        self.welcome_handler = handler
        self.welcome_plan = welcome_plan
        return handler

    async def goto(self, ctx: Context, name: str) -> None:
        """Move the unit's conversation to state ``name`` and send that state's prompt: a
        transition made outside the machine's own handlers, e.g. in a router handler with
        ``state="ask_name"``. It is committed with the unit's ack, like a handler's. Inside a
        state handler, return the name instead.

        Raises :class:`StateMachineError` when ``name`` is not a state of this machine or
        this machine does not serve the conversation's phone number.
        """
        from wahost_state_machine.engine import goto

        await goto(self, ctx, name)

    # -- deprecations -----------------------------------------------------------------------

    def _warn(self, used: str, instead: str, *, depth: int = 3) -> None:
        """Warn about a use of the deprecated API in the definition and keep it for the
        start-up log; the user's line is ``depth`` frames above this one."""
        frame = sys._getframe(depth)
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        deprecation = Deprecation(where, used, instead)
        self.deprecations.append(deprecation)
        warnings.warn(deprecation.message, DeprecationWarning, stacklevel=depth + 1)

    def _deprecated_on(
        self, name: str, on: object, triggers: list[Trigger], handler: Callable[..., Any]
    ) -> None:
        function = getattr(handler, "__name__", "handler")
        given = repr(triggers if isinstance(on, list | tuple) else triggers[0])
        filters = replacement(triggers)
        decorator = f"@sm.state({name!r}, {filters})" if filters else f"@sm.state({name!r})"
        gives = sorted({t.gives for t in triggers if t.gives})
        define = "async def" if inspect.iscoroutinefunction(handler) else "def"
        instead = (
            f"{decorator} (from wahost import filters as F) over {define} "
            f"{function}(message, ctx): arguments by name, as in a router"
        )
        if gives:
            instead += f"; instead of current_step(ctx).match use {' or '.join(gives)}"
        self._warn(f"@sm.state({name!r}, on={given}) calling {function}(ctx, message)", instead)

    def _deprecated_triggers(
        self, name: str, filters: tuple[Filter, ...], handler: Callable[..., Any]
    ) -> None:
        for item in filters:
            if isinstance(item, Trigger):
                self._warn(
                    f"the trigger {item!r} in @sm.state({name!r}, ...)",
                    f"{item.replacement() or 'no filter'} (from wahost import filters as F)",
                )

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


def _combine(name: str, filters: tuple[Filter, ...]) -> Filter | None:
    """The filters of one state handler, combined with ``&``; checked to apply to messages."""
    for item in filters:
        if not isinstance(item, Filter):
            raise TypeError(
                f"@sm.state({name!r}, ...) takes filters, not {item!r}: wrap a function with "
                "F.new(fn)"
            )
        if "message" not in item.kinds:
            raise TypeError(f"@sm.state({name!r}, ...): {item!r} is not a filter of messages")
    if not filters:
        return None
    combined = filters[0]
    for item in filters[1:]:
        combined = combined & item
    return combined
