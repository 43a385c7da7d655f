"""The webhook's POST answered in the HTTP protocol (wahost.webhook_protocol), on a real
uvicorn server on loopback with a real SQLite file, spoken to over raw sockets: the HTTP
behaviour a server owes its clients, which the ASGI path gets from uvicorn."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from wahost import Wahost
from wahost.server import run_http
from wahost.testing import TEST_APP_SECRET, TEST_VERIFY_TOKEN, load_fixture, sign
from wahost.testing.harness import make_config
from wahost.units import Unit
from wahost.webhook import Ingress
from wahost.webhook_protocol import protocol_class


def webhook(n: int) -> bytes:
    """A signed-able text webhook with a distinct wamid."""
    envelope = json.loads(load_fixture("inbound_text.json"))
    envelope["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.protocol-{n}"
    return json.dumps(envelope).encode()


def post(body: bytes, *, extra: bytes = b"", signature: str | None = None) -> bytes:
    signed = sign(body, TEST_APP_SECRET) if signature is None else signature
    return (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Hub-Signature-256: "
        + signed.encode()
        + b"\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class Response:
    def __init__(self, status: int, headers: dict[bytes, bytes], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


async def read_response(reader: asyncio.StreamReader) -> Response:
    """One HTTP/1.1 response: with a Content-Length, chunked, or with no body."""
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[bytes, bytes] = {}
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout=10)
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get(b"transfer-encoding") == b"chunked":
        while size := int(await asyncio.wait_for(reader.readline(), timeout=10), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    elif length := int(headers.get(b"content-length", b"0")):
        body = await asyncio.wait_for(reader.readexactly(length), timeout=10)
    return Response(int(status_line.split()[1]), headers, body)


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (EOF within a few seconds)."""
    try:
        return await asyncio.wait_for(reader.read(1), timeout=5) == b""
    except ConnectionResetError:
        return True


class Server:
    """A host served by uvicorn on a free loopback port, stopped by :meth:`stop`."""

    def __init__(self, host: Wahost, port: int, task: asyncio.Task[None], stop: asyncio.Event):
        self.host = host
        self.port = port
        self.task = task
        self._stop = stop

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

    async def start(fast_path: bool = True, **server: Any) -> Server:
        config = make_config(tmp_path, {"server": {"webhook_fast_path": fast_path, **server}})
        host = Wahost(config, load_entrypoints=False)
        await host.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_http(host.asgi(), "", 0, stop, sock=sock, fast_path=fast_path)
        )
        server_ = Server(host, sock.getsockname()[1], task, stop)
        servers.append(server_)
        for _ in range(200):
            try:
                _, writer = await server_.connect()
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            break
        return server_

    yield start
    for server_ in servers:
        if not server_.task.done():
            await server_.stop()
        await server_.host.stop()


class HeldQueue:
    """Holds the queue's enqueue until released: a webhook whose units are not durable yet."""

    def __init__(self, host: Wahost) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        queue = host.queue
        enqueue = queue.enqueue

        async def held(units: Sequence[Unit]) -> int:
            self.entered.set()
            await self.release.wait()
            return await enqueue(units)

        queue.enqueue = held  # type: ignore[method-assign]
        queue.enqueue_soon = lambda units: asyncio.ensure_future(held(units))  # type: ignore[method-assign]


# -- the fast path is the one answering -------------------------------------------------


def test_the_protocol_is_uvicorn_s_httptools_protocol_with_the_webhook_path(tmp_path: Path) -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    host = Wahost(make_config(tmp_path), load_entrypoints=False)
    cls = protocol_class(host.asgi())
    assert cls is not None and issubclass(cls, HttpToolsProtocol)


@pytest.mark.parametrize(("fast_path", "through_asgi"), [(True, 0), (False, 1)])
async def test_the_webhook_post_goes_through_asgi_only_without_the_fast_path(
    serve: Any, monkeypatch: pytest.MonkeyPatch, fast_path: bool, through_asgi: int
) -> None:
    server = await serve(fast_path=fast_path)
    calls: list[str] = []
    original = Ingress.post

    async def counting(self: Ingress, *args: Any) -> None:
        calls.append("asgi")
        await original(self, *args)

    monkeypatch.setattr(Ingress, "post", counting)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    response = await read_response(reader)
    writer.close()
    assert response.status == 200
    assert len(calls) == through_asgi
    assert await server.stored() == 1


