"""``wahost simulate`` in a pseudo-terminal: type a text, pick a button, fill in a Flow."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MENU_BOT = """
from wahost import hookimpl
from wahost.models import InteractiveMessage, TextMessage
from wahost.outbound import ReplyButton, ReplyButtons


@hookimpl
async def on_message(message, ctx):
    await ctx.mark_read()
    if isinstance(message, TextMessage) and message.text.body == "menu":
        buttons = [ReplyButton(id="tea", title="Tea"), ReplyButton(id="coffee", title="Coffee")]
        await ctx.reply(ReplyButtons(body="Tea or coffee?", buttons=buttons))
    elif isinstance(message, InteractiveMessage):
        await ctx.reply(f"one {message.interactive.button_reply.id} coming up")
    elif isinstance(message, TextMessage):
        await ctx.reply(f"you said: {message.text.body}")
    return True
"""

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "${WHATSAPP_TOKEN}"
app_secret = "${WHATSAPP_APP_SECRET}"
verify_token = "${WHATSAPP_VERIFY_TOKEN}"

[queue]
path = "wahost.db"
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal:
    """A child process on a pseudo-terminal: write lines, wait for text on the screen."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            start_new_session=True,
        )
        os.close(slave)
        self.screen = ""

    def expect(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.screen, start)
            if match:
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and not self._read(0.2)):
                raise AssertionError(f"{pattern!r} not on the screen:\n{self.screen}")
            self._read(min(remaining, 0.5))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        self.screen += _ANSI.sub("", data.decode("utf-8", "replace")).replace("\r\n", "\n")
        return bool(data)

    def type(self, line: str) -> None:
        self.screen_mark = len(self.screen)
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        os.close(self.master)


def _env(path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    env["TERM"] = "xterm"
    return env


def _simulate(*args: str) -> list[str]:
    return [sys.executable, "-c", "from wahost.cli import main; main()", "simulate", *args]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "menu_bot.py").write_text(MENU_BOT)
    (tmp_path / "wahost.toml").write_text(CONFIG)
    return tmp_path


def test_chat_in_the_terminal_text_and_buttons(workdir: Path) -> None:
    term = Terminal(
        _simulate("--config", "wahost.toml", "--plugin", "menu_bot"), workdir, _env(workdir)
    )
    try:
        # No Meta credentials set: the simulator says so and runs anyway.
        term.expect(r"simulated values used: WHATSAPP_TOKEN")
        term.expect(r"you are \+16505551234")
        term.type("hello there")
        term.expect(r"you said: hello there")
        term.expect(r"✓✓ read by the bot")  # the bot's mark_read: blue ticks
        term.type("menu")
        term.expect(r"Tea or coffee\?")
        term.expect(r"1\) Tea")
        term.expect(r"2\) Coffee")
        term.type("2")
        term.expect(r"one coffee coming up")
        # The bot's messages: sent, delivered, then read once shown to the user.
        for _ in range(50):
            mark = len(term.screen)
            term.type("/ticks")
            line = term.expect(r"bot\s+\S+\s+(\w+)\s+one coffee coming up", start=mark)
            if line.group(1) == "read":
                break
            time.sleep(0.1)
        assert line.group(1) == "read"
        assert "you ▸ hello there" not in term.screen  # what you type is not echoed twice
        term.type("/quit")
        assert term.process.wait(20) == 0
    finally:
        term.close()
    # Same store as `wahost serve`: the units are in the configured SQLite file.
    assert (workdir / "wahost.db").exists()


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_a_flow_is_filled_in_as_a_form(workdir: Path) -> None:
    config = CONFIG + '\n[plugins.state_machine]\nmachine = "booking_bot:sm"\n'
    (workdir / "booking.toml").write_text(config)
    flows = workdir / "flows"
    flows.mkdir()
    shutil.copy(EXAMPLES / "restaurant_booking" / "flow.json", flows / "table_booking.json")
    env = _env(workdir)
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES / "restaurant_booking"), env["PYTHONPATH"]])
    term = Terminal(
        _simulate("--config", "booking.toml", "--flows", "flows"),
        workdir,
        env,
    )
    try:
        term.expect(r"/help for more")
        term.type("book")
        term.expect(r"1\) Open: Book a table")
        term.type("1")
        term.expect(r"Day \(required\) — YYYY-MM-DD:")
        term.type("2026-12-24")
        term.expect(r"Time \(required\) — 1\) 12:30.*4\) 20:30")
        term.type("3")
        term.expect(r"How many people\? \(required\):")
        term.type("4")
        term.expect(r"Name \(required\):")
        term.type("Ada")
        term.expect(r"A table for 4 on Thursday 24 December at 19:00, Ada\.")
        term.expect(r"1\) Confirm")
        term.type("1")
        term.expect(r"Booked! Your reference is")
        term.type("/quit")
        assert term.process.wait(20) == 0
    finally:
        term.close()


def test_the_chat_shows_the_step_a_dialogue_waits_at(workdir: Path) -> None:
    bot = str(EXAMPLES / "signup_dialogue.py")
    term = Terminal(_simulate("--config", "wahost.toml", "--bot", bot), workdir, _env(workdir))
    try:
        term.expect(r"/help for more")
        term.type("/signup")  # not a simulator command: it goes to the bot
        term.expect(r"/signup is not a simulator command: sent to the bot")
        term.expect(r"What's your name\?")
        term.expect(r"… waiting for an answer to step 1 of signup:\S*signup")
        mark = len(term.screen)
        term.type("Ann")
        term.expect(r"How old are you\?", start=mark)
        term.expect(r"… waiting for an answer to step 2 of signup:\S*signup", start=mark)
        mark = len(term.screen)
        term.type("\\/cancel")  # a backslash sends a text that starts with / as it is
        term.expect(r"Sign-up cancelled", start=mark)
        term.type("/quit")
        assert term.process.wait(20) == 0
        assert "waiting for an answer" not in term.screen[mark:]
    finally:
        term.close()
