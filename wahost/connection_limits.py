"""Bounds on the HTTP server's connections: how long a client may take to send a request, how
many connections are served at once, and the file descriptors they need.

A client that opens a connection and sends nothing, or sends its headers or body a byte at a
time, holds a connection, a file descriptor and memory for as long as it likes unless the
server cuts it; enough of them exhaust the process's descriptors, and then the event loop
refuses every new client, Meta included. uvicorn bounds none of this itself: its keep-alive
timer only runs between requests and any byte stops it, and its ``limit_concurrency``
answers 503 to requests on connections already admitted (every one of them once the count is
reached). So with uvicorn, :class:`ReadDeadlines` is mixed into its httptools protocol (the
webhook fast path's protocol too):

* a request's headers must arrive within ``header_timeout`` of its first byte, or of the
  connection's opening for its first request (a connection that sends nothing is closed then);
* its body within ``body_timeout`` of the end of its headers;
* time during which the server itself is not reading (a response in flight before a pipelined
  request, an ASGI app that has not asked for the body yet) is not the client's and does not
  count;
* past ``max_connections`` open connections a new one is answered 503 and closed at once:
  admitted connections, Meta's keep-alive ones among them, keep being served, and Meta retries
  whatever was refused.

uvicorn's own keep-alive timer still closes a connection idle between requests. One timer per
connection serves the deadlines; the timer, when it fires before the deadline in force (which
moved), sets itself again for it.

Hypercorn is configured with its own settings instead (see :func:`hypercorn_timeouts`).
:class:`DescriptorWatch` reports running out of file descriptors, which uvloop's accept
otherwise handles silently (libuv accepts and closes the connection), and
:func:`raise_fd_limit` lifts the soft limit to the hard one at start.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import structlog

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from wahost.config.schema import ServerConfig

    _Base = HttpToolsProtocol
else:
    _Base = object

log = structlog.get_logger("wahost.server")

#: What a limit's log line says, and its level.
_LIMITS: dict[str, tuple[str, str]] = {
    "idle": ("info", "connection closed: no request within server.header_timeout"),
    "header_timeout": ("warning", "request headers too slow: 408, connection closed"),
    "body_timeout": ("warning", "request body too slow: 408, connection closed"),
    "max_connections": ("warning", "server.max_connections reached: new connection refused"),
    "file_descriptors": (
        "error",
        "out of file descriptors: new connections are refused (raise LimitNOFILE, or lower "
        "server.max_connections)",
    ),
}
#: Descriptors kept for the process's other files (the store, the Graph API's connections,
#: logs) when checking ``max_connections`` against the descriptor limit.
FD_RESERVE = 64
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


class LimitLog:
    """Logs that a limit was hit, without letting a flood flood the log: the first hit of a
    limit at once, then at most one line per limit every ``interval`` seconds, which says how
    many hits it stands for (``count``) and the last client's address."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._logged: dict[str, float] = {}
        self._pending: dict[str, tuple[int, str | None]] = {}

    def hit(self, limit: str, client: str | None = None) -> None:
        """Record one hit of ``limit`` (a key of the module's table) by ``client``."""
        now = time.monotonic()
        last = self._logged.get(limit)
        if last is None or now - last >= self.interval:
            count = self._pending.pop(limit, (0, None))[0] + 1
            self._write(limit, count, client, now)
            return
        count, _ = self._pending.get(limit, (0, None))
        self._pending[limit] = (count + 1, client)
        if count == 0:  # the first one held back: report it even if no other hit follows
            loop = asyncio.get_running_loop()
            loop.call_later(last + self.interval - now, self._flush, limit)

    def _flush(self, limit: str) -> None:
        pending = self._pending.pop(limit, None)
        if pending is not None:
            self._write(limit, pending[0], pending[1], time.monotonic())

    def _write(self, limit: str, count: int, client: str | None, now: float) -> None:
        self._logged[limit] = now
        level, message = _LIMITS[limit]
        getattr(log, level)(message, limit=limit, count=count, client=client)


def _address(peer: tuple[str, int] | None) -> str | None:
    return f"{peer[0]}:{peer[1]}" if peer else None


# Where a connection is in reading a request: set by the parser's callbacks (and by the
# webhook fast path's own), bounded after each chunk of data.
READ_IDLE = 0  # no request being read: between requests, or nothing received yet
READ_HEADERS = 1
READ_BODY = 2


