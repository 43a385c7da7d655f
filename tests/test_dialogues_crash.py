"""Dialogues across kill -9 of a real ``wahost serve``: after each restart the answer continues
the dialogue; nothing is sent twice and nothing asked again."""

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

import httpx

from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_text, signed_webhook

USER = "16505551234"

BOT = '''
"""The issue's sign-up dialogue; its process kills itself once, right after the second
prompt went out and before the unit that sent it is acked."""
import os, signal
from wahost import Router, filters as F, hookimpl

router = Router(name="signup")

@router.message(F.command("signup"))
async def signup(message, ctx):
    name = await ctx.ask("What's your name?", F.text, timeout=600)
    age = await ctx.ask(f"Hi {name.text.body}! How old are you?", F.regex(r"^\\d{1,3}$"),
                        retry="Please send your age as a number.")
    await ctx.reply(f"Welcome {name.text.body} ({age.text.body})")

@hookimpl
def on_message_sent(sent):
    marker = os.environ["DIALOGUE_MARKER"]
    if sent.preview.startswith("Hi ") and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)  # the send is in the outbox; the ack is not made
'''

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
[bot]
modules = ["dialogue_bot"]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``wahost serve`` on the test's config, started and killed by the test."""

    def __init__(self, workdir: Path, port: int, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = port
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115
        config = str(self.workdir / "w.toml")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", "serve", "--config", config],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        async with loopback_client() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        raise TimeoutError((self.workdir / "serve.log").read_text())

    async def post(self, text: str) -> None:
        body, headers = signed_webhook(make_text(text, sender=USER), TEST_APP_SECRET)
        async with loopback_client() as http:
            response = await http.post(
                f"http://127.0.0.1:{self.port}/webhook", content=body, headers=headers
            )
        assert response.status_code == 200

    async def died(self, timeout: float = 10) -> int | None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def texts(graph: FakeGraph) -> list[str]:
    return [sent.text for sent in graph.sent]


async def test_a_dialogue_survives_kill_9_between_and_within_its_steps(tmp_path: Path) -> None:
    (tmp_path / "dialogue_bot.py").write_text(textwrap.dedent(BOT))
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
            "WAHOST_PLUGINS": "none",
            "DIALOGUE_MARKER": str(tmp_path / "killed"),
        }
        server = Server(tmp_path, port, env)
        try:
            await server.start()
            await server.post("/signup")
            await graph.wait_for(1, timeout=10)
            await asyncio.sleep(0.3)  # the unit is acked: the dialogue waits in the journal
            server.kill()  # kill -9 between two steps

            await server.start()
            await server.post("Ann")  # the answer reaches a new process
            assert await server.died() == -signal.SIGKILL, "the bot should have killed itself"
            assert texts(graph) == ["What's your name?", "Hi Ann! How old are you?"]

            await server.start()  # the answer's unit comes back: replayed, prompt not resent
            await server.post("42")
            await graph.wait_for(3, timeout=15)
            await asyncio.sleep(0.5)  # would a duplicate arrive?
        finally:
            server.stop()
    assert texts(graph) == [
        "What's your name?",
        "Hi Ann! How old are you?",
        "Welcome Ann (42)",
    ], (tmp_path / "serve.log").read_text()[-3000:]
