"""The simulator stages group chats (issue 25): participants write into one group through the
signed webhook path, the bot's replies to the group appear in it with Meta's group statuses, in
the engine and the terminal chat (the console's chat API: wahost-console's tests)."""

from __future__ import annotations

import asyncio
import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wahost import Context, Router
from wahost import filters as F
from wahost.simulator.session import Simulation
from wahost.simulator.terminal import TerminalChat
from wahost.testing.harness import make_config

ALICE = "16505551234"
BOB = "16505550002"


def group_bot(statuses: list[tuple[str, str]]) -> Router:
    """Counts each conversation's messages in its state; answers in the chat it was asked in."""
    router = Router()

    @router.message(F.text)
    async def count(message: Any, ctx: Context) -> None:
        n = int(ctx.state.get("n", 0)) + 1
        ctx.state.update(n=n)
        where = "group" if ctx.is_group else "private"
        await ctx.reply(f"{where} #{n}: {message.text.body} (+{ctx.sender})")

    @router.status(F.group)
    async def status(status: Any, ctx: Context) -> None:
        statuses.append((str(status.status), ctx.sender))

    return router


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_participants_write_into_one_group_and_the_bot_answers_in_it(
    tmp_path: Path,
) -> None:
    statuses: list[tuple[str, str]] = []
    config = make_config(tmp_path)
    async with Simulation(config, bots=[group_bot(statuses)], load_entrypoints=False) as sim:
        group = sim.add_group("Book club", [ALICE, BOB])
        await sim.act(ALICE, {"text": "hi"}, group=group)
        await sim.wait_for_bot(group, 1)
        await sim.act(BOB, {"text": "hello"}, group=group)
        bot = await sim.wait_for_bot(group, 2)
        await sim.send_text(ALICE, "alone")
        [private] = await sim.wait_for_bot(ALICE, 1)
        await sim.items(group)  # the participants see the bot's messages: read follows
        await _until(lambda: statuses.count(("read", ALICE)) == 2)
        with pytest.raises(ValueError, match="a group takes texts and files only"):
            await sim.act(BOB, {"location": [1, 2]}, group=group)

    assert [item.outgoing.text for item in bot if item.outgoing] == [
        f"group #1: hi (+{ALICE})",
        f"group #2: hello (+{BOB})",
    ]
    assert private.outgoing is not None and private.outgoing.text == f"private #1: alone (+{ALICE})"
    thread = sim.thread(group)
    assert [(i.sender, i.author) for i in thread] == [
        ("user", ALICE),
        ("bot", None),
        ("user", BOB),
        ("bot", None),
    ]
    assert all(item.user == group for item in thread)
    assert sim.users() == [ALICE]  # the group is a chat, not a user
    # Each reply: one sent for the group, delivered and read per participant.
    for who in (ALICE, BOB):
        assert statuses.count(("delivered", who)) == 2
    assert statuses.count(("sent", "")) == 2
    assert [m["recipient_type"] for m in sim.graph.messages_to(group)] == ["group", "group"]


