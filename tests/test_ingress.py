"""Ingress answers, on a real HTTP server on loopback with a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost import hookimpl
from wahost.testing import TEST_APP_SECRET, TEST_VERIFY_TOKEN, BotHarness, load_fixture
from wahost.testing.harness import FIXTURES
from wahost.webhook import SignatureChecker


class Recorder:
    """A plugin recording the wamid of every message it is given."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.messages: list[str] = []

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.messages.append(message.id)
        return True


#: The webhook's POST answered in the HTTP protocol (the default) and through ASGI.
PATHS = pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "asgi"])


@pytest.fixture(params=[True, False], ids=["fast-path", "asgi"])
async def bot(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[BotHarness]:
    recorder = Recorder()
    config = {"server": {"webhook_fast_path": request.param}}
    async with BotHarness(tmp_path, plugins=[recorder], config=config) as harness:
        harness.recorder = recorder  # type: ignore[attr-defined]
        yield harness


async def stored(bot: BotHarness) -> int:
    stats = await bot.host.queue.stats()
    return stats.ready + stats.leased + stats.waiting_retry + stats.done + stats.dead


# -- GET: verification -------------------------------------------------------------------


async def test_verification_echoes_the_challenge_as_plain_text(bot: BotHarness) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": TEST_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = await bot.http.get(bot.webhook_url, params=params)  # type: ignore[union-attr]
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": TEST_VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
        {},
    ],
)
async def test_verification_refuses_anything_else(bot: BotHarness, params: dict[str, str]) -> None:
    response = await bot.http.get(bot.webhook_url, params=params)  # type: ignore[union-attr]
    assert response.status_code == 403
    assert "1" not in response.text


# -- POST: signature ---------------------------------------------------------------------


async def test_a_signed_webhook_is_stored_and_handled(bot: BotHarness) -> None:
    response = await bot.post_fixture("inbound_text.json")
    assert response.status_code == 200
    await bot.idle()
    assert bot.recorder.messages == [  # type: ignore[attr-defined]
        json.loads(load_fixture("inbound_text.json"))["entry"][0]["changes"][0]["value"][
            "messages"
        ][0]["id"]
    ]


async def test_missing_signature_is_401_and_nothing_is_stored(bot: BotHarness) -> None:
    response = await bot.post(load_fixture("inbound_text.json"), secret=None)
    assert response.status_code == 401
    assert await stored(bot) == 0


async def test_wrong_signature_is_403_and_nothing_is_stored(bot: BotHarness) -> None:
    response = await bot.post(load_fixture("inbound_text.json"), secret="not-the-secret")
    assert response.status_code == 403
    assert await stored(bot) == 0


@pytest.mark.parametrize(
    "header",
    [
        b"sha256=",
        b"sha256=zz",
        b"sha1=" + b"0" * 40,
        b"sha256=" + b"0" * 63,
        b"sha256=\xff\xfe" + b"0" * 60,  # not ASCII
        "sha256=ä".encode(),
        b"",
    ],
)
async def test_malformed_signature_is_403_never_500(bot: BotHarness, header: bytes) -> None:
    body = load_fixture("inbound_text.json")
    response = await bot.post(body, secret=None, headers={"x-hub-signature-256": header})  # type: ignore[dict-item]
    assert response.status_code == 403
    assert await stored(bot) == 0


async def test_signature_is_checked_over_the_raw_bytes(bot: BotHarness) -> None:
    """A body re-serialised after signing (e.g. unicode unescaped) no longer verifies."""
    vectors = json.loads((FIXTURES / "webhook_signature_vectors.json").read_text())["cases"]
    for case in vectors:
        checker = SignatureChecker([case["app_secret"]])
        status = checker.status(case["x_hub_signature_256"].encode(), case["raw_body"].encode())
        assert (status == 200) is case["valid"], case["name"]


async def test_any_configured_secret_is_accepted_during_rotation(tmp_path: Path) -> None:
    config = {"whatsapp": {"app_secret": "old-secret-123456", "app_secrets": ["new-secret-654321"]}}
    async with BotHarness(tmp_path, config=config) as bot:
        body = load_fixture("inbound_text.json")
        assert (await bot.post(body, secret="old-secret-123456")).status_code == 200
        assert (await bot.post(body, secret="new-secret-654321")).status_code == 200
        assert (await bot.post(body, secret=TEST_APP_SECRET)).status_code == 403


# -- POST: size and decoding ---------------------------------------------------------------


