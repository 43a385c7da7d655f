"""Keep-alive HTTP/1.1 connections for the Graph API's JSON ``POST``s: every send, mark-read
and typing indicator.

Why not ``httpx`` for these: a send through ``httpx.AsyncClient`` and httpcore's pure-Python
HTTP/1.1 state machine (h11) costs several times the whole rest of an echo unit on the event
loop; :class:`PostPool` writes the request in one ``transport.write`` and parses the answer
with ``httptools`` (uvicorn's C parser, already a dependency), on plain asyncio protocols.
The figures are in docs/performance.md ("The send path"). Everything else (media downloads,
uploads, multipart, query strings, proxies) stays on ``httpx``.

What it keeps from ``httpx`` so that :mod:`wahost.graph` handles both alike: the exceptions
(``httpx.ConnectError``, ``ConnectTimeout``, ``PoolTimeout``, ``ReadTimeout``,
``RemoteProtocolError``, ``UnsupportedProtocol``), which tell a request that cannot have
reached Meta from one that may have; TLS with ``httpx.create_ssl_context()``; the timeouts of
an ``httpx.Timeout`` (``read`` bounds the wait for the whole answer after the request is
written). At most ``max_connections`` requests are in flight (a FIFO queue, ``pool`` timeout);
idle connections are reused newest first and closed after ``keepalive_expiry`` seconds or when
the server closed them. The answer is read whole (Graph answers are small; over
:data:`MAX_BODY` is a protocol error).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Mapping
from typing import cast

import httptools
import httpx

from wahost.http_pool import _Slots

__all__ = ["MAX_BODY", "PostAnswer", "PostPool"]

#: The largest answer read (bytes); a Graph API answer to a POST is a few hundred.
MAX_BODY = 4 * 1024 * 1024

_DEFAULT_PORTS = {"http": 80, "https": 443}
_Key = tuple[str, str, int]


class PostAnswer:
    """An answer read whole: ``status_code``, ``content`` and ``headers`` like ``httpx``'s."""

    __slots__ = ("_headers", "_raw_headers", "content", "status_code")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes):
        self.status_code = status_code
        self.content = content
        self._raw_headers = raw_headers
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:  # built only when asked (errors read Retry-After)
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[PostAnswer] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._received = False
        self._keep_alive = True

    # -- asyncio ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an ``asyncio.Transport`` subclass; both write and close.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes while idle: not a connection to reuse
            self.close()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if not self._received:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        else:
            self._fail(
                httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            )

    # -- httptools ----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._fail(httpx.RemoteProtocolError(f"answer over {MAX_BODY} bytes"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self._keep_alive = self._parser.should_keep_alive()
        status = self._parser.get_status_code()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        waiter.set_result(PostAnswer(status, self._headers, body))

    # -- the pool's side ----------------------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _timed_out(self) -> None:
        self._fail(httpx.ReadTimeout("no answer within the read timeout"))

    async def exchange(self, request: bytes, timeout: float | None) -> PostAnswer:  # noqa: ASYNC109
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._headers, self._body, self._size = [], [], 0
        self._received = False
        # A timer handle, not ``asyncio.timeout``: this runs for every send, and the context
        # manager's task bookkeeping cost more than the rest of the exchange.
        timer = loop.call_later(timeout, self._timed_out) if timeout is not None else None
        try:
            self.transport.write(request)
            answer = await self._waiter
        except BaseException:
            self.close()  # cancelled or failed mid-exchange: the connection's state is unknown
            raise
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if not self._keep_alive:
            self.close()
        return answer


class PostPool:
    """``POST`` requests over pooled keep-alive connections (module docstring).

    ``headers`` go on every request (the bearer token, the user agent, the content type);
    ``ssl_context`` is for ``https`` (default: ``httpx.create_ssl_context()``).
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
        max_connections: int = 100,
        keepalive_expiry: float | None = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections: at least 1")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.timeout = timeout
        for name, value in headers.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):  # would end the header early
                raise ValueError(f"header {name!r}: a line break or NUL is not allowed")
        self._fixed = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()
        )
        self._ssl_context = ssl_context
        self._slots = _Slots(max_connections)
        self._idle: dict[_Key, deque[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._prepared: tuple[httpx.URL, _Key, bytes, bytes] | None = None
        self._closed = False

    @property
    def connections(self) -> int:
        """Connections open now (idle or carrying a request)."""
        return sum(len(idle) for idle in self._idle.values()) + len(self._busy)

    async def post(self, base_url: httpx.URL, path: str, content: bytes) -> PostAnswer:
        """``POST`` ``content`` to ``base_url`` + ``path`` and read the answer."""
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        key, prefix, host = self._origin(base_url)
        request = b"".join(
            (
                b"POST ",
                prefix,
                path.encode("ascii"),
                b" HTTP/1.1\r\nHost: ",
                host,
                b"\r\n",
                self._fixed,
                b"Content-Length: %d\r\n\r\n" % len(content),
                content,
            )
        )
        try:
            await self._slots.take(self.timeout.pool)
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection within the pool timeout") from None
        connection: _Connection | None = None
        try:
            connection = await self._checkout(key)
            self._busy.add(connection)
            answer = await connection.exchange(request, self.timeout.read)
        finally:
            self._slots.give()
            if connection is not None:
                self._busy.discard(connection)
                if not connection.closed and not self._closed:
                    self._put_back(key, connection)
        return answer

    def _put_back(self, key: _Key, connection: _Connection) -> None:
        now = connection.idle_since = time.monotonic()
        idle = self._idle.setdefault(key, deque())
        idle.append(connection)
        expiry = self.keepalive_expiry
        # The oldest idle connections sit at the bottom, where popping never reaches them.
        while expiry is not None and idle and now - idle[0].idle_since > expiry:
            idle.popleft().close()

    def _origin(self, base_url: httpx.URL) -> tuple[_Key, bytes, bytes]:
        prepared = self._prepared
        if prepared is not None and prepared[0] is base_url:
            return prepared[1], prepared[2], prepared[3]
        scheme = base_url.scheme
        port = base_url.port or _DEFAULT_PORTS.get(scheme)
        if port is None:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
            )
        host = base_url.host
        netloc = base_url.netloc  # host[:port] as written, IPv6 in brackets
        key: _Key = (scheme, host, port)
        prefix = base_url.raw_path.rstrip(b"/")
        self._prepared = (base_url, key, prefix, netloc)
        return key, prefix, netloc

    async def _checkout(self, key: _Key) -> _Connection:
        idle = self._idle.get(key)
        expiry = self.keepalive_expiry
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.closed:
                continue
            if expiry is not None and now - connection.idle_since > expiry:
                connection.close()
                continue
            return connection
        return await self._connect(key)

    async def _connect(self, key: _Key) -> _Connection:
        scheme, host, port = key
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            tls = self._ssl_context
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout.connect):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {host}:{port} within the timeout"
            ) from None
        except OSError as exc:  # refused, unreachable, a certificate that does not verify
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