async def test_the_terminal_stages_a_group_and_writes_as_its_participants(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    read_end, write_end = os.pipe()
    out = io.StringIO()
    async with Simulation(config, bots=[group_bot([])], load_entrypoints=False) as sim:
        with os.fdopen(read_end, "r") as stdin, os.fdopen(write_end, "w") as typing:
            chat = TerminalChat(sim, stdin=stdin, stdout=out, color=False)
            running = asyncio.create_task(chat.run())

            def type_line(line: str) -> None:
                typing.write(line + "\n")
                typing.flush()

            type_line(f"/group Club {BOB}")
            await _until(lambda: chat.group is not None)
            group = chat.group
            assert group is not None
            type_line("hi all")
            await sim.wait_for_bot(group, 1)
            type_line(f"/user {BOB}")
            type_line("me too")
            await sim.wait_for_bot(group, 2)
            await _until(lambda: "group #2: me too" in out.getvalue())
            type_line("/private")
            type_line("just us")
            await sim.wait_for_bot(BOB, 1)
            await _until(lambda: "private #1: just us" in out.getvalue())
            type_line("/quit")
            await asyncio.wait_for(running, 10)
    screen = out.getvalue()
    assert f"group 'Club' with the bot and +{ALICE}, +{BOB}" in screen
    assert f"group #1: hi all (+{ALICE})" in screen
    assert f"group #2: me too (+{BOB})" in screen
    assert f"private #1: just us (+{BOB})" in screen
    assert [m["to"] for m in sim.graph.sent] == [group, group, BOB]


GROUP_BOT = """
from wahost import Router, filters as F

router = Router()

@router.message(F.text)
async def answer(message, ctx):
    where = f"in {ctx.group_id[:14]}" if ctx.is_group else "privately"
    await ctx.reply(f"{message.text.body} (+{ctx.sender}) {where}")
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


def test_simulate_dash_dash_group_stages_a_group_the_terminal_writes_in(tmp_path: Path) -> None:
    (tmp_path / "group_bot.py").write_text(GROUP_BOT)
    (tmp_path / "wahost.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "WAHOST_PLUGINS"))}
    env["WAHOST_PLUGINS"] = ""
    args = ["simulate", "--config", "wahost.toml", "--bot", "group_bot", "--group", f"Club={BOB}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "wahost.cli", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    screen = ""

    def expect(text: str, timeout: float = 30.0) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while text not in screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and process.poll() is None, f"{text!r} not in:\n{screen}"
            ready, _, _ = select.select([process.stdout], [], [], min(remaining, 0.5))
            if ready:
                screen += os.read(process.stdout.fileno(), 65536).decode(errors="replace")

    def type_line(line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line.encode() + b"\n")
        process.stdin.flush()

    try:
        expect("/help for more")
        type_line("/group Club")
        expect(f"group 'Club' with the bot and +{ALICE}, +{BOB}")
        type_line("hi all")
        expect(f"hi all (+{ALICE}) in Y2FwaV9ncm91cD")
        type_line(f"/user {BOB}")
        type_line("me too")
        expect(f"me too (+{BOB}) in Y2FwaV9ncm91cD")
        type_line("/private")
        type_line("just us")
        expect(f"just us (+{BOB}) privately")
        type_line("/quit")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        process.stdout.close()
        process.stdin.close()


async def test_the_line_reader_ends_quietly_when_its_input_or_loop_is_closed(
    tmp_path: Path,
) -> None:
    """The reader thread blocks in readline and may outlive the chat: input closed under it
    (the simulator's caller closing its pipe) ends the input; a closed loop ends the thread.
    Neither raises in the thread."""
    async with Simulation(make_config(tmp_path), load_entrypoints=False) as sim:
        closed = io.StringIO("hello\n")
        closed.close()
        chat = TerminalChat(sim, stdin=closed, stdout=io.StringIO(), color=False)
        await asyncio.to_thread(chat._read_lines, asyncio.get_running_loop())
        assert await asyncio.wait_for(chat._lines.get(), 5) is None
        ended = asyncio.new_event_loop()
        ended.close()
        late = TerminalChat(sim, stdin=io.StringIO("hello\n"), stdout=io.StringIO())
        await asyncio.to_thread(late._read_lines, ended)


async def test_quitting_waits_for_the_bot_to_answer_what_it_was_sent(tmp_path: Path) -> None:
    """``/quit`` right after a message (a script piped in ends the same way) shows the slow
    bot's reply before the chat ends, instead of leaving the message for the next session."""
    router = Router()

    @router.message(F.text)
    async def slow(ctx: Context) -> None:
        await asyncio.sleep(0.8)
        await ctx.reply(text="thought about it")

    out = io.StringIO()
    async with Simulation(make_config(tmp_path), bots=[router], load_entrypoints=False) as sim:
        script = io.StringIO("hello\n/quit\n")
        chat = TerminalChat(sim, stdin=script, stdout=out, color=False)
        await asyncio.wait_for(chat.run(), 15)
        assert "thought about it" in out.getvalue()
        assert "waiting for the bot to answer" in out.getvalue()
        stats = await sim.host.queue.stats()
        assert stats.ready + stats.leased == 0
