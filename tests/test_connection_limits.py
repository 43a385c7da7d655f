"""Slow and idle connections are cut, connections are capped, running out of file descriptors
is logged (wahost.connection_limits): a real server on loopback spoken to over raw sockets,
on the webhook fast path and on the ASGI path (and Hypercorn as far as it allows), with short
timeouts from the configuration; and real ``wahost serve`` processes for the descriptor
limits."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from wahost import Wahost
from wahost.config import config_to_toml
from wahost.connection_limits import LimitLog
from wahost.server import run_http
from wahost.testing import (
    TEST_APP_SECRET,
    TEST_PHONE_NUMBER_ID,
    TEST_TOKEN,
    TEST_VERIFY_TOKEN,
    load_fixture,
    sign,
)
from wahost.testing.harness import make_config
from wahost.units import Unit

PATHS = pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "asgi"])


def webhook(n: int) -> bytes:
    envelope = json.loads(load_fixture("inbound_text.json"))
    envelope["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.limits-{n}"
    return json.dumps(envelope).encode()


def head(body: bytes) -> bytes:
    """A webhook POST's request line and headers for ``body``."""
    return (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Hub-Signature-256: " + sign(body, TEST_APP_SECRET).encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )


def post(body: bytes) -> bytes:
    return head(body) + body


async def status_of(reader: asyncio.StreamReader) -> int:
    """The status of the next response, read whole (with a length, chunked, or none)."""
    line = await asyncio.wait_for(reader.readline(), timeout=10)
    assert line.startswith(b"HTTP/1.1 "), line
    headers = {}
    while (header := await asyncio.wait_for(reader.readline(), timeout=10)) not in (b"\r\n", b""):
        name, _, value = header.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding") == b"chunked":
        while size := int(await asyncio.wait_for(reader.readline(), timeout=10), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length := int(headers.get(b"content-length", b"0")):
        await asyncio.wait_for(reader.readexactly(length), timeout=10)
    return int(line.split()[1])


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (anything it sends before
    is read and dropped)."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if await asyncio.wait_for(reader.read(4096), timeout=left) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


async def trickle(writer: asyncio.StreamWriter, data: bytes, pause: float) -> bool:
    """Send ``data`` a byte at a time; ``False`` as soon as the server has closed."""
    for byte in data:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except (ConnectionError, OSError):
            return False
        await asyncio.sleep(pause)
    return True


class Server:
    def __init__(self, host: Wahost, port: int, task: asyncio.Task[None], stop: asyncio.Event):
        self.host, self.port, self.task, self._stop = host, port, task, stop

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def stored(self) -> int:
        return (await self.host.queue.stats()).dedupe_keys

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self.task, timeout=20)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(fast_path: bool = True, engine: str = "uvicorn", **server: Any) -> Server:
        config = make_config(
            tmp_path, {"server": {"webhook_fast_path": fast_path, "engine": engine, **server}}
        )
        host = Wahost(config, load_entrypoints=False)
        await host.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_http(
                host.asgi(),
                "",
                0,
                stop,
                sock=sock,
                engine=engine,
                fast_path=fast_path,
                config=config.server,
            )
        )
        started = Server(host, sock.getsockname()[1], task, stop)
        servers.append(started)
        # Ready when it answers (a bare connect would be an idle connection to the server).
        for _ in range(200):
            try:
                reader, writer = await started.connect()
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                ready = await status_of(reader) == 200
                writer.close()
                if ready:
                    break
            except (OSError, AssertionError):
                await asyncio.sleep(0.02)
        return started

    yield start
    for started in servers:
        if not started.task.done():
            await started.stop()
        await started.host.stop()


def limit_lines(logs: list[dict[str, Any]], limit: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry.get("limit") == limit]


# -- the time to send a request ---------------------------------------------------------


@PATHS
async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    serve: Any, fast_path: bool
) -> None:
    server = await serve(fast_path, header_timeout=0.5)
    with capture_logs() as logs:
        reader, writer = await server.connect()
        started = time.monotonic()
        assert await closed_within(reader, 5)
        took = time.monotonic() - started
        writer.close()
    assert 0.4 < took < 3
    assert [line["count"] for line in limit_lines(logs, "idle")] == [1]


@PATHS
async def test_trickled_headers_are_cut_with_408_while_others_are_served(
    serve: Any, fast_path: bool
) -> None:
    server = await serve(fast_path, header_timeout=1.0)
    body = webhook(1)
    with capture_logs() as logs:
        slow = [await server.connect() for _ in range(5)]
        started = time.monotonic()
        trickles = [asyncio.create_task(trickle(w, head(body), 0.1)) for _, w in slow]
        # Meanwhile a normal client is served at once, on a new connection and on the same.
        reader, writer = await server.connect()
        for n in range(10):
            writer.write(post(webhook(100 + n)))
            assert await status_of(reader) == 200
        assert time.monotonic() - started < 1
        for reader_, _ in slow:
            assert await status_of(reader_) == 408
            assert await closed_within(reader_, 2)
        took = time.monotonic() - started
        assert not any(await asyncio.gather(*trickles))  # cut before the headers were all sent
        writer.close()
    assert 0.9 < took < 4
    assert await server.stored() == 10
    # One line: the four others are held back by the rate limit.
    assert [line["count"] for line in limit_lines(logs, "header_timeout")] == [1]


