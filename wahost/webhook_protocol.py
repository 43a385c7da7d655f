"""The webhook's POST without ASGI: uvicorn's httptools protocol, with Meta's POSTs answered in
the protocol itself.

The ASGI request/response cycle (a scope, a task, receive and send coroutines, message dicts)
costs the event loop more of a webhook's time than wahost's own work does
(docs/performance.md#the-webhook-fast-path). :class:`WebhookProtocol` keeps uvicorn for
everything a server must get right (keep-alive and its timeout, pipelining, malformed requests,
graceful shutdown) and for every other request (the verification GET, ``/healthz``, ``/readyz``,
plugins' routes, the console), which still go through :class:`~wahost.webhook.Ingress` as ASGI.
Only a ``POST`` to the webhook path, arriving while no other response on its connection is
pending, is handled here: headers and body are collected from the parser's callbacks, then
:meth:`Ingress.accept` checks, splits and enqueues exactly as the ASGI path does, and the answer
is written straight to the transport when the units are durable.

It relies on the internals of uvicorn's ``HttpToolsProtocol`` (its per-request ``cycle``, the
``pipeline`` and ``on_response_complete``). :func:`protocol_class` checks that those are there
and returns ``None`` otherwise, so that a uvicorn that changed them serves everything through
ASGI instead: slower, never wrong. ``[server] webhook_fast_path = false`` does the same.
"""

from __future__ import annotations

import asyncio
import http
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from wahost.connection_limits import READ_BODY, READ_IDLE, ReadDeadlines, uvicorn_fits
from wahost.webhook import webhook_headers

if TYPE_CHECKING:
    from wahost.webhook import Ingress

log = structlog.get_logger("wahost.webhook")


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()


_STATUS_LINES = {status: _status_line(status) for status in (200, 401, 403, 413, 500, 503)}
_BODY_HEADERS = b"content-type: text/plain; charset=utf-8\r\ncontent-length: 0\r\n"
_CLOSE = b"connection: close\r\n"
#: What uvicorn's protocol must offer for the fast path to be used: methods, and the names
#: of the attributes they set (read off their code, so that a uvicorn that renamed one serves
#: the webhook through ASGI rather than failing on every POST).
_METHODS = ("on_headers_complete", "on_body", "on_message_complete", "on_response_complete")
_SET_BY = {
    "__init__": ("parser", "cycle", "transport", "flow", "server_state", "expect_100_continue"),
    "on_message_begin": ("url", "headers"),
    "on_response_complete": ("pipeline", "flow"),
}


class _Request:
    """A webhook POST being answered by the protocol; it stands in for uvicorn's
    ``RequestResponseCycle`` in the attributes the protocol reads of its ``cycle``."""

    __slots__ = (
        "body",
        "chunks",
        "disconnected",
        "keep_alive",
        "message_event",
        "response_complete",
        "signature",
        "size",
    )

    def __init__(self, signature: bytes | None, keep_alive: bool) -> None:
        self.signature = signature
        self.keep_alive = keep_alive
        self.body: bytes = b""
        self.chunks: list[bytes] | None = None
        self.size = 0
        self.disconnected = False
        self.response_complete = False
        self.message_event = _NoEvent


class _NoEventType:
    """``connection_lost`` sets the cycle's event to wake its ``receive``: there is none."""

    @staticmethod
    def set() -> None:
        return None


_NoEvent = _NoEventType()


def _fits(protocol: type) -> bool:
    """Whether uvicorn's ``protocol`` has the methods and attributes the fast path uses."""
    if not all(callable(getattr(protocol, name, None)) for name in _METHODS):
        return False
    for method, names in _SET_BY.items():
        code = getattr(getattr(protocol, method, None), "__code__", None)
        if code is None or not set(names) <= set(code.co_names):
            return False
    return True


