"""The Graph API's JSON POSTs over :class:`wahost.post_pool.PostPool`, against real servers on
loopback: reuse and bounds, stale connections, TLS, and the httpx exceptions that tell a send
that cannot have reached Meta from one that may have."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from wahost.graph import GraphClient
from wahost.post_pool import PostPool
from wahost.testing import TEST_TOKEN, make_config
from wahost.testing.fake_graph import FakeGraph

USER = "16505551234"
BODY = json.dumps(
    {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}}
).encode()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


def pool(**options: Any) -> PostPool:
    timeouts = {"read": 5.0, "pool": 5.0, **options.pop("timeouts", {})}
    return PostPool(
        headers={"Authorization": f"Bearer {TEST_TOKEN}", "Content-Type": "application/json"},
        timeout=httpx.Timeout(5.0, **timeouts),
        **options,
    )


def url(graph: FakeGraph | str) -> httpx.URL:
    return httpx.URL(f"{graph if isinstance(graph, str) else graph.url}/v24.0")


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def answer_ok(writer: asyncio.StreamWriter) -> None:
    writer.write(OK)
    await writer.drain()


async def answer_then_close(writer: asyncio.StreamWriter) -> None:
    """Answer keep-alive, then close the connection while it is idle."""
    writer.write(OK)
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()


async def answer_connection_close(writer: asyncio.StreamWriter) -> None:
    writer.write(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    await writer.drain()
    writer.close()


async def answer_chunked(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
    )
    await writer.drain()


async def cut_body(writer: asyncio.StreamWriter) -> None:
    """Promise 10 bytes, send 3, close."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    await writer.drain()
    writer.close()


async def garbage(writer: asyncio.StreamWriter) -> None:
    writer.write(b"SMTP ready\r\n\r\n")
    await writer.drain()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the request on the wire ------------------------------------------------------------


async def test_the_request_carries_the_headers_the_path_and_the_body(raw_server: Any) -> None:
    async with raw_server(answer_ok) as server:
        posts = pool()
        answer = await posts.post(url(server.url), "/106540352242922/messages", BODY)
        await posts.aclose()
    assert (answer.status_code, answer.content) == (200, b"{}")
    assert answer.headers["content-type"] == "application/json"
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v24.0/106540352242922/messages HTTP/1.1"
    port = server.url.rsplit(":", 1)[1]
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert f"Authorization: Bearer {TEST_TOKEN}".encode() in lines
    assert b"Content-Type: application/json" in lines
    assert f"Content-Length: {len(BODY)}".encode() in lines
    assert body == BODY


async def test_a_chunked_answer_is_read_whole(raw_server: Any) -> None:
    async with raw_server(answer_chunked) as server:
        posts = pool()
        answer = await posts.post(url(server.url), "/1/messages", BODY)
        again = await posts.post(url(server.url), "/1/messages", BODY)
        await posts.aclose()
    assert answer.content == again.content == b'{"a":1}'
    assert server.connections == 1


async def test_graph_client_sends_through_the_post_pool(tmp_path: Path, graph: FakeGraph) -> None:
    config = make_config(tmp_path, {"whatsapp": {"graph_url": graph.url}})
    client = GraphClient(config)
    try:
        assert isinstance(client._posts, PostPool)
        assert client._posts.max_connections == 100
        sent = await client.send(USER, text="hello")
        await client.mark_read(sent.id)
        assert client._posts.connections == 1
        assert client._http._transport.connections == 0  # type: ignore[attr-defined]
    finally:
        await client.aclose()
    assert [m.get("text", {}).get("body") for m in graph.sent][:1] == ["hello"]
    assert graph.requests[0].headers["authorization"] == f"Bearer {TEST_TOKEN}"


async def test_a_proxy_in_the_environment_keeps_sends_on_httpx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    config = make_config(tmp_path, {"whatsapp": {"graph_url": "https://graph.facebook.com"}})
    client = GraphClient(config)
    assert client._posts is None
    await client.aclose()
    monkeypatch.setenv("NO_PROXY", "graph.facebook.com")
    client = GraphClient(config)
    assert client._posts is not None
    await client.aclose()


# -- reuse and bounds -------------------------------------------------------------------


async def test_sequential_posts_reuse_one_connection(graph: FakeGraph) -> None:
    posts = pool()
    for _ in range(20):
        assert (await posts.post(url(graph), "/1/messages", BODY)).status_code == 200
    await posts.aclose()
    assert (len(graph.sent), graph.connections) == (20, 1)


async def test_the_third_post_waits_for_a_slot(graph: FakeGraph) -> None:
    posts = pool(max_connections=2)
    graph.delay_next(3, delay=0.4, path_contains=None)
    tasks = [asyncio.create_task(posts.post(url(graph), "/1/messages", BODY)) for _ in range(3)]
    await asyncio.sleep(0.2)
    assert len(graph.requests) == 2  # the third has not left
    answers = await asyncio.gather(*tasks)
    await posts.aclose()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert graph.connections == 2


