"""The base of filters: :class:`Filter`, the ``&``, ``|`` and ``~`` combinations and
:func:`new` (custom filters). The reference is :mod:`wahost.filters`."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from wahost.injection import CONTEXT_NAMES, UpdateKind, describe, plan

if TYPE_CHECKING:
    from wahost.context import Context

__all__ = ["ANY_KIND", "EVENTS", "MESSAGES", "STATUSES", "Filter", "FilterResult", "matched", "new"]

#: What :meth:`Filter.check` returns: ``False``/``None`` (no match), ``True`` (a match) or
#: the values the match produces (a match too, even when empty).
FilterResult = bool | Mapping[str, Any] | None

MESSAGES: Final[frozenset[UpdateKind]] = frozenset({"message"})
STATUSES: Final[frozenset[UpdateKind]] = frozenset({"status"})
EVENTS: Final[frozenset[UpdateKind]] = frozenset({"event"})
ANY_KIND: Final[frozenset[UpdateKind]] = frozenset({"message", "status", "event"})
NO_VALUES: Final[frozenset[str]] = frozenset()


def matched(result: object) -> bool:
    """Whether a :meth:`Filter.check` result is a match."""
    return result is not None and result is not False


class Filter:
    """The base of every filter: :meth:`check` one update.

    Subclasses set :attr:`kinds`, :attr:`provides` and :attr:`is_async` (then :meth:`check`
    returns an awaitable of its result).
    """

    #: The kinds of update this filter applies to.
    kinds: frozenset[UpdateKind] = ANY_KIND
    #: The names of the values a match may produce.
    provides: frozenset[str] = NO_VALUES
    #: :meth:`check` returns an awaitable.
    is_async: bool = False

    def check(self, update: Any, ctx: Context) -> Any:
        """A :data:`FilterResult` for ``update`` (an awaitable of one when :attr:`is_async`)."""
        raise NotImplementedError

    def __and__(self, other: Filter) -> Filter:
        return _All(_flatten(_All, (self, _filter(other, "&"))))

    def __rand__(self, other: Filter) -> Filter:
        return _All(_flatten(_All, (_filter(other, "&"), self)))

    def __or__(self, other: Filter) -> Filter:
        return _Any(_flatten(_Any, (self, _filter(other, "|"))))

    def __ror__(self, other: Filter) -> Filter:
        return _Any(_flatten(_Any, (_filter(other, "|"), self)))

    def __invert__(self) -> Filter:
        return _Not(self)

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self!r} has no truth value: combine filters with &, | and ~, not and/or/not"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _filter(value: object, operator: str) -> Filter:
    if not isinstance(value, Filter):
        raise TypeError(
            f"cannot combine a filter with {value!r} using {operator}; "
            "wrap a function with F.new(fn)"
        )
    return value


def _flatten(cls: type[_Group], filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    flat: list[Filter] = []
    for item in filters:
        flat.extend(item.filters if type(item) is cls else (item,))
    return tuple(flat)


def _kinds(filters: tuple[Filter, ...], operator: str) -> frozenset[UpdateKind]:
    kinds = ANY_KIND
    for item in filters:
        kinds &= item.kinds
    if not kinds:
        joined = f" {operator} ".join(map(repr, filters))
        raise TypeError(f"{joined}: these filters apply to different kinds of update")
    return kinds


class _Group(Filter):
    filters: tuple[Filter, ...]
    operator = ""

    def __init__(self, filters: tuple[Filter, ...]) -> None:
        self.filters = filters
        self.kinds = _kinds(filters, self.operator)
        self.provides = frozenset().union(*(item.provides for item in filters))
        self.is_async = any(item.is_async for item in filters)
        self.check = self._check_async if self.is_async else self._check_sync  # type: ignore[method-assign]

    def _check_sync(self, update: Any, ctx: Context) -> FilterResult:
        raise NotImplementedError

    async def _check_async(self, update: Any, ctx: Context) -> FilterResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return "(" + f" {self.operator} ".join(map(repr, self.filters)) + ")"


class _All(_Group):
    """Every filter matches; their values are merged, the right-most winning on a name."""

    operator = "&"

    def _check_sync(self, update: Any, ctx: Context) -> FilterResult:
        values: Mapping[str, Any] | None = None
        for item in self.filters:
            result = item.check(update, ctx)
            if result is None or result is False:
                return False
            if result is not True:
                values = result if values is None else {**values, **result}
        return True if values is None else values

    async def _check_async(self, update: Any, ctx: Context) -> FilterResult:
        values: Mapping[str, Any] | None = None
        for item in self.filters:
            result = item.check(update, ctx)
            if item.is_async:
                result = await result
            if result is None or result is False:
                return False
            if result is not True:
                values = result if values is None else {**values, **result}
        return True if values is None else values


class _Any(_Group):
    """The first filter that matches, with its values."""

    operator = "|"

    def _check_sync(self, update: Any, ctx: Context) -> FilterResult:
        for item in self.filters:
            result = item.check(update, ctx)
            if result is not None and result is not False:
                return result  # type: ignore[no-any-return]
        return False

    async def _check_async(self, update: Any, ctx: Context) -> FilterResult:
        for item in self.filters:
            result = item.check(update, ctx)
            if item.is_async:
                result = await result
            if result is not None and result is not False:
                return result  # type: ignore[no-any-return]
        return False


class _Not(Filter):
    """The filter does not match; no values."""

    def __init__(self, inner: Filter) -> None:
        self.inner = inner
        self.kinds = inner.kinds
        self.is_async = inner.is_async
        self.check = self._check_async if self.is_async else self._check_sync  # type: ignore[method-assign]

    def _check_sync(self, update: Any, ctx: Context) -> bool:
        result = self.inner.check(update, ctx)
        return result is None or result is False

    async def _check_async(self, update: Any, ctx: Context) -> bool:
        result = await self.inner.check(update, ctx)
        return result is None or result is False

    def __invert__(self) -> Filter:
        return self.inner

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


# -- custom filters ------------------------------------------------------------------------


class _Custom(Filter):
    def __init__(self, fn: Callable[..., Any], provides: Iterable[str]) -> None:
        self.fn = fn
        self.provides = frozenset(provides)
        self.plan = plan(fn, update_names=("message", "status", "event"), what="filter")
        # An object whose __call__ is ``async def`` is an async filter too.
        call = fn if inspect.isroutine(fn) else type(fn).__call__
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
        self.check = self._check_async if self.is_async else self._check_sync  # type: ignore[method-assign]

    def _check_sync(self, update: Any, ctx: Context) -> FilterResult:
        result = self.fn(**self.plan.arguments(update, ctx))
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                f"filter {describe(self.fn)} returned an awaitable: declare it `async def`"
            )
        return _normalise(result)

    async def _check_async(self, update: Any, ctx: Context) -> FilterResult:
        return _normalise(await self.fn(**self.plan.arguments(update, ctx)))

    def __repr__(self) -> str:
        return f"F.new({describe(self.fn)})"


def _normalise(result: object) -> FilterResult:
    if isinstance(result, Mapping):
        return result
    return bool(result)


def new(
    fn: Callable[..., bool | Mapping[str, Any] | Awaitable[Any]], *, provides: Iterable[str] = ()
) -> Filter:
    """A filter from a function, sync or ``async def``.

    ``fn`` takes its arguments by name: ``message`` / ``status`` / ``event`` / ``update``
    (the update), ``ctx``, ``host``, ``state``. It returns a truth value, or a dict of values
    for the handler (a match, even when empty); ``provides`` names the keys it may return, so
    that a handler can take them. It applies to every kind of update::

        vip = F.new(lambda message: message.sender in VIPS)

        async def known_customer(message, host):
            customer = await lookup(host, message.sender)
            return {"customer": customer} if customer else False

        @router.message(F.new(known_customer, provides=["customer"]))
        async def welcome_back(message, ctx, customer): ...

    ``ctx.skip()`` inside ``fn`` means no match.
    """
    if not callable(fn):
        raise TypeError(f"F.new() takes a function, not {fn!r}")
    names = list(provides) if not isinstance(provides, str) else [provides]
    reserved = {"message", "status", "event", *CONTEXT_NAMES}.intersection(names)
    if reserved:
        raise ValueError(f"F.new(provides=...): {', '.join(sorted(reserved))} is reserved")
    return _Custom(fn, names)