@PATHS
async def test_a_trickled_body_is_cut_with_408(serve: Any, fast_path: bool) -> None:
    server = await serve(fast_path, body_timeout=1.0)
    body = webhook(1)
    with capture_logs() as logs:
        reader, writer = await server.connect()
        writer.write(head(body))
        started = time.monotonic()
        sending = asyncio.create_task(trickle(writer, body, 0.05))
        assert await status_of(reader) == 408
        assert await closed_within(reader, 2)
        took = time.monotonic() - started
        assert not await sending
        writer.close()
    assert 0.9 < took < 3
    assert await server.stored() == 0
    assert [line["count"] for line in limit_lines(logs, "body_timeout")] == [1]


@PATHS
async def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    serve: Any, fast_path: bool
) -> None:
    server = await serve(fast_path, keep_alive_timeout=1.0, header_timeout=30.0)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    assert await status_of(reader) == 200
    started = time.monotonic()
    assert await closed_within(reader, 5)
    assert 0.9 < time.monotonic() - started < 3
    writer.close()


@PATHS
async def test_bytes_that_begin_no_request_do_not_hold_a_connection_open(
    serve: Any, fast_path: bool
) -> None:
    """A bare CRLF after a response begins no request but stopped uvicorn's keep-alive timer:
    the connection then had no timer at all."""
    server = await serve(fast_path, header_timeout=1.0)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    assert await status_of(reader) == 200
    writer.write(b"\r\n")
    started = time.monotonic()
    assert await closed_within(reader, 5)
    assert time.monotonic() - started < 3
    writer.close()


async def test_time_the_server_is_not_reading_is_not_the_client_s(serve: Any) -> None:
    """A webhook waits for its units to be durable (reading paused) with a pipelined one
    behind it whose body is still coming: the second gets its whole body time once the
    server reads again, and both are answered in order."""
    server = await serve(body_timeout=0.5, header_timeout=0.5)
    entered, release = asyncio.Event(), asyncio.Event()
    queue = server.host.queue
    enqueue = queue.enqueue

    async def held(units: Sequence[Unit]) -> int:
        entered.set()
        await release.wait()
        return await enqueue(units)

    queue.enqueue = held  # type: ignore[method-assign]
    queue.enqueue_soon = lambda units: asyncio.ensure_future(held(units))  # type: ignore[method-assign]
    first, second = webhook(1), webhook(2)
    reader, writer = await server.connect()
    writer.write(post(first) + head(second) + second[:10])
    await asyncio.wait_for(entered.wait(), timeout=5)
    await asyncio.sleep(1.5)  # three body timeouts while the server holds the first
    writer.write(second[10:])
    await asyncio.sleep(0.1)
    release.set()
    assert await status_of(reader) == 200
    assert await status_of(reader) == 200
    writer.close()
    assert await server.stored() == 2


# -- the connection cap -------------------------------------------------------------------


@PATHS
async def test_past_max_connections_a_new_connection_gets_503_and_open_ones_are_served(
    serve: Any, fast_path: bool
) -> None:
    server = await serve(fast_path, max_connections=4, header_timeout=30.0)
    with capture_logs() as logs:
        admitted = [await server.connect() for _ in range(4)]
        refused = []
        for _ in range(3):
            reader, writer = await server.connect()
            refused.append(writer)
            assert await status_of(reader) == 503
            assert await closed_within(reader, 2)
        # Those already open (Meta's keep-alive connections) are still served.
        for n, (reader, writer) in enumerate(admitted):
            writer.write(post(webhook(n)))
            assert await status_of(reader) == 200
        for writer in refused:
            writer.close()
        # One closed, one new one is admitted again.
        admitted.pop()[1].close()
        await asyncio.sleep(0.2)
        reader, writer = await server.connect()
        writer.write(post(webhook(9)))
        assert await status_of(reader) == 200
        writer.close()
        for _, writer in admitted:
            writer.close()
    assert await server.stored() == 5
    lines = limit_lines(logs, "max_connections")
    assert lines[0]["count"] == 1 and lines[0]["client"].startswith("127.0.0.1:")
    assert len(lines) == 1  # the other two are held back by the rate limit


async def test_the_limit_log_writes_one_line_per_interval_with_the_count() -> None:
    limits = LimitLog(interval=0.5)
    with capture_logs() as logs:
        for n in range(1000):
            limits.hit("max_connections", f"10.0.0.{n % 250}:1")
        limits.hit("body_timeout", "10.0.0.9:1")
        assert [(line["limit"], line["count"]) for line in logs] == [
            ("max_connections", 1),
            ("body_timeout", 1),
        ]
        await asyncio.sleep(0.7)  # the held-back hits are reported without a further one
    assert [(line["limit"], line["count"]) for line in logs[2:]] == [("max_connections", 999)]
    assert logs[2]["client"] == "10.0.0.249:1" and logs[2]["log_level"] == "warning"


