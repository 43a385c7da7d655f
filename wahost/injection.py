"""Arguments by name: how router handlers, ``before`` middleware and custom filters are called.

A function's signature is read once, when it is registered (:func:`plan`), into an
:class:`ArgumentPlan`: for each parameter, where its value comes from. Calling it for an update
(:meth:`ArgumentPlan.arguments`) then only looks values up; no signature is inspected per
update.

The names a function may take:

* the update under its kind's name — ``message``, ``status`` or ``event`` — and as ``update``;
* ``ctx`` (the unit's :class:`wahost.Context`), ``host`` (``ctx.host``) and ``state``
  (``ctx.state``, the conversation);
* the values the handler's filters produce (``match``, ``command``, ``data``, ...): a value a
  filter did not produce for this update (the other side of an ``|`` matched) is the
  parameter's default, or ``None`` when it has none.

A parameter with any other name must have a default, so that a misspelt name fails when the
function is registered rather than on the first update. ``**kwargs`` receives every available
value. Positional-only parameters and ``*args`` are refused.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from wahost.context import Context

UpdateKind = Literal["message", "status", "event"]
"""The kinds of update a router dispatches: ``on_message``, ``on_status``, ``on_event``."""

#: The names every function may take besides its update (see the module docstring).
CONTEXT_NAMES: Final = ("ctx", "host", "state", "update")

_UPDATE, _CTX, _HOST, _STATE, _VALUE = range(5)
_SOURCES: Final = {"update": _UPDATE, "ctx": _CTX, "host": _HOST, "state": _STATE}
_EMPTY: Mapping[str, Any] = {}


class ArgumentPlan:
    """Where each parameter of one function takes its value from; see :func:`plan`."""

    __slots__ = ("params", "update_names", "var_keyword")

    def __init__(
        self,
        params: tuple[tuple[str, int, Any], ...],
        *,
        var_keyword: bool = False,
        update_names: tuple[str, ...] = (),
    ) -> None:
        #: ``(name, source, default)`` for each parameter, in order.
        self.params = params
        #: The function takes ``**kwargs``: every available value is passed.
        self.var_keyword = var_keyword
        #: The names the update goes by (given to ``**kwargs``).
        self.update_names = update_names

    def arguments(
        self, update: Any, ctx: Context, values: Mapping[str, Any] = _EMPTY
    ) -> dict[str, Any]:
        """The keyword arguments of one call for ``update``; ``values`` are the filters'."""
        kwargs: dict[str, Any] = {}
        for name, source, default in self.params:
            if source == _VALUE:
                kwargs[name] = values.get(name, default)
            elif source == _UPDATE:
                kwargs[name] = update
            elif source == _CTX:
                kwargs[name] = ctx
            elif source == _HOST:
                kwargs[name] = ctx.host
            else:
                kwargs[name] = ctx.state
        if self.var_keyword:
            extra: dict[str, Any] = dict.fromkeys(self.update_names, update)
            extra.update(update=update, ctx=ctx, host=ctx.host, state=ctx.state)
            for name, value in {**values, **extra}.items():
                kwargs.setdefault(name, value)
        return kwargs


def describe(fn: Callable[..., Any]) -> str:
    """The function's name as error messages show it (``mybot.greet``)."""
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{name}" if module else name


def plan(
    fn: Callable[..., Any],
    *,
    update_names: Collection[str],
    provided: Collection[str] = (),
    what: str = "handler",
) -> ArgumentPlan:
    """Read ``fn``'s signature into an :class:`ArgumentPlan`.

    ``update_names`` are the names of the update (``("message",)`` for a message handler);
    ``provided`` the names the filters may produce. Raises :class:`TypeError` naming the
    function and the parameter when a parameter can never be given a value.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} {describe(fn)}: cannot read its signature ({exc})") from None
    params: list[tuple[str, int, Any]] = []
    var_keyword = False
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            var_keyword = True
            continue
        if param.kind in (param.POSITIONAL_ONLY, param.VAR_POSITIONAL):
            raise TypeError(
                f"{what} {describe(fn)}: parameter {param.name!r} cannot be given by name; "
                "arguments are passed by name only"
            )
        default = None if param.default is param.empty else param.default
        name = param.name
        if name in update_names:
            params.append((name, _UPDATE, default))
        elif name in _SOURCES:
            params.append((name, _SOURCES[name], default))
        elif name in provided or param.default is not param.empty:
            params.append((name, _VALUE, default))
        else:
            known = sorted({*update_names, *CONTEXT_NAMES, *provided})
            raise TypeError(
                f"{what} {describe(fn)}: no value is ever given to parameter {name!r}; "
                f"it may take {', '.join(known)} (or give it a default)"
            )
    return ArgumentPlan(tuple(params), var_keyword=var_keyword, update_names=tuple(update_names))