class ReadDeadlines(_Base):
    """Mixed into uvicorn's ``HttpToolsProtocol`` (before it in the bases): the deadlines and
    the connection cap described in the module. :func:`with_limits` sets the class attributes
    from the configuration.

    The parser's callbacks only record the phase; the deadline of a phase is set once a chunk
    of data ends part-way through it. A request that arrives whole in one chunk, as a webhook
    does, costs no clock read and no timer.
    """

    _header_timeout: ClassVar[float]
    _body_timeout: ClassVar[float]
    _max_connections: ClassVar[int]
    _limit_log: ClassVar[LimitLog]
    #: The next ``data_received`` in the class's bases (uvicorn's), bound by
    #: :func:`with_limits`: called on every chunk, where ``super()`` costs twice as much.
    _next_data_received: ClassVar[Callable[[Any, bytes], None]]

    # Slots: uvicorn's protocol already has about as many attributes as an instance
    # dictionary keeps compact; five more in it would slow every attribute access.
    __slots__ = (
        "_bounded_phase",
        "_read_deadline",
        "_read_phase",
        "_read_timer",
        "_read_timer_at",
    )
    _read_phase: int
    #: The phase that ``_read_deadline`` bounds (``READ_IDLE``: none).
    _bounded_phase: int
    _read_deadline: float | None
    _read_timer: asyncio.TimerHandle | None
    _read_timer_at: float

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_phase = self._bounded_phase = READ_IDLE
        self._read_deadline = self._read_timer = None
        self._read_timer_at = 0.0
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            self._limit_log.hit("max_connections", _address(self.client))
            # Answered before its request is read: most clients read it; some see a reset.
            self._write_error(b"503 Service Unavailable")
            self.transport.close()
            return
        # The first request's headers are due within the header timeout of the connection.
        self._bound(READ_HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Any byte begins a request for the clock, bare CRLFs too: they begin no message but
        # stop uvicorn's keep-alive timer. (A request begun in the chunk that ended the one
        # before it is bounded from its next bytes, or else by the keep-alive timeout.)
        if self._read_phase == READ_IDLE:
            self._read_phase = READ_HEADERS
        self._next_data_received(data)
        if self._read_phase != self._bounded_phase:
            self._bound(self._read_phase)

    def on_headers_complete(self) -> None:
        self._read_phase = READ_BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._read_phase = READ_IDLE
        super().on_message_complete()

    def _bound(self, phase: int) -> None:
        self._bounded_phase = phase
        if phase == READ_IDLE:
            self._read_deadline = None
        else:
            self._read_until(self._header_timeout if phase == READ_HEADERS else self._body_timeout)

    def _read_until(self, timeout: float) -> None:
        deadline = self.loop.time() + timeout
        self._read_deadline = deadline
        if self._read_timer is None or self._read_timer_at > deadline:
            if self._read_timer is not None:
                self._read_timer.cancel()
            self._read_timer_at = deadline
            self._read_timer = self.loop.call_at(deadline, self._read_timed_out)

    def _read_timed_out(self) -> None:
        self._read_timer = None
        deadline = self._read_deadline
        transport = self.transport
        if deadline is None or transport.is_closing() or transport.get_protocol() is not self:
            return  # nothing to bound, closed, or handed to another protocol (WebSocket)
        now = self.loop.time()
        if now < deadline:
            self._read_timer_at = deadline
            self._read_timer = self.loop.call_at(deadline, self._read_timed_out)
            return
        phase = self._read_phase
        cycle = self.cycle
        if self.flow.read_paused or getattr(cycle, "waiting_for_100_continue", False):
            # Not reading is the server's doing (a response in flight before this pipelined
            # request, an app that has not asked for the body): the client gets a new period.
            self._bound(self._bounded_phase)
            return
        client = _address(self.client)
        if phase == READ_IDLE:  # a new connection that sent nothing
            self._limit_log.hit("idle", client)
        elif phase == READ_HEADERS:
            self._limit_log.hit("header_timeout", client)
            if cycle is None or cycle.response_complete:  # no response pending before it
                self._write_error(b"408 Request Timeout")
        else:
            self._limit_log.hit("body_timeout", client)
            if cycle is not None and not (
                cycle.response_complete or getattr(cycle, "response_started", False)
            ):
                # Its app (if any) sees a disconnect and writes nothing after the 408.
                cycle.disconnected = True
                self._write_error(b"408 Request Timeout")
        transport.close()

    def _write_error(self, status: bytes) -> None:
        parts = [b"HTTP/1.1 ", status, b"\r\n"]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"content-length: 0\r\nconnection: close\r\n\r\n")
        self.transport.write(b"".join(parts))


#: What :class:`ReadDeadlines` reads of uvicorn: the attributes each method sets.
_USES: dict[str, dict[str, tuple[str, ...]]] = {
    "HttpToolsProtocol": {
        "__init__": ("loop", "connections", "server_state", "cycle"),
        "connection_made": ("transport", "flow", "client"),
    },
    "RequestResponseCycle": {
        "__init__": (
            "response_started",
            "response_complete",
            "disconnected",
            "waiting_for_100_continue",
        ),
    },
}
_OVERRIDES = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_headers_complete",
    "on_message_complete",
)


def uvicorn_fits() -> bool:
    """Whether the installed uvicorn has the httptools protocol that :class:`ReadDeadlines`
    extends, with the methods and attributes it uses."""
    try:
        from uvicorn.protocols.http import httptools_impl
    except ImportError:  # no httptools
        return False
    protocol = getattr(httptools_impl, "HttpToolsProtocol", None)
    if not all(callable(getattr(protocol, name, None)) for name in _OVERRIDES):
        return False
    for cls_name, methods in _USES.items():
        cls = getattr(httptools_impl, cls_name, None)
        for method, names in methods.items():
            code = getattr(getattr(cls, method, None), "__code__", None)
            if code is None or not set(names) <= set(code.co_names):
                return False
    return True


