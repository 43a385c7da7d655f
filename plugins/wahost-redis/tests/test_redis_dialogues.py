"""Dialogues (``ctx.ask``) on Redis with two real ``wahost worker`` processes: an answer is
handled by whichever worker leases it, the other one included, and every conversation gets
each prompt and reply exactly once, in order; a timeout is raised once although both workers
look for due timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wahost_redis import RedisQueue, RedisStateStore
from wahost_redis.testing import spawn, write_config

from wahost.dialogues.journal import DEADLINES, NAMESPACE
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text
from wahost.units import split

BOT = '''
"""The issue's sign-up dialogue; each process notes which answers it took (live, not while
replaying) in a file of its own."""
import json, os
from wahost import AskTimeout, Router, filters as F, hookimpl

router = Router(name="signup")

def note(**record):
    path = os.path.join(os.environ["RECORD_DIR"], f"{os.getpid()}.jsonl")
    with open(path, "a") as out:
        out.write(json.dumps({**record, "pid": os.getpid()}) + "\\n")

@hookimpl
def wahost_startup(host):
    note(event="ready")

@router.message(F.command("quick"))
async def quick(ctx):
    try:
        await ctx.ask("Quick, a number!", F.regex(r"^\\d+$"), timeout=0.5)
    except AskTimeout:
        await ctx.reply("Too slow.")

@router.message(F.command("signup"))
async def signup(message, ctx):
    name = await ctx.ask("What's your name?", F.text, timeout=600)
    if not ctx.replaying:
        note(event="name", user=message.sender)
    age = await ctx.ask(f"Hi {name.text.body}! How old are you?", F.regex(r"^\\d{1,3}$"),
                        retry="Please send your age as a number.")
    note(event="age", user=message.sender)
    await ctx.reply(f"Welcome {name.text.body} ({age.text.body})")
'''

USER = "16505559000"
OTHER = "16505559001"
USERS = [f"1650556{n:04d}" for n in range(10)]


class Records:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def read(self, event: str) -> list[dict[str, Any]]:
        found = []
        for path in self.directory.glob("*.jsonl"):
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record["event"] == event:
                        found.append(record)
        return found


async def until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def texts(graph: FakeGraph, user: str) -> list[str]:
    return [sent.text for sent in graph.messages_to(user)]


async def test_an_answer_continues_the_dialogue_on_the_other_worker(
    redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "dialogue_bot.py").write_text(textwrap.dedent(BOT))
    records = Records(tmp_path / "records")
    records.directory.mkdir()
    queue = RedisQueue(redis_url)
    await queue.open()
    workers: list[subprocess.Popen[bytes]] = []
    async with FakeGraph() as graph:
        path = write_config(
            tmp_path / "wahost.toml",
            redis_url,
            graph_url=graph.url,
            sections={
                "bot": {"modules": ["dialogue_bot"]},
                "worker": {"concurrency": 8, "poll_interval": 0.01},
                "dialogues": {"timer_interval": 0.1},
            },
        )

        def start() -> subprocess.Popen[bytes]:
            process = spawn(
                "worker",
                path,
                site=tmp_path / "site",
                plugins=[],
                env={"RECORD_DIR": str(records.directory)},
                log=tmp_path / "worker.log",
            )
            workers.append(process)
            return process

        async def acked() -> None:
            """Every unit acked: a worker stopped now holds nothing (else its lease would
            expire and the other worker would run that step again, as after a crash)."""
            deadline = time.monotonic() + 20
            while True:
                stats = await queue.stats()
                if stats.ready + stats.leased == 0:
                    return
                assert time.monotonic() < deadline, stats
                await asyncio.sleep(0.02)

        async def say(text: str, user: str = USER) -> None:
            webhook = json.dumps(make_text(text, sender=user)).encode()
            assert await queue.enqueue(split(webhook)) == 1

        try:
            first = start()
            await until(lambda: len(records.read("ready")) == 1, "the first worker")
            await say("/signup")
            await until(lambda: len(graph.sent) == 1, "the first prompt")
            await acked()

            second = start()
            await until(lambda: len(records.read("ready")) == 2, "the second worker")
            first.send_signal(signal.SIGSTOP)  # only the second can take the answer
            await say("Ann")
            await until(lambda: len(graph.sent) == 2, "the second prompt")
            await acked()
            first.send_signal(signal.SIGCONT)
            second.send_signal(signal.SIGSTOP)  # and now only the first
            await say("42")
            await until(lambda: len(graph.sent) == 3, "the welcome")
            second.send_signal(signal.SIGCONT)
            [name] = records.read("name")
            [age] = records.read("age")
            assert (name["pid"], age["pid"]) == (second.pid, first.pid)
            assert texts(graph, USER) == [
                "What's your name?",
                "Hi Ann! How old are you?",
                "Welcome Ann (42)",
            ]

            # Many conversations at once, each answer to whichever worker leases it.
            for text in ("/signup", "name", "many", "7"):
                for user in USERS:
                    await say(f"{text} {user[-2:]}" if text == "name" else text, user)
            await until(
                lambda: all(len(texts(graph, user)) == 4 for user in USERS), "every dialogue", 40
            )
            await say("/quick", OTHER)
            await until(lambda: len(texts(graph, OTHER)) == 2, "the timeout")
            await asyncio.sleep(0.5)  # would a duplicate arrive?
            store = RedisStateStore(redis_url)
            await store.open()
            left = await store.kv_scan(NAMESPACE), await store.kv_scan(DEADLINES)
            await store.close()
        finally:
            for process in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
                process.terminate()
            for process in workers:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
            await queue.close()
    for user in USERS:
        tag = user[-2:]
        assert texts(graph, user) == [
            "What's your name?",
            f"Hi name {tag}! How old are you?",
            "Please send your age as a number.",
            f"Welcome name {tag} (7)",
        ]
    assert texts(graph, OTHER) == ["Quick, a number!", "Too slow."]
    assert left == ([], [])  # every dialogue ended: no journal, no deadline left
    pids = {r["pid"] for r in records.read("name") + records.read("age")}
    assert pids == {workers[0].pid, workers[1].pid}
