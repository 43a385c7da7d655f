"""Calling hooks: await each implementation in pluggy's order, isolate each plugin's errors.

pluggy calls implementations synchronously, so with ``async def`` implementations a
``firstresult`` hook would stop at the first coroutine object — before knowing whether it
returns ``None``. wahost therefore never calls ``pm.hook.<name>()`` for a runtime hook: the
:class:`Dispatcher` takes the implementations in pluggy's call order, calls each with the
arguments it asks for, awaits the result when it is awaitable, and applies the hook's mode
(:data:`wahost.hookspecs.MODES`).
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import pluggy
import structlog

from wahost.errors import HookFailed as HookFailed
from wahost.hookspecs import MODES, Mode

if TYPE_CHECKING:
    from wahost.units import Unit


_Coroutine = types.CoroutineType


#: Results told apart as not awaitable by their type alone: ``inspect.isawaitable`` checks
#: against an abstract base class, the costliest check here, and a *first* hook that handled
#: a unit returns ``True`` (the built-in ``on_unhandled`` does for every message nobody took).
_PLAIN = frozenset({type(None), bool, str, int, dict, list, tuple})


def _awaitable(result: Any) -> bool:
    """Whether an implementation's result is to be awaited. Most are ``async def`` (a
    coroutine) or return None or a plain value: these are told apart without inspect's
    checks, which every hook call of every unit would pay."""
    kind = type(result)
    return kind is _Coroutine or (kind not in _PLAIN and inspect.isawaitable(result))


class FirstResult(msgspec.Struct):
    """The outcome of a *first* hook: the value and the plugin that returned it."""

    value: Any
    plugin: str | None


class Dispatcher:
    """Calls hooks of one plugin manager.

    ``timeout`` (seconds) bounds each implementation of a runtime hook; a timeout counts as
    an exception of that plugin. ``context`` is passed to every implementation that asks for an
    argument of that name (``host`` in practice).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        *,
        context: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.pm = pm
        self.context = dict(context or {})
        self.timeout = timeout
        self.log = structlog.get_logger("wahost.dispatch")
        self._implementations: dict[str, tuple[int, list[pluggy.HookImpl]]] = {}
        #: Implementations left out of every call (:meth:`skip`).
        self._skipped: set[Callable[..., Any]] = set()

    def skip(self, *functions: Callable[..., Any]) -> None:
        """Leave these hook implementations out of every later call of their hooks.

        For a plugin whose feature is not configured on this host (no state machine, no
        journal, nothing to download): its ``wahost_startup`` skips the implementations that
        would only return at once, and a unit then costs the plugin nothing — not even the
        call. Configuration does not change while a host runs (a reload starts a new
        process), so a skip is for the host's lifetime. Only the functions named are skipped,
        wherever they are registered; other plugins' implementations of the same hooks run.
        """
        self._skipped.update(functions)
        self._implementations.clear()

    def implementations(self, hook: str) -> list[pluggy.HookImpl]:
        """The implementations of ``hook`` in the order pluggy would call them."""
        # Kept per hook while nothing is registered or unregistered (wahost's plugin manager
        # counts changes: :class:`wahost.plugins.PluginManager`); listed anew otherwise.
        generation = getattr(self.pm, "generation", None)
        if generation is not None:
            cached = self._implementations.get(hook)
            if cached is not None and cached[0] == generation:
                return cached[1]
        caller = getattr(self.pm.hook, hook)
        impls = caller.get_hookimpls()
        # pluggy keeps them in reverse call order, wrappers last; wahost hooks have no wrappers.
        skipped = self._skipped
        found = [
            impl
            for impl in reversed(impls)
            if not (impl.hookwrapper or impl.wrapper) and impl.function not in skipped
        ]
        if generation is not None:
            self._implementations[hook] = (generation, found)
        return found

    def mode(self, hook: str) -> Mode:
        return MODES.get(hook, "broadcast")

    def _with_context(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with the context's arguments it does not give: merged once per hook
        call, so that each implementation's arguments are plain lookups."""
        if not self.context:
            return kwargs
        return {**self.context, **kwargs}

    def _args(self, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> list[Any]:
        try:  # the usual case: every argument given (see _with_context)
            return [kwargs[name] for name in impl.argnames]
        except KeyError:
            pass
        args = []
        for name in impl.argnames:
            if name in kwargs:
                args.append(kwargs[name])
            elif name in self.context:
                args.append(self.context[name])
            else:
                raise TypeError(f"hook argument {name!r} was not provided")
        return args

    async def _call(self, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> Any:
        result = impl.function(*self._args(impl, kwargs))
        if _awaitable(result):
            return await self._awaited(result)
        return result

    def _awaited(self, result: Any) -> Any:
        """What to await for an implementation's awaitable result: itself, or bounded by
        ``timeout``."""
        if self.timeout is not None:
            return asyncio.wait_for(result, self.timeout)
        return result

    async def call(self, hook: str, *, unit: Unit | None = None, **kwargs: Any) -> Any:
        """Call ``hook`` in its mode; see :meth:`broadcast` and :meth:`first`."""
        if self.mode(hook) == "first":
            return (await self.first(hook, unit=unit, **kwargs)).value
        return await self.broadcast(hook, unit=unit, **kwargs)

    async def broadcast(self, hook: str, *, unit: Unit | None = None, **kwargs: Any) -> list[Any]:
        """Run every implementation; raise :class:`HookFailed` afterwards if any raised."""
        implementations = self.implementations(hook)
        if not implementations:  # every one skipped, or none installed: nothing to merge
            return []
        results: list[Any] = []
        errors: list[tuple[str, BaseException]] = []
        kwargs = self._with_context(kwargs)
        for impl in implementations:
            # Called here rather than through _call: one coroutine fewer for each
            # implementation, and most of them (plain functions) are never awaited.
            try:
                result = impl.function(*self._args(impl, kwargs))
                if _awaitable(result):
                    result = await self._awaited(result)
                results.append(result)
            except Exception as exc:
                errors.append((impl.plugin_name, exc))
                await self.report(impl.plugin_name, hook, exc, unit)
        if errors:
            raise HookFailed(hook, errors)
        return results

    async def first(self, hook: str, *, unit: Unit | None = None, **kwargs: Any) -> FirstResult:
        """Run implementations until one returns non-``None`` (after awaiting it)."""
        implementations = self.implementations(hook)
        if not implementations:
            return FirstResult(value=None, plugin=None)
        kwargs = self._with_context(kwargs)
        for impl in implementations:
            try:  # as in broadcast
                value = impl.function(*self._args(impl, kwargs))
                if _awaitable(value):
                    value = await self._awaited(value)
            except Exception as exc:
                await self.report(impl.plugin_name, hook, exc, unit)
                raise HookFailed(hook, [(impl.plugin_name, exc)]) from exc
            if value is not None:
                return FirstResult(value=value, plugin=impl.plugin_name)
        return FirstResult(value=None, plugin=None)

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Run a start-up hook synchronously and gather its non-``None`` results.

        Exceptions propagate (start-up fails loudly), with the plugin's name added.
        """
        results = []
        for impl in self.implementations(hook):
            try:
                value = impl.function(*self._args(impl, kwargs))
            except Exception as exc:
                raise RuntimeError(f"plugin {impl.plugin_name!r}: {hook} failed: {exc}") from exc
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(f"plugin {impl.plugin_name!r}: {hook} must not be async")
            if value is not None:
                results.append(value)
        return results

    def first_sync(self, hook: str, **kwargs: Any) -> FirstResult:
        """A *first* start-up hook called synchronously (backend factories)."""
        for impl in self.implementations(hook):
            value = impl.function(*self._args(impl, kwargs))
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(f"plugin {impl.plugin_name!r}: {hook} must not be async")
            if value is not None:
                return FirstResult(value=value, plugin=impl.plugin_name)
        return FirstResult(value=None, plugin=None)

    async def report(self, plugin: str, hook: str, exc: BaseException, unit: Unit | None) -> None:
        """Log a plugin's exception and tell ``on_plugin_error`` implementations.

        While handling a unit the log line is one line: the unit is retried, and the worker
        logs the traceback once, when the unit is parked dead (an error repeated on every
        attempt would otherwise print the same traceback each time).
        """
        if unit is None:
            self.log.error("plugin raised", plugin=plugin, hook=hook, unit=None, exc_info=exc)
        else:
            self.log.error(
                "plugin raised",
                plugin=plugin,
                hook=hook,
                unit=unit.key,
                error=f"{type(exc).__name__}: {exc}",
            )
        if hook == "on_plugin_error":
            return
        args = {"plugin": plugin, "hook": hook, "exc": exc, "unit": unit}
        for impl in self.implementations("on_plugin_error"):
            try:
                await self._call(impl, args)
            except Exception as nested:
                self.log.error("on_plugin_error raised", plugin=impl.plugin_name, exc_info=nested)
