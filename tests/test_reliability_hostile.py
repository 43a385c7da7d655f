"""Reliability, hostile input (issue 13), over real HTTP on loopback.

Forged requests (random bodies, headers, wrong / missing / malformed / non-ASCII signatures)
are all refused, nothing is stored and nothing answers 5xx; bodies over the limit get 413; a
client trickling a body does not hold up others; a batch of 1,000+ updates is handled; deeply
nested signed JSON is quarantined, not a 5xx; the configuration loader only ever raises
``ConfigError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wahost import hookimpl
from wahost.config import ConfigError, parse_config
from wahost.testing import (
    TEST_APP_SECRET,
    BotHarness,
    make_text,
    make_webhook,
    sign,
)

LIMIT = 64 * 1024


class Recorder:
    __name__ = "hostile-recorder"

    def __init__(self) -> None:
        self.messages: list[str] = []

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.messages.append(message.id)
        return True


class ThreadedBot:
    """A BotHarness running on its own event loop in a thread, for synchronous hypothesis
    tests that post with a blocking client."""

    def __init__(self, tmp: Path) -> None:
        self.recorder = Recorder()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.bot = BotHarness(
            tmp, plugins=[self.recorder], config={"server": {"max_body_bytes": LIMIT}}
        )

    def call(self, coro: Any, timeout: float = 60) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def __enter__(self) -> ThreadedBot:
        self.thread.start()
        self.call(self.bot.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.bot.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def stored(self) -> int:
        stats = self.call(self.bot.host.queue.stats())
        return int(stats.ready + stats.leased + stats.waiting_retry + stats.done + stats.dead)

    def quarantined(self) -> int:
        return int(self.call(self.bot.host.queue.stats()).quarantined)


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedBot]:
    with ThreadedBot(tmp_path_factory.mktemp("hostile")) as bot:
        yield bot


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _raw_post(
    port: int, head: bytes, body_parts: list[bytes], pause: float = 0.0, read_all: bool = False
) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for part in body_parts:
            try:
                sock.sendall(part)
            except OSError:
                break
            time.sleep(pause)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if not read_all:
                    break
        except OSError:
            pass
        return answer


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)


def _clean(value: bytes) -> bytes:
    """What an HTTP client can put in a header value (no NUL, CR, LF; no outer spaces)."""
    return bytes(c for c in value if c not in (0, 10, 13)).strip(b" \t")


_HEADER_VALUE = st.binary(max_size=80).map(lambda b: _clean(b) or b"x")
_SIGNATURES = st.one_of(
    st.none(),
    st.binary(max_size=100).map(_clean),
    st.text(max_size=70).map(lambda t: _clean(("sha256=" + t).encode("utf-8", "replace"))),
    st.binary(min_size=32, max_size=32).map(lambda d: b"sha256=" + d.hex().encode()),
    st.sampled_from([b"sha256=", b"sha1=abc", b"SHA256=00", "sha256=é".encode(), b"sha256=\xff"]),
    st.just(b"WRONG-SECRET"),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda t: json.dumps(make_text(t)).encode(), st.text(max_size=50)),
    ),
    signature=_SIGNATURES,
    extra=st.dictionaries(_TOKEN, _HEADER_VALUE, max_size=4),
)
def test_forged_requests_are_refused_and_nothing_is_stored(
    threaded: ThreadedBot,
    http: httpx.Client,
    body: bytes,
    signature: bytes | None,
    extra: dict[str, bytes],
) -> None:
    headers: dict[str, bytes] = {
        k: v for k, v in extra.items() if k not in ("content-length", "transfer-encoding", "host")
    }
    headers.pop("x-hub-signature-256", None)
    if signature == b"WRONG-SECRET":
        signature = sign(body, TEST_APP_SECRET + "x").encode()
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    before = threaded.stored(), threaded.quarantined()
    # Sent on a raw socket: an HTTP client library refuses some of these header values.
    head = b"POST /webhook HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
    head += b"content-length: " + str(len(body)).encode() + b"\r\n"
    head += b"".join(k.encode() + b": " + v + b"\r\n" for k, v in headers.items()) + b"\r\n"
    answer = _raw_post(_port(threaded), head, [body], read_all=True)
    status = int(answer[9:12])
    # 401 / 403 from the ingress; 400 when the HTTP server refuses a control character.
    assert status in (400, 401, 403), (answer[:40], signature)
    assert (threaded.stored(), threaded.quarantined()) == before == (0, 0)
    assert TEST_APP_SECRET.encode() not in answer


def _port(threaded: ThreadedBot) -> int:
    return int(threaded.bot.url.rsplit(":", 1)[1])


def test_bodies_over_the_limit_get_413_declared_or_streamed(
    threaded: ThreadedBot, http: httpx.Client
) -> None:
    big = b"{" + b" " * LIMIT + b"}"
    declared = http.post(
        threaded.bot.webhook_url, content=big, headers={"x-hub-signature-256": sign(big)}
    )
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 4096 + 4):
            yield b" " * 4096

    streamed = http.post(
        threaded.bot.webhook_url, content=chunks(), headers={"x-hub-signature-256": "sha256=00"}
    )
    assert streamed.status_code == 413
    # A Content-Length that lies (claims little, sends more) cannot smuggle a body past it.
    port = _port(threaded)
    head = (
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n"
        b"x-hub-signature-256: sha256=00\r\n\r\n"
    )
    answer = _raw_post(port, head, [b"{}"])
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:40]
    assert threaded.stored() == 0


def test_a_slow_client_does_not_hold_up_others(threaded: ThreadedBot, http: httpx.Client) -> None:
    port = _port(threaded)
    payload = json.dumps(make_text("slow", wamid="wamid.slow.1")).encode()
    head = (
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(payload)).encode() + b"\r\n"
        b"x-hub-signature-256: " + sign(payload).encode() + b"\r\n\r\n"
    )
    # 3 seconds of trickling, a few bytes every 50 ms.
    step = max(1, len(payload) // 60)
    parts = [payload[i : i + step] for i in range(0, len(payload), step)]
    result: list[bytes] = []
    slow = threading.Thread(target=lambda: result.append(_raw_post(port, head, parts, 0.05)))
    before = threaded.stored()
    slow.start()
    time.sleep(0.2)
    latencies = []
    for n in range(40):
        body = json.dumps(make_text(str(n), wamid=f"wamid.fast.{n}")).encode()
        started = time.perf_counter()
        response = http.post(
            threaded.bot.webhook_url, content=body, headers={"x-hub-signature-256": sign(body)}
        )
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
    assert slow.is_alive(), "the slow client finished before the others were measured"
    slow.join(20)
    assert result and result[0].startswith(b"HTTP/1.1 200"), result
    assert max(latencies) < 0.5, sorted(latencies)[-5:]
    assert threaded.stored() == before + 41


async def test_a_signed_batch_of_1000_updates_is_handled_once_each(tmp_path: Path) -> None:
    recorder = Recorder()
    texts = [
        make_text(str(n), sender=f"1650999{n % 50:04d}", wamid=f"wamid.batch.{n}")
        for n in range(1001)
    ]
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        response = await bot.post(make_webhook(*texts))
        assert response.status_code == 200
        again = await bot.post(make_webhook(*texts))  # Meta's retry of the same batch
        assert again.status_code == 200
        await bot.idle(timeout=30)
    assert sorted(recorder.messages) == sorted(f"wamid.batch.{n}" for n in range(1001))


@pytest.mark.parametrize("depth", [100, 5_000, 30_000])
def test_deeply_nested_signed_json_is_quarantined_or_handled_never_5xx(
    threaded: ThreadedBot, http: httpx.Client, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    bare = nested.encode()
    inside = json.dumps(make_text("deep", wamid=f"wamid.deep.{depth}")).replace(
        '"body": "deep"', f'"body": "deep", "x": {nested}'
    )
    assert len(inside) < LIMIT
    for body in (bare, inside.encode()):
        before = threaded.quarantined() + threaded.stored()
        response = http.post(
            threaded.bot.webhook_url, content=body, headers={"x-hub-signature-256": sign(body)}
        )
        assert response.status_code == 200, response.status_code
        # Kept: quarantined (undecodable) or enqueued (the extra field is ignored).
        assert threaded.quarantined() + threaded.stored() == before + 1


# -- the configuration loader -----------------------------------------------------------

_SECTIONS = ["whatsapp", "server", "queue", "state", "worker", "graph", "logging", "plugins", "x"]
_KEYS = [
    "token", "app_secret", "verify_token", "phone_number_id", "port", "path", "concurrency",
    "timeout", "level", "format", "max_body_bytes", "graph_url", "backend", "enabled", "file",
    "app_secrets", "lease_seconds", "engine", "x",
]  # fmt: skip
_VALUES = st.recursive(
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.booleans(),
        st.text(max_size=20),
        st.sampled_from(["${NOPE}", "${HOME}", "info", "json", "0.0.0.0", "/webhook", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*_KEYS, "file", "env"]), inner, max_size=3),
    ),
    max_leaves=8,
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.dictionaries(
            st.sampled_from(_SECTIONS),
            st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5),
            max_size=5,
        ).map(
            lambda data: "\n".join(
                f"[{section}]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in table.items())
                for section, table in data.items()
            )
        ),
    )
)
def test_the_config_loader_only_ever_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text, source="<fuzz>", base_dir=Path("/nonexistent"), env={})