def test_a_uvicorn_without_the_expected_internals_serves_unbounded_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

    from wahost.connection_limits import bounded_protocol
    from wahost.webhook_protocol import protocol_class

    host = Wahost(make_config(tmp_path), load_entrypoints=False)
    assert bounded_protocol() is not None and protocol_class(host.asgi()) is not None

    def renamed(self: Any, *args: Any, **kwargs: Any) -> None:  # a cycle without the names
        self.started = self.complete = False

    with monkeypatch.context() as patch, capture_logs() as logs:
        patch.setattr(RequestResponseCycle, "__init__", renamed)
        assert bounded_protocol() is None
        assert protocol_class(host.asgi()) is None
    assert "not enforced" in logs[0]["event"]
    with monkeypatch.context() as patch:
        patch.delattr(HttpToolsProtocol, "on_message_complete")
        assert bounded_protocol() is None


# -- Hypercorn, with its own settings -----------------------------------------------------


async def test_hypercorn_closes_a_silent_connection_after_the_keep_alive_timeout(
    serve: Any,
) -> None:
    server = await serve(engine="hypercorn", keep_alive_timeout=1.0)
    reader, writer = await server.connect()
    started = time.monotonic()
    assert await closed_within(reader, 5)
    assert 0.9 < time.monotonic() - started < 3
    writer.close()


# -- file descriptors: real ``wahost serve`` processes ---------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """``wahost serve`` in a subprocess whose open files limit is set before it starts."""

    def __init__(self, tmp: Path, nofile: tuple[int, int], *, loop: str = "uvloop") -> None:
        self.port = _free_port()
        config = {
            "whatsapp": {
                "phone_number_id": TEST_PHONE_NUMBER_ID,
                "token": TEST_TOKEN,
                "app_secret": TEST_APP_SECRET,
                "verify_token": TEST_VERIFY_TOKEN,
            },
            "server": {"port": self.port, "header_timeout": 30.0},
            "queue": {"path": str(tmp / "wahost.db")},
            "worker": {"enabled": False},
            "logging": {"format": "json"},
        }
        path = tmp / "wahost.toml"
        path.write_text(config_to_toml(config))
        # The CLI runs on uvloop; the same server on asyncio's own loop for the other case.
        command = (
            [sys.executable, "-m", "wahost.cli", "serve", "--config", str(path)]
            if loop == "uvloop"
            else [sys.executable, "-c", _ON_ASYNCIO, str(path)]
        )
        self.log = tmp / "server.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile),
            )

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                found.append({"event": line})
        return found

    def wait_for(self, event: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("event", "").startswith(event):
                    return line
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} in:\n{self.log.read_text()}")

    def soft_limit(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise AssertionError("no open files limit")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_ON_ASYNCIO = """
import asyncio, sys
from pathlib import Path
from wahost.config import load_config
from wahost.host import Wahost
from wahost.logs import configure_logging
from wahost.server import serve
config = load_config(Path(sys.argv[1]))
configure_logging(level="info", format="json", secrets=config.secrets())
asyncio.run(serve(Wahost(config), with_worker=False))
"""


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(nofile: tuple[int, int], **kwargs: Any) -> Process:
        started.append(Process(tmp_path, nofile, **kwargs))
        return started[-1]

    yield start
    for each in started:
        each.stop()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc")
def test_the_soft_open_files_limit_is_raised_to_the_hard_one_and_logged(process: Any) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("needs a finite hard limit above 256")
    server = process((256, hard))
    line = server.wait_for("open files limit")
    server.wait_for("listening")
    assert (line["soft"], line["hard"], line["soft_before"]) == (hard, hard, 256)
    assert server.soft_limit() == hard


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_running_out_of_file_descriptors_is_logged_once_per_interval(
    process: Any, loop: str
) -> None:
    """With the limit too low for max_connections (warned at start), clients past the limit
    are refused by the loop's accept; the log says so, without a line per refusal."""
    limit = 64
    server = process((limit, limit), loop=loop)
    assert "does not fit" in server.wait_for("server.max_connections")["event"]
    server.wait_for("Uvicorn running")
    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=2)]
    for _ in range(limit + 20):
        try:
            clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
        except OSError:
            break
    try:
        line = server.wait_for("out of file descriptors", timeout=10)
        assert line["limit"] == "file_descriptors" and line["level"] == "error"
        time.sleep(2)
        lines = server.lines()
        assert len([x for x in lines if x.get("limit") == "file_descriptors"]) == 1
        # asyncio's own line per failed accept is not written either.
        assert not [x for x in lines if "out of system resource" in json.dumps(x)]
    finally:
        for client in clients:
            client.close()
