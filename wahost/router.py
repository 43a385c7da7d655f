"""Routers: a bot's handlers, each with its filters, registered with the host like a plugin.

::

    from wahost import Router, filters as F

    router = Router()

    @router.message(F.text("hi", ignore_case=True) | F.command("start"))
    async def greet(message, ctx):
        await ctx.reply("Hello!")

    @router.message(F.regex(r"order (\\d+)"))
    def order(match, ctx):                     # sync handlers are fine too
        ...

    @router.status(F.failed)
    async def failed(status, ctx): ...

    @router.message()                          # this router's catch-all
    async def fallback(message, ctx): ...

A :class:`Router` is a pluggy plugin: pass it where plugins go (``Wahost(config,
plugins=[router])``, ``BotHarness(plugins=[router])``, an entry point naming it). Its
``on_message``, ``on_status`` and ``on_event`` implementations run its handlers:

* **The first matching handler handles**, in the order they were registered; then the included
  routers (:meth:`Router.include`), in the order they were included. A handler that matched
  *is* the handling: ``on_message`` returns a value, so no later plugin and no
  ``on_unhandled`` sees the message — whatever the handler returns.
* **Passing on.** ``ctx.skip()`` (it raises) or returning :data:`SKIP` inside a handler passes
  the update to the next matching handler, then to the next router, then to the next plugin.
* **Statuses and events** go to the first matching status or event handler of the router;
  ``on_status`` and ``on_event`` are broadcast hooks, so other plugins see them too.
* **Arguments by name** (:mod:`wahost.injection`): ``message`` / ``status`` / ``event``,
  ``ctx``, ``host``, ``state`` and what the filters give (``match``, ``command``, ``data``,
  ...). The signature is read when the handler is registered.
* **Errors.** A handler that raises fails the unit like any plugin: it is logged with the
  router's name (the exception carries a note naming the handler) and the unit is retried.
* **before.** ``@router.before`` runs a function before the router's message handlers (and
  those of the routers it includes); ``ctx.skip()`` or :data:`SKIP` there skips the whole
  router for this update.
* **Dialogues.** A message or status handler may ``await ctx.ask(...)``
  (:mod:`wahost.dialogues`): the handler is then found again by its stable name (the router's
  name and the function's) when the answer comes, and ``version="2"`` on its decorator ends
  the dialogues that started under another version instead of replaying them.
"""

from __future__ import annotations

import enum
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeVar, overload

from wahost.dialogues.errors import DialogueSuspended
from wahost.filters.base import Filter
from wahost.filters.chat import state as state_filter
from wahost.hookspecs import hookimpl
from wahost.injection import ArgumentPlan, UpdateKind, describe, plan
from wahost.models import Event, Message, Status

if TYPE_CHECKING:
    from wahost.context import Context

__all__ = ["SKIP", "Handler", "HandlerSkipped", "Router", "Running", "UpdateKind"]

H = TypeVar("H", bound=Callable[..., Any])


class _Skip(enum.Enum):
    SKIP = "SKIP"

    def __repr__(self) -> str:
        return "wahost.SKIP"

    __str__ = __repr__


#: Returned by a handler (or ``before`` function): not handled after all, pass the update on.
SKIP: Final = _Skip.SKIP

#: What a handler may return: anything (a matched handler handles), or :data:`SKIP`.
SkipResult = Literal[_Skip.SKIP]


class HandlerSkipped(Exception):
    """Raised by ``ctx.skip()``: the router passes the update on.

    Only a router's handlers, filters and ``before`` functions may call ``ctx.skip()``; in a
    hook implementation of your own, return ``None`` instead (there the exception is an error
    of your plugin).
    """

    def __init__(self) -> None:
        super().__init__(
            "ctx.skip() passes an update on only inside a Router's handler, filter or before "
            "function; in a hook implementation, return None instead"
        )


_UNSET: Any = object()


class Handler:
    """One registered handler: its function, filter and argument plan."""

    __slots__ = ("callback", "dialogue_name", "filter", "kind", "name", "plan", "version")

    def __init__(
        self,
        kind: UpdateKind,
        callback: Callable[..., Any],
        filter: Filter | None,
        *,
        dialogue_name: str = "",
        version: str = "",
    ) -> None:
        self.kind = kind
        self.callback = callback
        self.filter = filter
        self.name = describe(callback)
        #: The stable name a dialogue's journal finds this handler by.
        self.dialogue_name = dialogue_name or self.name
        #: The version of its dialogue (``@router.message(..., version="2")``).
        self.version = version
        provided = filter.provides if filter is not None else frozenset()
        self.plan: ArgumentPlan = plan(
            callback, update_names=(kind,), provided=provided, what=f"{kind} handler"
        )

    def __repr__(self) -> str:
        return f"<{self.kind} handler {self.name} {self.filter!r}>"


