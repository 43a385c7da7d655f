"""A router for ``on_flow_request``: one handler per screen.

::

    # my_bot.py, a wahost plugin module
    from wahost_flows import FlowResponse, FlowRouter, FlowTokenExpired

    flows = FlowRouter()
    on_flow_request = flows.on_flow_request      # the module implements the hook

    @flows.init
    async def opened(request, ctx):
        return FlowResponse("APPOINTMENT", {"slots": await free_slots()})

    @flows.on("APPOINTMENT")
    async def chosen(request, ctx):
        if not await still_open(request.flow_token):
            raise FlowTokenExpired("This booking link has expired")
        return FlowResponse("DETAILS", request.data)

    @flows.on_error
    async def reported(request, ctx):
        ctx.log.warning("client error", error=request.error)

A handler takes ``(request, ctx)``, may be ``async``, and returns a :class:`FlowResponse`
(or ``None`` to let the next handler or plugin answer). A request no handler takes falls
through to the next plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from wahost import hookimpl
from wahost_flows.models import BACK, DATA_EXCHANGE, INIT, FlowRequest, FlowTokenExpired

__all__ = ["FlowRouter"]

Handler = Callable[[FlowRequest, Any], Any]
_H = TypeVar("_H", bound=Handler)


class FlowRouter:
    """Routes Flows requests to handlers by action and screen.

    ``endpoint`` restricts the router to one endpoint (by name); ``token_prefix`` to flow
    tokens that start with it, for bots with several Flows (``nfm_reply`` carries no Flow id,
    so the flow token is where a Flow says which it is).
    """

    def __init__(self, *, endpoint: str | None = None, token_prefix: str | None = None) -> None:
        self.endpoint = endpoint
        self.token_prefix = token_prefix
        self._routes: list[tuple[frozenset[str], str | None, Handler]] = []
        self._error_handlers: list[Handler] = []

    # -- registering handlers -------------------------------------------------------------

    def on(
        self, screen: str | None, *, action: str | Iterable[str] = DATA_EXCHANGE
    ) -> Callable[[_H], _H]:
        """Handle ``action`` requests (default ``data_exchange``) from ``screen``
        (``None``: any screen). ``action`` may be several, e.g. ``("data_exchange", "BACK")``."""
        actions = frozenset([action] if isinstance(action, str) else action)
        if not actions:
            raise ValueError("give at least one action")

        def register(handler: _H) -> _H:
            self._routes.append((actions, screen, handler))
            return handler

        return register

    def init(self, handler: _H) -> _H:
        """Handle INIT: the Flow was opened with ``flow_action=data_exchange``."""
        return self.on(None, action=INIT)(handler)

    def back(self, screen: str | None = None) -> Callable[[_H], _H]:
        """Handle BACK to ``screen`` (a screen with ``refresh_on_back``)."""
        return self.on(screen, action=BACK)

    def on_error(self, handler: _H) -> _H:
        """Handle error notifications (``request.error``, ``request.error_message``). The
        endpoint acknowledges them whatever the handlers return."""
        self._error_handlers.append(handler)
        return handler

    # -- the hook ----------------------------------------------------------------------------

    def accepts(self, request: FlowRequest, ctx: Any) -> bool:
        """Whether this router's endpoint and token prefix match."""
        if self.endpoint is not None and getattr(ctx, "endpoint", None) != self.endpoint:
            return False
        return self.token_prefix is None or request.flow_token.startswith(self.token_prefix)

    @hookimpl
    async def on_flow_request(self, request: FlowRequest, ctx: Any) -> Any:
        """The ``on_flow_request`` implementation: assign it in a plugin module
        (``on_flow_request = router.on_flow_request``)."""
        if not self.accepts(request, ctx):
            return None
        if request.is_error_notification:
            for handler in self._error_handlers:
                await _call(handler, request, ctx)
            return None  # other plugins see the notification too
        for actions, screen, handler in self._routes:
            if request.action not in actions or (screen is not None and screen != request.screen):
                continue
            try:
                value = await _call(handler, request, ctx)
            except FlowTokenExpired as expired:
                # Returned rather than raised: a rejected token is an answer, not a failure.
                return expired
            if value is not None:
                return value
        return None


async def _call(handler: Handler, request: FlowRequest, ctx: Any) -> Any:
    value = handler(request, ctx)
    if inspect.isawaitable(value):
        value = await value
    return value