def protocol_class(ingress: Ingress) -> type[ReadDeadlines] | None:
    """The protocol class to give uvicorn for ``ingress``, or ``None`` when the installed
    uvicorn (or the lack of httptools) does not allow the fast path. It bounds its requests
    like every other (:class:`~wahost.connection_limits.ReadDeadlines`); bind it to the
    configuration with :func:`~wahost.connection_limits.with_limits`."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: uvicorn's h11 protocol serves everything
        return None
    if not _fits(HttpToolsProtocol) or not uvicorn_fits():
        log.warning("webhook fast path disabled: uvicorn's protocol is not the expected one")
        return None
    path = ingress.path.encode()

    class WebhookProtocol(ReadDeadlines, HttpToolsProtocol):
        """uvicorn's protocol, answering the webhook's POSTs itself (see the module)."""

        _ingress = ingress
        _metrics = ingress.metrics
        _path = path
        _limit = ingress.limit
        #: uvicorn's ``RequestResponseCycle``, or a :class:`_Request` answered here.
        cycle: Any

        def on_headers_complete(self) -> None:
            cycle = self.cycle
            if (
                self.parser.get_method() != b"POST"
                or (cycle is not None and not cycle.response_complete)
                or self.url.partition(b"?")[0] != self._path
                or self.parser.should_upgrade()
            ):
                return super().on_headers_complete()
            # The parser has checked the length is digits; were it not, the ValueError would
            # reach uvicorn as a parser error, answered 400.
            signature, declared = webhook_headers(self.headers)
            version = self.parser.get_http_version()
            request = _Request(signature, version != "1.0" and self.parser.should_keep_alive())
            self.cycle = request
            self._read_phase = READ_BODY
            if declared > self._limit:
                # Refused before reading the body; the connection cannot be reused without
                # reading it, so it is closed.
                return self._answer(request, 413, close=True)
            if self.expect_100_continue:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

        def on_body(self, body: bytes) -> None:
            request = self.cycle
            if type(request) is not _Request:
                return super().on_body(body)
            if request.response_complete:
                return None
            request.size += len(body)
            if request.size > self._limit:
                return self._answer(request, 413, close=True)
            if request.chunks is not None:
                request.chunks.append(body)
            elif request.body:
                request.chunks = [request.body, body]
            else:
                request.body = body
            return None

        def on_message_complete(self) -> None:
            request = self.cycle
            if type(request) is not _Request:
                return super().on_message_complete()
            self._read_phase = READ_IDLE
            if request.response_complete:
                return None
            body = b"".join(request.chunks) if request.chunks is not None else request.body
            request.chunks = None
            request.body = b""
            try:
                outcome = self._ingress.accept(request.signature, body)
            except Exception as exc:
                log.error("webhook failed", exc_info=exc)
                return self._answer(request, 500, close=True)
            if isinstance(outcome, int):
                return self._answer(request, outcome)
            # Not durable yet: read nothing more of this connection until it is answered.
            self.flow.pause_reading()
            future = asyncio.ensure_future(outcome)  # a future already, but for a quarantine
            future.add_done_callback(partial(self._answered, request))
            return None

        def _answered(self, request: _Request, done: asyncio.Future[int]) -> None:
            if done.cancelled():
                status = 503
            elif done.exception() is not None:
                log.error("webhook failed", exc_info=done.exception())
                status = 500
            else:
                status = done.result()
            self._answer(request, status)

        def _answer(self, request: _Request, status: int, *, close: bool = False) -> None:
            request.response_complete = True
            if self._metrics is not None:
                self._metrics.webhook(status)
            if close:
                request.keep_alive = False
            transport = self.transport
            if transport.is_closing():
                return
            parts = [_STATUS_LINES.get(status) or _status_line(status)]
            for name, value in self.server_state.default_headers:
                parts += (name, b": ", value, b"\r\n")
            parts.append(_BODY_HEADERS)
            if not request.keep_alive:
                parts.append(_CLOSE)
            parts.append(b"\r\n")
            transport.write(b"".join(parts))
            if not request.keep_alive:
                transport.close()
                return
            self.on_response_complete()

    return WebhookProtocol


__all__ = ["protocol_class"]