def with_limits(protocol: type[ReadDeadlines], config: ServerConfig, limits: LimitLog) -> type:
    """A subclass of ``protocol`` bound to ``config``'s timeouts and connection cap, logging
    to ``limits``."""
    return type(
        protocol.__name__,
        (protocol,),
        {
            "_next_data_received": super(ReadDeadlines, protocol).data_received,
            "_header_timeout": config.header_timeout,
            "_body_timeout": config.body_timeout,
            "_max_connections": config.max_connections,
            "_limit_log": limits,
        },
    )


def bounded_protocol() -> type[ReadDeadlines] | None:
    """uvicorn's httptools protocol with :class:`ReadDeadlines`, or ``None`` (with a warning)
    when the installed uvicorn does not allow it."""
    if not uvicorn_fits():
        log.warning(
            "server.header_timeout, body_timeout and max_connections are not enforced: "
            "uvicorn's httptools protocol is missing or not the expected one"
        )
        return None
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedProtocol(ReadDeadlines, HttpToolsProtocol):
        """uvicorn's protocol with the request deadlines and the connection cap."""

    return BoundedProtocol


def hypercorn_timeouts(config: ServerConfig) -> dict[str, Any]:
    """Hypercorn's own settings for ``config``. Hypercorn has one timer for a connection idle
    from its opening or its last response until a request's headers are in
    (``keep_alive_timeout``), so that bounds the headers too; and ``read_timeout`` bounds
    each wait for the client's next bytes, also between requests and while a response is
    computed, so it is no shorter than any of the three timeouts (shorter, it would cut idle
    keep-alive connections before proxies do, and slow responses). A body's total time and
    the number of connections are not bounded on Hypercorn."""
    longest = max(config.header_timeout, config.body_timeout, config.keep_alive_timeout)
    return {
        "keep_alive_timeout": config.keep_alive_timeout,
        "read_timeout": math.ceil(longest),
    }


_ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class DescriptorWatch:
    """Reports running out of file descriptors while the server runs. asyncio's accept calls
    the loop's exception handler on every failed attempt (taken here, so the log gets one line
    per interval instead of thousands); uvloop's (libuv's) accepts and closes the connection
    without a word, so a probe opens ``/dev/null`` every ``interval`` seconds."""

    def __init__(self, limits: LimitLog, interval: float = 1.0) -> None:
        self._limits = limits
        self._interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: _ExceptionHandler | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(self._exception)
        self._timer = loop.call_later(self._interval, self._probe)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None:
            self._loop.set_exception_handler(self._previous)
            self._loop = None

    def _exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_DESCRIPTORS:
            self._limits.hit("file_descriptors")
        elif self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def _probe(self) -> None:
        try:
            os.close(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                self._limits.hit("file_descriptors")
        if self._loop is not None:
            self._timer = self._loop.call_later(self._interval, self._probe)


class FdLimit(NamedTuple):
    """The limit on open files (``RLIMIT_NOFILE``): soft and hard, and the soft one found."""

    soft: int
    hard: int
    before: int


def raise_fd_limit() -> FdLimit | None:
    """Raise the soft limit on open files to the hard limit, where the system allows it; the
    limits in force, or ``None`` where there is no such limit (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    # An unlimited hard limit cannot be the soft one (Linux caps it at fs.nr_open, macOS at
    # OPEN_MAX): try the usual ceilings in turn.
    targets = [hard] if hard != infinity else [1_048_576, 65_536, 10_240]
    for target in targets:
        if before == infinity or before >= target:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        break
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return FdLimit(soft, hard, before)


def log_fd_limit(config: ServerConfig, limit: FdLimit | None) -> None:
    """Log the limit on open files in force, and warn when ``max_connections`` does not fit
    in it (the system would then refuse connections before wahost's cap does)."""
    if limit is None:
        return
    log.info("open files limit", soft=limit.soft, hard=limit.hard, soft_before=limit.before)
    if config.engine == "uvicorn" and config.max_connections + FD_RESERVE > limit.soft:
        log.warning(
            f"server.max_connections = {config.max_connections} does not fit in the open "
            f"files limit {limit.soft} (less {FD_RESERVE} for the store and the Graph API): "
            "raise LimitNOFILE or lower server.max_connections"
        )


__all__ = [
    "READ_BODY",
    "READ_HEADERS",
    "READ_IDLE",
    "DescriptorWatch",
    "FdLimit",
    "LimitLog",
    "ReadDeadlines",
    "bounded_protocol",
    "hypercorn_timeouts",
    "log_fd_limit",
    "raise_fd_limit",
    "uvicorn_fits",
    "with_limits",
]
