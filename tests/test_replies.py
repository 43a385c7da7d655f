"""Replies end to end: signed webhook in → plugin → ``ctx.reply`` → the fake Graph API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from wahost import Context, hookimpl
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, BotHarness
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_text, make_webhook, signed_webhook

USER = "16505551234"


class Echo:
    __name__ = "echo"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await ctx.mark_read()
        await ctx.reply(text=f"echo: {message.text.body}", quote=True)
        return True

    @hookimpl
    async def on_message_sent(self, sent: Any, ctx: Any) -> None:
        self.sent.append((sent.id, ctx.unit.key if ctx else None))


async def test_a_reply_reaches_the_user_from_the_right_number_quoting_the_message(
    tmp_path: Path,
) -> None:
    echo = Echo()
    async with FakeGraph(token=TEST_TOKEN) as graph:
        config = {"whatsapp": {"graph_url": graph.url}}
        async with BotHarness(tmp_path, plugins=[echo], config=config) as bot:
            webhook = make_webhook(make_text("hello there", sender=USER, wamid="wamid.in-1"))
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
    [reply] = graph.sent
    assert reply["to"] == USER
    assert reply.text == "echo: hello there"
    assert reply["context"] == {"message_id": "wamid.in-1"}
    paths = {request.path for request in graph.requests}
    assert paths == {f"/v24.0/{TEST_PHONE_NUMBER_ID}/messages"}
    read = next(r.json for r in graph.requests if r.json.get("status") == "read")
    assert read["message_id"] == "wamid.in-1"
    assert echo.sent == [(reply["wamid"], "msg:wamid.in-1")]


async def test_a_retried_unit_does_not_send_again_what_was_sent(tmp_path: Path) -> None:
    attempts: list[int] = []

    class TwoReplies:
        __name__ = "two"

        @hookimpl
        async def on_message(self, ctx: Context) -> bool:
            attempts.append(ctx.attempt)
            await ctx.reply(text="first")
            if ctx.attempt == 1:
                raise RuntimeError("fails between the two replies")
            await ctx.reply(text="second")
            return True

    async with FakeGraph(token=TEST_TOKEN) as graph:
        config = {"whatsapp": {"graph_url": graph.url}}
        async with BotHarness(tmp_path, plugins=[TwoReplies()], config=config) as bot:
            await bot.post(make_webhook(make_text("hi", sender=USER)))
            await bot.idle()
    assert attempts == [1, 2]
    assert [m.text for m in graph.sent] == ["first", "second"]


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
async def test_a_replayed_dead_unit_does_not_send_again_what_was_sent(
    tmp_path: Path, backend: str
) -> None:
    """The outbox looks for a send's record only when the unit may have been handled before:
    a replayed unit's first lease is not its first handling, so the reply its dead handling
    sent is found and not sent again."""
    failing = True
    handled: list[tuple[int, bool]] = []

    class SendsThenFails:
        __name__ = "sends-then-fails"

        @hookimpl
        async def on_message(self, ctx: Context) -> bool:
            handled.append((ctx.attempt, ctx.first_handling))
            await ctx.reply(text="once")
            if failing:
                raise RuntimeError("after the reply")
            return True

    config: dict[str, Any] = {
        "worker": {"max_attempts": 1},
        "queue": {"backend": backend},
        "state": {"backend": backend},
    }
    async with FakeGraph(token=TEST_TOKEN) as graph:
        config["whatsapp"] = {"graph_url": graph.url}
        async with BotHarness(tmp_path, plugins=[SendsThenFails()], config=config) as bot:
            await bot.post(make_webhook(make_text("hi", sender=USER, wamid="wamid.replayed")))
            await bot.idle()
            assert (await bot.host.queue.stats()).dead == 1
            failing = False
            assert await bot.host.queue.replay("msg:wamid.replayed")
            bot.host.wakeup.set()
            await bot.idle()
            assert (await bot.host.queue.stats()).done == 1
    assert handled == [(1, True), (1, False)]
    assert [m.text for m in graph.sent] == ["once"]


async def test_a_graph_error_in_a_handler_retries_the_unit(tmp_path: Path) -> None:
    async with FakeGraph(token=TEST_TOKEN) as graph:
        graph.fail_next(1, code=131047)  # not retried by the client: the unit is
        config = {"whatsapp": {"graph_url": graph.url}}
        async with BotHarness(tmp_path, plugins=[Echo()], config=config) as bot:
            await bot.post(make_webhook(make_text("hi", sender=USER)))
            await bot.idle()
    assert [m.text for m in graph.sent] == ["echo: hi"]


# -- the outbox across a real crash --------------------------------------------------------

PLUGIN = """
import os, signal
from wahost import hookimpl

@hookimpl
async def on_message(ctx):
    await ctx.reply(text="reply one")
    marker = os.environ["OUTBOX_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies after the first reply
    await ctx.reply(text="reply two")
    return True
"""

CONFIG = """
[whatsapp]
phone_number_id = "{pnid}"
token = "{token}"
app_secret = "{secret}"
verify_token = "v"
graph_url = "{graph}"
[server]
port = {port}
[queue]
path = "{db}"
[worker]
lease_seconds = 1.0
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(workdir: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "wahost.cli", "serve", "--config", str(workdir / "w.toml")],
        env=env,
        stdout=log,
        stderr=log,
    )
    async with loopback_client() as http:
        for _ in range(300):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise TimeoutError((workdir / "serve.log").read_text())


async def test_the_outbox_survives_kill_9_between_two_replies(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "outbox_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "outbox_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "outbox_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: outbox-plugin\nVersion: 1.0\n"
    )
    (site / "outbox_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[wahost]\noutbox-plugin = outbox_plugin\n"
    )
    port = _free_port()
    async with FakeGraph(token=TEST_TOKEN) as graph:
        (tmp_path / "w.toml").write_text(
            CONFIG.format(
                pnid=TEST_PHONE_NUMBER_ID,
                token=TEST_TOKEN,
                secret=TEST_APP_SECRET,
                graph=graph.url,
                port=port,
                db=tmp_path / "w.db",
            )
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
            "WAHOST_PLUGINS": "outbox-plugin",
            "OUTBOX_MARKER": str(tmp_path / "killed"),
        }
        server = await _serve(tmp_path, env, port)
        body, headers = signed_webhook(make_webhook(make_text("hi", sender=USER)))
        async with loopback_client() as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/webhook", content=body, headers=headers
            )
        assert response.status_code == 200
        deadline = time.monotonic() + 10
        while server.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert server.returncode == -signal.SIGKILL, "the plugin should have killed the worker"
        assert [m.text for m in graph.sent] == ["reply one"]

        server = await _serve(tmp_path, env, port)  # the unit's lease expires; it comes back
        try:
            await graph.wait_for(2, timeout=10)
            await asyncio.sleep(0.3)  # would a duplicate arrive?
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
    assert [m.text for m in graph.sent] == ["reply one", "reply two"]
