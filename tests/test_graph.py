"""The Graph API client against the fake Graph API over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost import outbound
from wahost.config import Config
from wahost.errors import (
    AuthError,
    CircuitOpenError,
    GraphError,
    InvalidParameterError,
    PairRateLimitError,
    RecipientNotAllowedError,
    ReengagementError,
    ServerError,
    SpamRateLimitError,
    TemporaryError,
    ThrottlingError,
    error_from_response,
)
from wahost.graph import GraphClient
from wahost.testing import TEST_TOKEN, make_config
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.harness import FIXTURES

USER = "16505551234"


def graph_config(tmp_path: Path, graph: FakeGraph, **options: Any) -> Config:
    settings = {"backoff_base": 0.01, "backoff_cap": 0.05, **options}
    return make_config(tmp_path, {"whatsapp": {"graph_url": graph.url}, "graph": settings})


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(token=TEST_TOKEN) as fake:
        yield fake


@pytest.fixture
async def client(tmp_path: Path, graph: FakeGraph) -> AsyncIterator[GraphClient]:
    client = GraphClient(graph_config(tmp_path, graph))
    yield client
    await client.aclose()


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "status", "family", "code"),
    [
        ("send_error_130429.json", 400, ThrottlingError, 130429),
        ("send_error_131056.json", 400, PairRateLimitError, 131056),
        ("send_error_131047.json", 400, ReengagementError, 131047),
        ("send_error_190.json", 401, AuthError, 190),
    ],
)
def test_error_fixtures_decode_to_their_family(
    fixture: str, status: int, family: type[GraphError], code: int
) -> None:
    body = (FIXTURES / fixture).read_bytes()
    error = error_from_response(status, body)
    assert type(error) is family
    assert error.code == code
    raw = json.loads(body)["error"]
    assert error.fbtrace_id == raw.get("fbtrace_id")
    assert error.subcode == raw.get("error_subcode")
    assert error.details == raw.get("error_data", {}).get("details")
    assert str(code) in str(error)


@pytest.mark.parametrize(
    ("code", "family", "retryable"),
    [
        (4, ThrottlingError, True),
        (80007, ThrottlingError, True),
        (130429, ThrottlingError, True),
        (131056, PairRateLimitError, True),
        (131048, SpamRateLimitError, False),
        (131047, ReengagementError, False),
        (190, AuthError, False),
        (10, AuthError, False),
        (100, InvalidParameterError, False),
        (131008, InvalidParameterError, False),
        (131009, InvalidParameterError, False),
        (1, TemporaryError, True),
        (2, TemporaryError, True),
        (131000, TemporaryError, True),
        (131016, TemporaryError, True),
        (131030, RecipientNotAllowedError, False),
        (999999, GraphError, False),
    ],
)
def test_every_family_is_decoded(code: int, family: type[GraphError], retryable: bool) -> None:
    body = json.dumps(
        {
            "error": {
                "message": "m",
                "type": "OAuthException",
                "code": code,
                "error_data": {"details": "d"},
                "fbtrace_id": "T",
            }
        }
    ).encode()
    error = error_from_response(400, body, {"retry-after": "7"})
    assert type(error) is family
    assert error.retryable is retryable
    assert (error.code, error.details, error.fbtrace_id, error.retry_after) == (code, "d", "T", 7.0)


def test_a_non_graph_5xx_is_a_retryable_server_error() -> None:
    error = error_from_response(502, b"<html>Bad gateway</html>")
    assert isinstance(error, ServerError) and error.retryable and error.code is None


# -- sending ----------------------------------------------------------------------------


async def test_send_returns_the_wamid_and_uses_the_bearer_header(
    client: GraphClient, graph: FakeGraph
) -> None:
    sent = await client.send(USER, text="hello")
    assert sent.id.startswith("wamid.")
    assert sent.wa_id == USER and sent.attempts == 1 and not sent.ambiguous
    [request] = graph.requests
    assert request.path == f"/v24.0/{client.phone_number_id}/messages"
    assert request.headers["authorization"] == f"Bearer {TEST_TOKEN}"
    assert TEST_TOKEN not in request.path + request.query
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": USER,
        "type": "text",
        "text": {"body": "hello", "preview_url": False},
    }


async def test_a_message_over_meta_s_limits_is_refused_before_any_request(
    client: GraphClient, graph: FakeGraph
) -> None:
    with pytest.raises(ValueError, match="4096"):
        await client.send(USER, outbound.Text(body="x" * 4097))
    assert graph.requests == []


async def test_retry_on_130429_then_success(client: GraphClient, graph: FakeGraph) -> None:
    graph.fail_next(1, code=130429)
    sent = await client.send(USER, text="retry me")
    assert sent.attempts == 2
    assert len(graph.sent) == 1
    assert client.stats["retries"] == 1


async def test_retry_after_is_honoured(client: GraphClient, graph: FakeGraph) -> None:
    graph.fail_next(1, code=130429, retry_after=0.4)
    await client.send(USER, text="later")
    first, second = graph.requests
    assert second.at - first.at >= 0.35  # waited for Retry-After, not the 10 ms backoff


async def test_no_retry_on_131047(client: GraphClient, graph: FakeGraph) -> None:
    graph.fail_next(1, code=131047)
    with pytest.raises(ReengagementError) as failed:
        await client.send(USER, text="too late")
    assert failed.value.code == 131047
    assert len(graph.requests) == 1


async def test_a_retryable_error_gives_up_after_max_retries(
    tmp_path: Path, graph: FakeGraph
) -> None:
    client = GraphClient(graph_config(tmp_path, graph, max_retries=2))
    graph.fail_next(5, code=131000)
    with pytest.raises(TemporaryError):
        await client.send(USER, text="x")
    assert len(graph.requests) == 3
    await client.aclose()


async def test_an_ambiguous_timeout_is_retried_and_recorded(
    client: GraphClient, graph: FakeGraph
) -> None:
    graph.fail_next(1, drop=True)  # Meta got the request; the connection died before the answer
    sent = await client.send(USER, text="did it arrive?")
    assert sent.ambiguous and sent.attempts == 2
    assert client.stats["ambiguous"] == 1
    assert len(graph.requests) == 2


async def test_131056_delays_only_that_recipient(tmp_path: Path, graph: FakeGraph) -> None:
    client = GraphClient(graph_config(tmp_path, graph, backoff_base=0.5, backoff_cap=0.5))
    graph.fail_next(1, code=131056, retry_after=0.5)
    slow = asyncio.create_task(client.send("111", text="to the busy user"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await client.send("222", text="to another user")
    assert time.monotonic() - started < 0.3  # not held up by user 111's pause
    assert not slow.done()
    await slow
    assert [m["to"] for m in graph.sent] == ["222", "111"]
    await client.aclose()


async def test_the_rate_limiter_holds_80_per_second_under_a_burst_of_240(
    tmp_path: Path,
) -> None:
    # Three seconds' worth: every one-second window of the arrivals is checked, and the first
    # 80 (the limiter's burst) leave 160 that must be spread over at least two seconds.
    async with FakeGraph(token=TEST_TOKEN, messages_per_second=80) as graph:
        client = GraphClient(graph_config(tmp_path, graph))
        started = time.monotonic()
        await asyncio.gather(*(client.send(f"1650555{i:04d}", text=str(i)) for i in range(240)))
        elapsed = time.monotonic() - started
        await client.aclose()
        arrivals = sorted(r.at for r in graph.requests)
        busiest = max(
            sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals)
        )
        assert len(graph.sent) == 240
        assert graph.throttled == 0
        assert busiest <= 80
        assert elapsed >= (240 - 80) / 80


async def test_recipient_spacing_spaces_sends_to_one_user(tmp_path: Path, graph: FakeGraph) -> None:
    client = GraphClient(graph_config(tmp_path, graph, recipient_interval=0.3))
    await asyncio.gather(*(client.send(USER, text=str(i)) for i in range(3)))
    times = sorted(r.at for r in graph.requests)
    # Spaced at the client; arrival times jitter by a few ms, so allow a margin.
    assert times[1] - times[0] >= 0.25 and times[2] - times[1] >= 0.25
    await client.aclose()


async def test_the_circuit_opens_after_repeated_server_errors(
    tmp_path: Path, graph: FakeGraph
) -> None:
    client = GraphClient(
        graph_config(tmp_path, graph, max_retries=0, breaker_failures=3, breaker_reset=0.3)
    )
    graph.fail_next(3, code=None, http_status=500)
    for _ in range(3):
        with pytest.raises(ServerError):
            await client.send(USER, text="x")
    assert client.breaker.is_open
    with pytest.raises(CircuitOpenError):
        await client.send(USER, text="x")
    assert len(graph.requests) == 3  # the open circuit sent nothing
    await asyncio.sleep(0.35)
    assert (await client.send(USER, text="recovered")).id  # half-open trial succeeds
    assert not client.breaker.is_open
    await client.aclose()


async def test_mark_read_and_typing(client: GraphClient, graph: FakeGraph) -> None:
    await client.mark_read("wamid.in1")
    await client.typing("wamid.in2")
    first, second = (r.json for r in graph.requests)
    assert first == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in1"}
    assert second["typing_indicator"] == {"type": "text"}
    assert graph.sent == []


async def test_a_tracker_travels_as_callback_data(client: GraphClient, graph: FakeGraph) -> None:
    sent = await client.send(USER, text="tracked", tracker="order-42")
    assert graph.sent[0]["biz_opaque_callback_data"] == "order-42"
    assert sent.callback_data == "order-42"
    with pytest.raises(ValueError, match="512"):
        await client.send(USER, text="x", tracker="y" * 513)


async def test_stream_sends_the_token_only_when_asked(
    client: GraphClient, graph: FakeGraph
) -> None:
    media_id = graph.add_media(b"\x89PNG data", "image/png")
    url = graph.media_url(media_id)
    response = await client.stream(url)
    assert await response.aread() == b"\x89PNG data"
    await response.aclose()
    with pytest.raises(GraphError):  # Meta's media URLs refuse requests without the token
        await client.stream(url, authenticated=False)
    assert "authorization" not in graph.requests[-1].headers


async def test_a_phone_number_id_that_would_leave_its_path_sends_nothing(tmp_path: Path) -> None:
    from wahost.graph_guard import InvalidGraphIdError

    async with FakeGraph() as graph:
        client = GraphClient(graph_config(tmp_path, graph))
        with pytest.raises(InvalidGraphIdError):
            await client.send("16505551234", "hi", phone_number_id="../../123/messages?x=")
        with pytest.raises(InvalidGraphIdError):
            await client.mark_read("wamid.x", phone_number_id="1/2")
        await client.aclose()
    assert graph.requests == []