def test_a_uvicorn_without_the_expected_internals_falls_back_to_asgi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    host = Wahost(make_config(tmp_path), load_entrypoints=False)
    with monkeypatch.context() as patch:
        patch.delattr(HttpToolsProtocol, "on_response_complete")
        assert protocol_class(host.asgi()) is None

    def on_message_begin(self: Any) -> None:  # a uvicorn that renamed ``self.url``
        self.target = b""
        self.headers = []

    with monkeypatch.context() as patch:
        patch.setattr(HttpToolsProtocol, "on_message_begin", on_message_begin)
        assert protocol_class(host.asgi()) is None
    assert protocol_class(host.asgi()) is not None


# -- answers -----------------------------------------------------------------------------


async def test_the_answer_is_plain_http_with_date_and_no_body(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    response = await read_response(reader)
    writer.close()
    assert response.status == 200
    assert response.body == b""
    assert response.headers[b"content-length"] == b"0"
    assert response.headers[b"content-type"].startswith(b"text/plain")
    assert b"GMT" in response.headers[b"date"]
    assert b"connection" not in response.headers


@pytest.mark.parametrize(
    ("signature", "status"),
    [(None, 200), ("sha256=" + "0" * 64, 403), ("sha256=zz", 403), ("md5=1", 403)],
)
async def test_signatures_are_checked_as_on_the_asgi_path(
    serve: Any, signature: str | None, status: int
) -> None:
    server = await serve()
    reader, writer = await server.connect()
    writer.write(post(webhook(1), signature=signature))
    response = await read_response(reader)
    writer.close()
    assert response.status == status
    assert await server.stored() == (1 if status == 200 else 0)


async def test_a_missing_signature_is_401(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    body = webhook(1)
    writer.write(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert (await read_response(reader)).status == 401
    writer.close()
    assert await server.stored() == 0


async def test_a_query_string_on_the_webhook_path_is_still_the_webhook(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    body = webhook(1)
    request = post(body).replace(b"POST /webhook ", b"POST /webhook?from=meta ", 1)
    writer.write(request)
    assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 1


# -- connections ---------------------------------------------------------------------------


async def test_keep_alive_serves_many_webhooks_on_one_connection(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    for n in range(20):
        writer.write(post(webhook(n)))
        assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 20


async def test_pipelined_requests_are_answered_in_order(serve: Any) -> None:
    """Webhooks, a health check and a verification GET sent in one write: every answer, in
    the order asked, whichever path (protocol or ASGI) serves each."""
    server = await serve()
    reader, writer = await server.connect()
    verify = (
        b"GET /webhook?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=77 "
        b"HTTP/1.1\r\nHost: x\r\n\r\n" % TEST_VERIFY_TOKEN.encode()
    )
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    wrong = post(webhook(99), signature="sha256=" + "0" * 64)
    writer.write(post(webhook(1)) + health + post(webhook(2)) + wrong + verify + post(webhook(3)))
    answers = [await read_response(reader) for _ in range(6)]
    writer.close()
    assert [(a.status, a.body) for a in answers] == [
        (200, b""),
        (200, b"ok"),
        (200, b""),
        (403, b""),
        (200, b"77"),
        (200, b""),
    ]
    assert await server.stored() == 3


async def test_a_chunked_body_is_read_whole(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    body = webhook(1)
    head = (
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"X-Hub-Signature-256: " + sign(body, TEST_APP_SECRET).encode() + b"\r\n\r\n"
    )
    writer.write(head)
    for start in range(0, len(body), 100):
        piece = body[start : start + 100]
        writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0)
    writer.write(b"0\r\n\r\n")
    assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 1


async def test_expect_100_continue_is_answered_before_the_body(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    body = webhook(1)
    request = post(body, extra=b"Expect: 100-continue\r\n")
    head, _, _ = request.partition(b"\r\n\r\n")
    writer.write(head + b"\r\n\r\n")
    interim = await read_response(reader)
    assert interim.status == 100
    writer.write(body)
    assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 1


@pytest.mark.parametrize(
    ("version", "extra"),
    [(b"HTTP/1.1", b"Connection: close\r\n"), (b"HTTP/1.0", b"")],
)
async def test_the_connection_is_closed_when_the_client_asks(
    serve: Any, version: bytes, extra: bytes
) -> None:
    server = await serve()
    reader, writer = await server.connect()
    writer.write(post(webhook(1), extra=extra).replace(b"HTTP/1.1", version, 1))
    response = await read_response(reader)
    assert response.status == 200
    assert response.headers[b"connection"] == b"close"
    assert await closed(reader)
    writer.close()


async def test_a_declared_body_over_the_limit_is_413_and_the_connection_closed(
    serve: Any,
) -> None:
    server = await serve(max_body_bytes=1000)
    reader, writer = await server.connect()
    body = webhook(1).ljust(2000)
    head, _, _ = post(body).partition(b"\r\n\r\n")
    writer.write(head + b"\r\n\r\n")  # the body is never sent: the answer must not wait for it
    response = await read_response(reader)
    assert response.status == 413
    assert response.headers[b"connection"] == b"close"
    assert await closed(reader)
    writer.close()
    assert await server.stored() == 0


async def test_a_chunked_body_over_the_limit_is_413_as_soon_as_it_passes(serve: Any) -> None:
    server = await serve(max_body_bytes=1000)
    reader, writer = await server.connect()
    writer.write(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    for _ in range(3):  # 1500 bytes, and the last chunk never comes
        writer.write(b"1f4\r\n" + b"x" * 500 + b"\r\n")
    response = await read_response(reader)
    assert response.status == 413
    assert await closed(reader)
    writer.close()
    assert await server.stored() == 0


async def test_a_malformed_request_is_400_and_closed(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n{}")
    response = await read_response(reader)
    assert response.status == 400
    assert await closed(reader)
    writer.close()
    assert await server.stored() == 0


async def test_a_failure_in_wahost_is_500_and_closed_never_a_hang(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await serve()

    def broken(self: Ingress, signature: bytes | None, body: bytes) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Ingress, "accept", broken)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    response = await read_response(reader)
    assert await closed(reader)
    writer.close()
    assert response.status == 500
    assert await server.stored() == 0


# -- answered only when durable ---------------------------------------------------------


async def test_nothing_is_answered_until_the_units_are_durable(serve: Any) -> None:
    server = await serve()
    held = HeldQueue(server.host)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    await asyncio.wait_for(held.entered.wait(), timeout=10)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readline(), timeout=0.3)
    held.release.set()
    assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 1


async def test_a_store_that_cannot_commit_is_503(serve: Any) -> None:
    server = await serve()
    queue = server.host.queue

    async def failing(units: Sequence[Unit]) -> int:
        raise OSError("disk I/O error")

    queue.enqueue = failing  # type: ignore[method-assign]
    queue.enqueue_soon = lambda units: asyncio.ensure_future(failing(units))  # type: ignore[method-assign]
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    response = await read_response(reader)
    assert response.status == 503
    # The connection stays usable: Meta's retry may come on it.
    del queue.enqueue, queue.enqueue_soon
    writer.write(post(webhook(1)))
    assert (await read_response(reader)).status == 200
    writer.close()
    assert await server.stored() == 1


async def test_a_client_gone_before_the_answer_loses_nothing(serve: Any) -> None:
    server = await serve()
    held = HeldQueue(server.host)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    await asyncio.wait_for(held.entered.wait(), timeout=10)
    writer.close()
    await asyncio.sleep(0.1)
    held.release.set()
    for _ in range(100):
        if await server.stored() == 1:
            break
        await asyncio.sleep(0.02)
    assert await server.stored() == 1
    # The server still serves others.
    reader, writer = await server.connect()
    writer.write(post(webhook(2)))
    assert (await read_response(reader)).status == 200
    writer.close()


async def test_a_graceful_stop_answers_the_webhook_in_flight_then_closes(serve: Any) -> None:
    server = await serve()
    held = HeldQueue(server.host)
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    await asyncio.wait_for(held.entered.wait(), timeout=10)
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()  # waits for the answer in flight
    held.release.set()
    response = await read_response(reader)
    assert response.status == 200
    assert response.headers[b"connection"] == b"close"
    assert await closed(reader)
    writer.close()
    await stopping
    assert await server.stored() == 1


async def test_an_idle_keep_alive_connection_is_closed_by_a_graceful_stop(serve: Any) -> None:
    server = await serve()
    reader, writer = await server.connect()
    writer.write(post(webhook(1)))
    assert (await read_response(reader)).status == 200
    await server.stop()
    assert await closed(reader)
    writer.close()