class Running(NamedTuple):
    """The router handler a context is running (``ctx.ask`` starts its dialogue from it)."""

    handler: Handler
    #: How many sends the unit had made when the handler was called.
    sends: int


def _caller_module() -> str:
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "router"))


class Router:
    """A set of handlers with filters; see the module documentation.

    ``name`` is the plugin's name in ``wahost plugins`` and in logs (default: the module that
    created the router, ``mybot`` → ``mybot.router``).
    """

    def __init__(self, name: str | None = None) -> None:
        self.__name__ = name or f"{_caller_module()}.router"
        self._handlers: dict[UpdateKind, list[Handler]] = {"message": [], "status": [], "event": []}
        self._before: dict[UpdateKind, list[tuple[Callable[..., Any], ArgumentPlan]]] = {
            "message": [],
            "status": [],
            "event": [],
        }
        self._children: list[Router] = []
        self._parent: Router | None = None

    def __repr__(self) -> str:
        return f"<Router {self.__name__}>"

    # -- registering ---------------------------------------------------------------------

    def message(
        self,
        *filters: Filter,
        state: str | Iterable[str | None] | None = _UNSET,
        version: str = "",
    ) -> Callable[[H], H]:
        """Register a message handler: ``@router.message(F.text("hi"), ~F.group)``.

        The filters are combined with ``&``; none: every message (the router's catch-all).
        ``state="ask_name"`` (or several names) adds ``F.state(...)``. ``version`` marks the
        version of a dialogue the handler runs (``ctx.ask``): change it when a change of the
        code would make the dialogues already waiting replay differently (docs/dialogues.md).
        """
        extra: tuple[Filter, ...] = ()
        if state is not _UNSET:
            names = (state,) if state is None or isinstance(state, str) else tuple(state)
            extra = (state_filter(*names),)
        return self._register("message", (*filters, *extra), version)

    def status(self, *filters: Filter, version: str = "") -> Callable[[H], H]:
        """Register a status handler: ``@router.status(F.failed)``. The handler takes
        ``status`` (a :class:`wahost.models.Status`); ``version`` as for :meth:`message`."""
        return self._register("status", filters, version)

    def event(self, *filters: Filter) -> Callable[[H], H]:
        """Register a handler of other webhook fields: ``@router.event(F.event("flows"))``.
        The handler takes ``event`` (a :class:`wahost.models.Event`)."""
        return self._register("event", filters)

    def _register(
        self, kind: UpdateKind, filters: tuple[Filter, ...], version: str = ""
    ) -> Callable[[H], H]:
        combined = _combine(kind, filters)
        if not isinstance(version, str):
            raise TypeError(f"@router.{kind}(version=...) takes a string, not {version!r}")

        def register(fn: H) -> H:
            if not callable(fn):
                raise TypeError(f"@router.{kind}(...) decorates a function, not {fn!r}")
            # The same function registered twice gets a numbered name, so that each
            # registration's dialogues find their own filters again.
            name = f"{self.__name__}:{describe(fn)}"
            taken = sum(h.dialogue_name.partition("#")[0] == name for h in self.handlers)
            dialogue_name = f"{name}#{taken + 1}" if taken else name
            handler = Handler(kind, fn, combined, dialogue_name=dialogue_name, version=version)
            self._handlers[kind].append(handler)
            return fn

        return register

    @overload
    def before(self, fn: H, /) -> H: ...

    @overload
    def before(
        self, fn: None = None, /, *, kind: UpdateKind | Iterable[UpdateKind] = ...
    ) -> Callable[[H], H]: ...

    def before(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        kind: UpdateKind | Iterable[UpdateKind] = "message",
    ) -> Any:
        """Register a function run before this router's handlers (and its included routers')
        for each update of ``kind`` (messages unless said), in registration order::

            @router.before
            async def only_staff(message, ctx):
                if message.sender not in STAFF:
                    ctx.skip()             # none of this router's handlers sees it

        It takes its arguments by name like a handler (no filter values). Returning
        :data:`SKIP` or calling ``ctx.skip()`` skips the router for this update; anything
        else lets it go on. For every message of every plugin, implement the
        ``before_message`` hook instead.
        """
        kinds: tuple[UpdateKind, ...] = (kind,) if isinstance(kind, str) else tuple(kind)
        for one in kinds:
            if one not in self._before:
                raise ValueError(f"router.before(kind=...): {one!r} is not message/status/event")

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            for one in kinds:
                argument_plan = plan(function, update_names=(one,), what=f"{one} before function")
                self._before[one].append((function, argument_plan))
            return function

        return register(fn) if fn is not None else register

    def include(self, *routers: Router) -> None:
        """Add routers whose handlers are tried after this router's own, in this order. An
        included router runs only through this one (registering it as a plugin too does not
        run it twice)."""
        for router in routers:
            if not isinstance(router, Router):
                raise TypeError(f"router.include() takes routers, not {router!r}")
            ancestor: Router | None = self
            while ancestor is not None:
                if ancestor is router:
                    raise ValueError(f"{router!r} cannot include itself or a router above it")
                ancestor = ancestor._parent
            if router._parent is not None:
                raise ValueError(f"{router!r} is already included in {router._parent!r}")
            router._parent = self
            self._children.append(router)

    @property
    def handlers(self) -> list[Handler]:
        """This router's own handlers (all kinds, registration order within a kind)."""
        return [h for kind in ("message", "status", "event") for h in self._handlers[kind]]

    @property
    def routers(self) -> list[Router]:
        """The routers included in this one."""
        return list(self._children)

    @property
    def parent(self) -> Router | None:
        """The router this one is included in, or ``None``."""
        return self._parent

    # -- dispatching -----------------------------------------------------------------------

    async def handle(self, update: Message | Status | Event, ctx: Context) -> bool:
        """Run the first matching handler of this router (and its included routers) for
        ``update``; ``True`` when one handled it. What the hooks below do; for tests and for
        plugins that embed a router."""
        if isinstance(update, Message):
            return await self._run("message", update, ctx)
        if isinstance(update, Status):
            return await self._run("status", update, ctx)
        if isinstance(update, Event):
            return await self._run("event", update, ctx)
        return False  # a value-level webhook error: routers have no handlers for those

    async def _run(self, kind: UpdateKind, update: Any, ctx: Context) -> bool:
        for function, argument_plan in self._before[kind]:
            try:
                result = function(**argument_plan.arguments(update, ctx))
                if inspect.isawaitable(result):
                    result = await result
            except HandlerSkipped:
                return False
            except Exception as exc:
                exc.add_note(f"in before function {describe(function)} of {self!r}")
                raise
            if result is SKIP:
                return False
        for handler in self._handlers[kind]:
            values: Any = None
            check = handler.filter
            try:
                if check is not None:
                    values = check.check(update, ctx)
                    if check.is_async:
                        values = await values
                    if values is None or values is False:
                        continue
                previous, ctx.running = ctx.running, Running(handler, ctx.sends)
                try:
                    if values is None or values is True:
                        result = handler.callback(**handler.plan.arguments(update, ctx))
                    else:
                        result = handler.callback(**handler.plan.arguments(update, ctx, values))
                    if inspect.isawaitable(result):
                        result = await result
                finally:
                    ctx.running = previous
            except HandlerSkipped:
                continue
            except DialogueSuspended:
                # The handler asked (ctx.ask) and waits for the answer: it handled the update;
                # its journal commits with the unit's ack.
                ctx.dialogue = None
                return True
            except Exception as exc:
                exc.add_note(f"in {handler.kind} handler {handler.name} of {self!r}")
                raise
            if result is not SKIP:
                return True
        for child in self._children:
            if await child._run(kind, update, ctx):
                return True
        return False

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool | None:
        """Run the router's message handlers (the ``on_message`` hook)."""
        if self._parent is not None:
            return None
        return True if await self._run("message", message, ctx) else None

    @hookimpl
    async def on_status(self, status: Status, ctx: Context) -> None:
        """Run the router's status handlers (the ``on_status`` hook)."""
        if self._parent is None:
            await self._run("status", status, ctx)

    @hookimpl
    async def on_event(self, event: Event, ctx: Context) -> None:
        """Run the router's event handlers (the ``on_event`` hook)."""
        if self._parent is None:
            await self._run("event", event, ctx)


def _combine(kind: UpdateKind, filters: tuple[Filter, ...]) -> Filter | None:
    for item in filters:
        if not isinstance(item, Filter):
            raise TypeError(
                f"@router.{kind}() takes filters, not {item!r}: wrap a function with F.new(fn)"
            )
        if kind not in item.kinds:
            applies = "/".join(sorted(item.kinds))
            raise TypeError(f"{item!r} is a filter of {applies} updates, not of {kind} updates")
    if not filters:
        return None
    if len(filters) == 1:
        return filters[0]
    combined = filters[0]
    for item in filters[1:]:
        combined = combined & item
    return combined