async def test_waiting_longer_than_the_pool_timeout_raises_pool_timeout(graph: FakeGraph) -> None:
    posts = pool(max_connections=2, timeouts={"pool": 0.1})
    graph.delay_next(2, delay=0.5, path_contains=None)
    slow = [asyncio.create_task(posts.post(url(graph), "/1/messages", BODY)) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(httpx.PoolTimeout):
        await posts.post(url(graph), "/1/messages", BODY)
    assert [a.status_code for a in await asyncio.gather(*slow)] == [200, 200]
    assert (await posts.post(url(graph), "/1/messages", BODY)).status_code == 200  # no leak
    await posts.aclose()


async def test_cancelled_posts_release_their_slots_and_close_their_connections(
    graph: FakeGraph,
) -> None:
    posts = pool(max_connections=2, timeouts={"pool": 1.0})
    graph.delay_next(2, delay=5.0, path_contains=None)
    busy = [asyncio.create_task(posts.post(url(graph), "/1/messages", BODY)) for _ in range(2)]
    waiting = asyncio.create_task(posts.post(url(graph), "/1/messages", BODY))
    while len(graph.requests) < 2:
        await asyncio.sleep(0.01)
    for task in [*busy, waiting]:
        task.cancel()
    await asyncio.gather(*busy, waiting, return_exceptions=True)
    assert posts.connections == 0  # cut mid-request: closed, not reused
    answers = await asyncio.gather(*(posts.post(url(graph), "/1/messages", BODY) for _ in range(2)))
    await posts.aclose()
    assert [a.status_code for a in answers] == [200, 200]


async def test_aclose_closes_every_connection(graph: FakeGraph) -> None:
    posts = pool(max_connections=4)
    await asyncio.gather(*(posts.post(url(graph), "/1/messages", BODY) for _ in range(3)))
    assert posts.connections > 0
    await posts.aclose()
    assert posts.connections == 0
    with pytest.raises(RuntimeError):
        await posts.post(url(graph), "/1/messages", BODY)


# -- stale connections ------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_not_reused(raw_server: Any) -> None:
    async with raw_server(answer_then_close) as server:
        posts = pool()
        for _ in range(3):
            assert (await posts.post(url(server.url), "/1/messages", BODY)).content == b"{}"
            await asyncio.sleep(0.2)  # the server closes it meanwhile
        await posts.aclose()
    assert server.connections == 3


async def test_connection_close_in_the_answer_is_honoured(raw_server: Any) -> None:
    async with raw_server(answer_connection_close) as server:
        posts = pool()
        for _ in range(2):
            assert (await posts.post(url(server.url), "/1/messages", BODY)).status_code == 200
        assert posts.connections == 0
        await posts.aclose()
    assert server.connections == 2


async def test_idle_connections_expire(graph: FakeGraph) -> None:
    posts = pool(keepalive_expiry=0.5)
    await asyncio.gather(*(posts.post(url(graph), "/1/messages", BODY) for _ in range(2)))
    assert (graph.connections, posts.connections) == (2, 2)
    await asyncio.sleep(0.7)
    await posts.post(url(graph), "/1/messages", BODY)  # both idle ones expired: a third
    assert (graph.connections, posts.connections) == (3, 1)
    await posts.aclose()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_verifies_the_server(tmp_path: Path, raw_server: Any) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    subprocess.run(
        [
            *command.split(),
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with raw_server(answer_ok, tls=served) as server:
        trusting = pool(ssl_context=ssl.create_default_context(cafile=cert))
        for _ in range(3):
            assert (await trusting.post(url(server.url), "/1/messages", BODY)).content == b"{}"
        await trusting.aclose()
        assert server.connections == 1
        default = pool()  # certifi's roots: not this certificate
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await default.post(url(server.url), "/1/messages", BODY)
        await default.aclose()


# -- errors: the classes httpx raises, so that a send is known sent, not sent or ambiguous --


async def test_a_closed_port_is_a_connect_error() -> None:
    posts = pool()
    with pytest.raises(httpx.ConnectError):
        await posts.post(url(f"http://127.0.0.1:{closed_port()}"), "/1/messages", BODY)
    await posts.aclose()


async def test_a_dropped_connection_is_a_remote_protocol_error(graph: FakeGraph) -> None:
    graph.fail_next(drop=True, path_contains=None)
    posts = pool()
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await posts.post(url(graph), "/1/messages", BODY)
    assert (await posts.post(url(graph), "/1/messages", BODY)).status_code == 200
    await posts.aclose()


async def test_a_slow_answer_is_a_read_timeout(graph: FakeGraph) -> None:
    graph.delay_next(1, delay=0.5, path_contains=None)
    posts = pool(timeouts={"read": 0.1})
    with pytest.raises(httpx.ReadTimeout):
        await posts.post(url(graph), "/1/messages", BODY)
    await posts.aclose()


@pytest.mark.parametrize("answer", [cut_body, garbage], ids=["cut-short", "not-http"])
async def test_a_broken_answer_is_a_remote_protocol_error(
    answer: Callable[[asyncio.StreamWriter], Awaitable[None]],
    raw_server: Any,
) -> None:
    async with raw_server(answer) as server:
        posts = pool()
        with pytest.raises(httpx.RemoteProtocolError):
            await posts.post(url(server.url), "/1/messages", BODY)
        await posts.aclose()


async def test_an_unsupported_scheme() -> None:
    posts = pool()
    with pytest.raises(httpx.UnsupportedProtocol):
        await posts.post(httpx.URL("ftp://127.0.0.1/v24.0"), "/1/messages", BODY)
    await posts.aclose()


def test_a_header_with_a_line_break_is_refused() -> None:
    """A token pasted with its newline would otherwise end the header early and smuggle the
    rest into the request."""
    with pytest.raises(ValueError, match="Authorization"):
        PostPool(headers={"Authorization": "Bearer abc\r\nX-Evil: 1"}, timeout=httpx.Timeout(5))
