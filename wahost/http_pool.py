"""An HTTP/1.1 connection pool with O(1) acquire and release, as an httpx transport.

httpx's default transport goes through ``httpcore.AsyncConnectionPool``, which on every
request walks all its connections and polls each idle socket (``has_expired()`` →
``is_socket_readable()``): O(connections) syscalls a request, a large share of a busy bot's
CPU (docs/performance.md#the-graph-apis-connection-pool). :class:`PoolTransport` keeps
per origin a LIFO stack of idle ``httpcore.AsyncHTTPConnection`` objects and checks only the
one it pops (expired, or closed by the server while idle: closed, and the next one is taken).

* At most ``max_connections`` requests are in flight, over all origins (a FIFO slot queue;
  waiting longer than the request's ``pool`` timeout raises ``httpx.PoolTimeout``), and at
  most ``max_connections`` connections are open: a new connection evicts the oldest idle one
  of another origin when the pool is full.
* A connection goes back to its stack when the response was read to the end and closed and
  the connection can carry another request; otherwise it is closed. The slot is released when
  the response stream closes, also on errors and cancellation.
* Idle connections older than ``keepalive_expiry`` are closed when they are popped and, from
  the bottom of the stack, whenever a connection is put back (no timer: an idle pool with no
  traffic keeps its sockets until the next request or :meth:`PoolTransport.aclose`).
* httpcore's exceptions become the httpx ones httpx's own transport raises (one table, the most
  specific class wins), so :func:`wahost.graph._transport_error` can tell a request that
  cannot have reached Meta from one that may have.
* TLS uses ``httpx.create_ssl_context()`` (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``),
  as ``httpx.AsyncClient`` does by default, made on the first ``https`` connection (loading the
  CA bundle takes tens of milliseconds, which a client that only speaks plain HTTP to a
  loopback fake need not pay); HTTP/1.1 only. Environment proxies are mounted by
  ``httpx.AsyncClient`` itself, on its own transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpcore
import httpx

__all__ = ["PoolTransport"]

#: httpcore exception → the httpx exception httpx's transport raises for it. A lookup walks the
#: MRO of the raised class, so the most specific entry wins (``ReadTimeout`` before
#: ``TimeoutException``). httpcore 1.x has no ``CloseError``: a failed close is not an error of
#: the request (see :meth:`PoolTransport._close`), so nothing becomes ``httpx.CloseError``.
_EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}


def _mapped(exc: Exception) -> Exception:
    """The httpx exception for an httpcore one (with its message); other exceptions as they are."""
    for cls in type(exc).__mro__:
        target = _EXCEPTIONS.get(cls)
        if target is not None:
            return target(str(exc))
    return exc


_Key = tuple[bytes, bytes, int]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


class _Slots:
    """A FIFO counting semaphore whose release hands the slot straight to the oldest waiter.

    O(1) take and give (``asyncio.Semaphore.locked()`` scans its waiters). Invariant: free
    slots only while nobody waits, so a taker never queues behind a free slot.
    """

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def take(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if self._free:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as it gave up: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)  # O(waiters), only on timeout or cancel
            raise

    def give(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class PoolTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over a pool of HTTP/1.1 connections (module docstring).

    ``max_connections``: requests in flight and connections open at most, over all origins.
    ``keepalive_expiry``: seconds an idle connection is kept (``None``: until the server closes
    it). ``ssl_context``: for ``https`` (default: ``httpx.create_ssl_context()``).
    ``network_backend``: httpcore's (default: ``httpcore.AnyIOBackend()``; tests may inject
    ``httpcore.AsyncMockBackend``).
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float | None = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections: at least 1")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._backend = network_backend if network_backend is not None else httpcore.AnyIOBackend()
        self._slots = _Slots(max_connections)
        #: Per origin, idle connections with the monotonic time they became idle; the newest
        #: on the right (popped first: warm, least likely to have been closed by the server).
        self._idle: dict[_Key, deque[tuple[httpcore.AsyncHTTPConnection, float]]] = {}
        self._idle_count = 0
        self._busy: set[httpcore.AsyncHTTPConnection] = set()
        self._closed = False

    @property
    def connections(self) -> int:
        """Connections open now (idle or carrying a request)."""
        return self._idle_count + len(self._busy)

    @property
    def idle_connections(self) -> int:
        """Connections open and waiting for a request."""
        return self._idle_count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        port = url.port or _DEFAULT_PORTS.get(scheme)
        if port is None:
            if not scheme:
                raise httpx.UnsupportedProtocol(
                    "Request URL is missing an 'http://' or 'https://' protocol."
                )
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii')}://'."
            )
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        key: _Key = (scheme, url.raw_host, port)
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        try:
            await self._slots.take(timeouts.get("pool"))
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection within the pool timeout") from None
        connection: httpcore.AsyncHTTPConnection | None = None
        try:
            connection = await self._checkout(key)
            response = await connection.handle_async_request(
                httpcore.Request(
                    method=request.method,
                    url=httpcore.URL(
                        scheme=scheme, host=url.raw_host, port=port, target=url.raw_path
                    ),
                    headers=request.headers.raw,
                    content=request.stream,
                    extensions=request.extensions,
                )
            )
        except BaseException as exc:
            # Slot first, synchronously: an await below may be interrupted (cancellation).
            self._slots.give()
            if connection is not None:
                self._busy.discard(connection)
                await self._close(connection)
            if isinstance(exc, Exception):
                mapped = _mapped(exc)
                if mapped is not exc:
                    raise mapped from exc
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PooledStream(self, key, connection, response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every connection, idle or carrying a request; the pool takes no more."""
        self._closed = True
        connections = [conn for stack in self._idle.values() for conn, _ in stack]
        connections += self._busy
        self._idle.clear()
        self._idle_count = 0
        self._busy.clear()
        for connection in connections:
            await self._close(connection)

    # -- connections ----------------------------------------------------------------------

    async def _checkout(self, key: _Key) -> httpcore.AsyncHTTPConnection:
        """A connection for ``key`` to carry one request: the newest usable idle one, or new."""
        stack = self._idle.get(key)
        while stack:
            connection, since = stack.pop()
            self._idle_count -= 1
            # One poll of this one socket: expired, or readable while idle (the server closed
            # it; the only thing it may send on an idle HTTP/1.1 connection is EOF).
            if (
                self._expired(since, time.monotonic())
                or not connection.is_available()
                or connection.has_expired()
            ):
                await self._close(connection)
                continue
            self._busy.add(connection)
            return connection
        if self.connections >= self.max_connections:
            await self._evict_one()
        scheme, host, port = key
        if scheme == b"https" and self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        connection = httpcore.AsyncHTTPConnection(
            origin=httpcore.Origin(scheme, host, port),
            ssl_context=self._ssl_context,
            keepalive_expiry=self.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self._backend,
        )
        self._busy.add(connection)
        return connection

    async def _checkin(self, key: _Key, connection: httpcore.AsyncHTTPConnection) -> None:
        """Take back a connection whose response stream closed, and release its slot."""
        self._slots.give()
        if connection not in self._busy:  # closed meanwhile by aclose()
            return
        self._busy.discard(connection)
        if self._closed or not connection.is_idle():
            await self._close(connection)
            return
        now = time.monotonic()
        stack = self._idle.get(key)
        if stack is None:
            stack = self._idle[key] = deque()
        stack.append((connection, now))
        self._idle_count += 1
        # The bottom of the stack idled longest: close those past their keep-alive (amortised
        # O(1): each connection is closed once). Popped before any await: other requests take
        # from this stack meanwhile.
        stale = []
        while self._expired(stack[0][1], now):
            stale.append(stack.popleft()[0])
            self._idle_count -= 1
        for connection in stale:
            await self._close(connection)

    def _expired(self, since: float, now: float) -> bool:
        return self.keepalive_expiry is not None and now - since > self.keepalive_expiry

    async def _evict_one(self) -> None:
        """Close the longest-idle connection of some origin to make room for a new one.

        Only when the pool is full and the origin asked for has no idle connection; then
        another origin has one (at most ``max_connections - 1`` carry requests besides ours).
        """
        for stack in self._idle.values():
            if stack:
                connection, _ = stack.popleft()
                self._idle_count -= 1
                await self._close(connection)
                return

    @staticmethod
    async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
        # Closing a connection the pool gives up on is not the request's failure: a socket that
        # errors on close is closed all the same.
        with contextlib.suppress(Exception):
            await connection.aclose()


class _PooledStream(httpx.AsyncByteStream):
    """A response body that gives its connection back to the pool when closed."""

    __slots__ = ("_closed", "_connection", "_key", "_pool", "_stream")

    def __init__(
        self,
        pool: PoolTransport,
        key: _Key,
        connection: httpcore.AsyncHTTPConnection,
        stream: Any,
    ) -> None:
        self._pool = pool
        self._key = key
        self._connection = connection
        self._stream = stream
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            await self.aclose()
            mapped = _mapped(exc)
            if mapped is not exc:
                raise mapped from exc
            raise
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # httpcore marks the connection idle if the response was read to the end, or
            # closes it.
            await self._stream.aclose()
        except Exception as exc:
            mapped = _mapped(exc)
            if mapped is not exc:
                raise mapped from exc
            raise
        finally:
            await self._pool._checkin(self._key, self._connection)
