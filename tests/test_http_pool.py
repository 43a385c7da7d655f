"""The O(1) connection pool transport, against real servers on loopback."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from wahost.errors import TransportError
from wahost.graph import GraphClient
from wahost.http_pool import PoolTransport
from wahost.testing import TEST_TOKEN, make_config
from wahost.testing.fake_graph import FakeGraph

USER = "16505551234"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


def graph_client(tmp_path: Path, graph: FakeGraph, **options: Any) -> GraphClient:
    settings = {"backoff_base": 0.01, "backoff_cap": 0.05, **options}
    config = make_config(tmp_path, {"whatsapp": {"graph_url": graph.url}, "graph": settings})
    return GraphClient(config)


def http(transport: httpx.AsyncBaseTransport, **timeouts: float) -> httpx.AsyncClient:
    timeout = httpx.Timeout(5.0, **timeouts)
    return httpx.AsyncClient(transport=transport, headers=AUTH, timeout=timeout)


def send_body(text: str = "hi") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": text}}


async def answer_then_close(writer: asyncio.StreamWriter) -> None:
    """Answer keep-alive (no ``Connection: close``), then close the connection while idle."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()


async def answer_ok(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()


async def cut_body(writer: asyncio.StreamWriter) -> None:
    """Promise 10 bytes, send 3, close."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    await writer.drain()
    writer.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- reuse and bounds -------------------------------------------------------------------


async def test_graph_client_uses_the_pool_by_default(tmp_path: Path, graph: FakeGraph) -> None:
    client = graph_client(tmp_path, graph)
    try:
        assert isinstance(client._http._transport, PoolTransport)
        assert client._http._transport.max_connections == 100
    finally:
        await client.aclose()


async def test_sequential_sends_reuse_one_connection(tmp_path: Path, graph: FakeGraph) -> None:
    client = graph_client(tmp_path, graph)
    try:
        for i in range(20):
            await client.send(USER, text=f"m{i}")
    finally:
        await client.aclose()
    assert len(graph.sent) == 20
    assert graph.connections == 1


async def test_concurrent_sends_open_at_most_their_concurrency(
    tmp_path: Path, graph: FakeGraph
) -> None:
    client = graph_client(tmp_path, graph, messages_per_second=1e6)
    try:

        async def sender(worker: int) -> None:
            for i in range(10):
                await client.send(USER, text=f"{worker}-{i}")

        await asyncio.gather(*(sender(w) for w in range(20)))
    finally:
        await client.aclose()
    assert len(graph.sent) == 200
    assert graph.connections <= 20


async def test_the_third_request_waits_for_a_slot(graph: FakeGraph) -> None:
    pool = PoolTransport(max_connections=2)
    graph.delay_next(3, delay=0.4, path_contains=None)
    async with http(pool) as client:
        url = f"{graph.url}/v24.0/1/messages"
        tasks = [asyncio.create_task(client.post(url, json=send_body())) for _ in range(3)]
        await asyncio.sleep(0.2)
        assert len(graph.requests) == 2  # the third has not left
        responses = await asyncio.gather(*tasks)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert graph.connections == 2


async def test_waiting_longer_than_the_pool_timeout_raises_pool_timeout(
    graph: FakeGraph,
) -> None:
    pool = PoolTransport(max_connections=2)
    graph.delay_next(2, delay=0.5, path_contains=None)
    async with http(pool, pool=0.1) as client:
        url = f"{graph.url}/v24.0/1/messages"
        slow = [asyncio.create_task(client.post(url, json=send_body())) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.post(url, json=send_body())
        assert [r.status_code for r in await asyncio.gather(*slow)] == [200, 200]
        assert (await client.post(url, json=send_body())).status_code == 200  # no slot leaked


async def test_cancelled_requests_release_their_slots(graph: FakeGraph) -> None:
    pool = PoolTransport(max_connections=2)
    graph.delay_next(2, delay=5.0, path_contains=None)
    async with http(pool, pool=1.0) as client:
        url = f"{graph.url}/v24.0/1/messages"
        busy = [asyncio.create_task(client.post(url, json=send_body())) for _ in range(2)]
        waiting = asyncio.create_task(client.post(url, json=send_body()))
        while len(graph.requests) < 2:
            await asyncio.sleep(0.01)
        for task in [*busy, waiting]:
            task.cancel()
        await asyncio.gather(*busy, waiting, return_exceptions=True)
        assert pool.connections == 0  # cut mid-request: closed, not reused
        answers = await asyncio.gather(*(client.post(url, json=send_body()) for _ in range(2)))
    assert [r.status_code for r in answers] == [200, 200]


async def test_aclose_closes_every_connection(graph: FakeGraph) -> None:
    pool = PoolTransport(max_connections=4)
    client = http(pool)
    url = f"{graph.url}/v24.0/1/messages"
    await asyncio.gather(*(client.post(url, json=send_body()) for _ in range(3)))
    assert pool.idle_connections == pool.connections > 0
    await client.aclose()
    assert pool.connections == 0
    with pytest.raises(RuntimeError):
        await pool.handle_async_request(httpx.Request("GET", url))


# -- stale connections ------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_not_reused(raw_server: Any) -> None:
    async with raw_server(answer_then_close) as server:
        pool = PoolTransport()
        async with http(pool) as client:
            for _ in range(3):
                response = await client.get(server.url)
                assert response.text == "ok"
                await asyncio.sleep(0.2)  # the server closes it meanwhile
        assert server.connections == 3


async def test_idle_connections_expire(graph: FakeGraph) -> None:
    pool = PoolTransport(keepalive_expiry=0.5)
    async with http(pool) as client:
        url = f"{graph.url}/v24.0/1/messages"
        await asyncio.gather(*(client.post(url, json=send_body()) for _ in range(2)))
        assert (graph.connections, pool.idle_connections) == (2, 2)
        await asyncio.sleep(0.7)
        await client.post(url, json=send_body())  # both idle ones expired: a third
        assert (graph.connections, pool.connections) == (3, 1)
        await asyncio.gather(*(client.post(url, json=send_body()) for _ in range(2)))
        assert (graph.connections, pool.connections) == (4, 2)
        await asyncio.sleep(0.3)
        await client.post(url, json=send_body())  # reuses the newest
        await asyncio.sleep(0.3)
        await client.post(url, json=send_body())
        # Putting the newest back closed the other one, idle for 0.6 s.
        assert (graph.connections, pool.connections) == (4, 1)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_with_the_ssl_context_given(tmp_path: Path, raw_server: Any) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    san = "subjectAltName=IP:127.0.0.1"
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert), "-addext", san],
        check=True,
        capture_output=True,
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with raw_server(answer_ok, tls=served) as server:
        trusting = PoolTransport(ssl_context=ssl.create_default_context(cafile=cert))
        async with http(trusting) as client:
            for _ in range(3):
                response = await client.get(server.url)
                assert (response.text, response.http_version) == ("ok", "HTTP/1.1")
        assert server.connections == 1
        async with http(PoolTransport()) as client:  # certifi's roots: not this certificate
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(server.url)


async def test_plain_http_loads_no_ca_bundle(graph: FakeGraph) -> None:
    # The SSL context (certifi's roots) is made on the first https connection only.
    pool = PoolTransport()
    async with http(pool) as client:
        response = await client.post(f"{graph.url}/v24.0/1/messages", json=send_body())
        assert response.status_code == 200
    assert pool._ssl_context is None


# -- errors: the classes httpx's own transport raises -----------------------------------

TRANSPORTS = [
    pytest.param(lambda: PoolTransport(), id="pool"),
    pytest.param(lambda: httpx.AsyncHTTPTransport(), id="httpx"),
]


@pytest.mark.parametrize("make", TRANSPORTS)
async def test_a_closed_port_is_a_connect_error(make: Callable[[], Any]) -> None:
    async with http(make()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port()}/")


@pytest.mark.parametrize("make", TRANSPORTS)
async def test_a_dropped_connection_is_a_remote_protocol_error(
    make: Callable[[], Any], graph: FakeGraph
) -> None:
    graph.fail_next(drop=True, path_contains=None)
    async with http(make()) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.post(f"{graph.url}/v24.0/1/messages", json=send_body())
        assert (await client.post(f"{graph.url}/v24.0/1/messages", json=send_body())).is_success


@pytest.mark.parametrize("make", TRANSPORTS)
async def test_a_slow_answer_is_a_read_timeout(make: Callable[[], Any], graph: FakeGraph) -> None:
    graph.delay_next(1, delay=0.5, path_contains=None)
    async with http(make(), read=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{graph.url}/v24.0/1/messages", json=send_body())


@pytest.mark.parametrize("make", TRANSPORTS)
async def test_a_body_cut_short_is_a_remote_protocol_error(
    make: Callable[[], Any], raw_server: Any
) -> None:
    async with raw_server(cut_body) as server, http(make()) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


@pytest.mark.parametrize("make", TRANSPORTS)
async def test_an_unsupported_scheme(make: Callable[[], Any]) -> None:
    async with http(make()) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1/")


async def test_graph_client_tells_not_sent_from_ambiguous(tmp_path: Path, graph: FakeGraph) -> None:
    client = graph_client(tmp_path, graph, max_retries=0)
    try:
        graph.fail_next(drop=True)
        with pytest.raises(TransportError) as dropped:
            await client.send(USER, text="maybe")
        assert dropped.value.ambiguous
        client._http.base_url = httpx.URL(f"http://127.0.0.1:{closed_port()}/v24.0")
        with pytest.raises(TransportError) as refused:
            await client.send(USER, text="never")
        assert not refused.value.ambiguous
    finally:
        await client.aclose()


# -- streaming --------------------------------------------------------------------------


async def test_a_streamed_media_download(tmp_path: Path, graph: FakeGraph) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: several reads
    media_id = graph.add_media(data, "image/png")
    client = graph_client(tmp_path, graph)
    try:
        response = await client.stream(graph.media_url(media_id))
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-type"].startswith("image/png")
        chunks = [chunk async for chunk in response.aiter_bytes()]
        await response.aclose()
        assert b"".join(chunks) == data
        response = await client.stream(graph.media_url(media_id))
        assert len(await response.aread()) == len(data)
        await response.aclose()
        assert graph.connections == 1  # read to the end: reused

        response = await client.stream(graph.media_url(media_id))
        async for _ in response.aiter_bytes():
            break
        await response.aclose()  # not read to the end: the connection is closed
        response = await client.stream(graph.media_url(media_id))
        await response.aread()
        await response.aclose()
        assert graph.connections == 2
    finally:
        await client.aclose()