@PATHS
async def test_a_body_over_the_limit_is_413_by_content_length(
    tmp_path: Path, fast_path: bool
) -> None:
    config = {"server": {"max_body_bytes": 1000, "webhook_fast_path": fast_path}}
    async with BotHarness(tmp_path, config=config) as bot:
        body = b'{"object":"whatsapp_business_account","entry":[]}'.ljust(2000)
        response = await bot.post(body)
        assert response.status_code == 413
        assert await stored(bot) == 0


@pytest.mark.parametrize(
    ("engine", "fast_path"), [("uvicorn", True), ("uvicorn", False), ("hypercorn", False)]
)
async def test_a_streamed_body_over_the_limit_is_413_without_reading_it_all(
    tmp_path: Path, engine: str, fast_path: bool
) -> None:
    """A chunked body (no Content-Length) that passes the limit and never ends: the answer
    comes anyway, so the server stopped reading at the limit."""
    config = {"server": {"max_body_bytes": 1000, "engine": engine, "webhook_fast_path": fast_path}}
    async with BotHarness(tmp_path, config=config) as bot:
        port = int(bot.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Hub-Signature-256: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(3):  # 1500 bytes, and the terminating chunk is never sent
            writer.write(b"1f4\r\n" + b"x" * 500 + b"\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        writer.close()
        assert status_line.split()[1] == b"413"
        assert await stored(bot) == 0


async def test_a_signed_but_undecodable_body_is_quarantined_and_200(bot: BotHarness) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": "not a list"}'
    response = await bot.post(body)
    assert response.status_code == 200
    quarantined = await bot.host.queue.list_quarantine()
    assert [item.body for item in quarantined] == [body]
    assert quarantined[0].reason
    assert (await bot.post(b"\x00\x01 not json")).status_code == 200
    assert len(await bot.host.queue.list_quarantine()) == 2
    assert await stored(bot) == 0


async def test_an_unknown_message_type_is_stored_and_dispatched(bot: BotHarness) -> None:
    envelope = json.loads(load_fixture("inbound_text.json"))
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "hologram"
    message["hologram"] = {"depth": 3}
    message.pop("text")
    assert (await bot.post(envelope)).status_code == 200
    await bot.idle()
    assert bot.recorder.messages == [message["id"]]  # type: ignore[attr-defined]


# -- POST: the store cannot commit -------------------------------------------------------

LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@PATHS
async def test_503_when_the_store_cannot_commit_then_200_on_meta_s_retry(
    tmp_path: Path, fast_path: bool
) -> None:
    recorder = Recorder()
    config = {"queue": {"busy_timeout": 0.2}, "server": {"webhook_fast_path": fast_path}}
    async with BotHarness(tmp_path, plugins=[recorder], config=config) as bot:
        db_path = bot.config.queue.path
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, db_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
            response = await bot.post_fixture("inbound_image.json")
            assert response.status_code == 503
        finally:
            assert locker.stdin is not None
            locker.stdin.write("\n")
            locker.stdin.flush()
            locker.wait(10)
        assert recorder.messages == []
        response = await bot.post_fixture("inbound_image.json")  # Meta retries
        assert response.status_code == 200
        await bot.idle()
        assert len(recorder.messages) == 1


# -- health --------------------------------------------------------------------------------


async def test_healthz_and_readyz(bot: BotHarness) -> None:
    assert bot.http is not None
    assert (await bot.http.get(bot.url + "/healthz")).status_code == 200
    assert (await bot.http.get(bot.url + "/readyz")).status_code == 200


@pytest.mark.parametrize("engine", ["uvicorn", "hypercorn"])
async def test_both_server_engines_serve_the_ingress(tmp_path: Path, engine: str) -> None:
    recorder = Recorder()
    config = {"server": {"engine": engine}}
    async with BotHarness(tmp_path, plugins=[recorder], config=config) as bot:
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": TEST_VERIFY_TOKEN,
            "hub.challenge": "42",
        }
        assert bot.http is not None
        assert (await bot.http.get(bot.webhook_url, params=params)).text == "42"
        assert (await bot.post_fixture("inbound_text.json")).status_code == 200
        assert (await bot.post(load_fixture("inbound_text.json"), secret=None)).status_code == 401
        await bot.idle()
    assert len(recorder.messages) == 1


async def test_other_methods_on_the_webhook_path_are_405(bot: BotHarness) -> None:
    assert bot.http is not None
    assert (await bot.http.put(bot.webhook_url, content=b"{}")).status_code == 405
