"""What waiting dialogues cost: memory of a real ``wahost serve`` and the answer's latency.

    python -m bench.dialogues [--conversations 10000] [--answers 200]

A ``wahost serve`` process (SQLite, the defaults) runs the issue's sign-up dialogue; the fake
Graph API runs in this process (at 1000 messages a second, an upgraded number's pacing).
``--conversations`` users each send ``/signup`` and get the first prompt; then every one of
them is a dialogue waiting for its answer. Printed:

* the server's RSS (``VmRSS``) once warmed up, and again with every conversation waiting;
* the journal's size per waiting conversation, and the SQLite file's growth;
* for ``--answers`` of the users, one at a time: the time from the answer's POST to the next
  prompt's arrival at the fake Graph API (the answer is replayed from the journal), next to
  the same time for a plain reply (a ``/ping`` handler with no dialogue), as p50/p95/max.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN
from wahost.testing.fake_graph import Accepted, FakeGraph
from wahost.testing.payloads import make_text, make_webhook, signed_webhook

BOT = """
from wahost import Router, filters as F

router = Router(name="signup")

@router.message(F.command("ping"))
async def ping(ctx):
    await ctx.reply("pong")

@router.message(F.command("signup"))
async def signup(message, ctx):
    name = await ctx.ask("What's your name?", F.text, timeout=3600)
    age = await ctx.ask(f"Hi {name.text.body}! How old are you?", F.regex(r"^\\d{1,3}$"),
                        retry="Please send your age as a number.")
    await ctx.reply(f"Welcome {name.text.body} ({age.text.body})")
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
[graph]
messages_per_second = 1000  # an upgraded number: the pacing is not what is measured
[logging]
level = "warning"
[bot]
modules = ["bench_dialogue_bot"]
"""

#: Users per webhook when the conversations start (Meta batches up to 1000 updates).
BATCH = 50


def user(n: int) -> str:
    return f"1777{n:07d}"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


class Arrivals:
    """Waits for the next message the fake Graph API accepts for one user."""

    def __init__(self, graph: FakeGraph) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        graph.observers.append(self.observe)

    def observe(self, event: str, subject: Any) -> None:
        if event == "message" and isinstance(subject, Accepted):
            future = self.waiting.pop(subject.wa_id, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    def expect(self, wa_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[wa_id] = future
        return future


async def post(http: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> None:
    body, headers = signed_webhook(payload, TEST_APP_SECRET)
    response = await http.post(url, content=body, headers=headers)
    response.raise_for_status()


async def wait_count(graph: FakeGraph, n: int, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while len(graph.sent) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(graph.sent)} of {n} messages after {timeout} s")
        await asyncio.sleep(0.05)


async def timed(
    http: httpx.AsyncClient, url: str, arrivals: Arrivals, wa_id: str, text: str
) -> float:
    arrived = arrivals.expect(wa_id)
    started = time.perf_counter()
    await post(http, url, make_text(text, sender=wa_id))
    return await asyncio.wait_for(arrived, 30) - started


async def run(conversations: int, answers: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wahost-bench-dialogues-"))
    (workdir / "bench_dialogue_bot.py").write_text(textwrap.dedent(BOT))
    port = free_port()
    db = workdir / "wahost.db"
    async with FakeGraph(token=TEST_TOKEN) as graph:
        (workdir / "wahost.toml").write_text(
            CONFIG.format(
                pnid=TEST_PHONE_NUMBER_ID,
                token=TEST_TOKEN,
                secret=TEST_APP_SECRET,
                graph=graph.url,
                port=port,
                db=db,
            )
        )
        server = start_server(workdir)
        url = f"http://127.0.0.1:{port}/webhook"
        arrivals = Arrivals(graph)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                for _ in range(600):
                    try:
                        await http.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                # Warm up every path once (imports, caches), then measure.
                warm = user(conversations + 1)
                for text in ("/ping", "/signup", "Ann", "42"):
                    await timed(http, url, arrivals, warm, text)
                await asyncio.sleep(1.0)
                before = rss_kib(server.pid)
                db_before = files_size(workdir)

                started = time.perf_counter()
                sent_before = len(graph.sent)
                for first in range(0, conversations, BATCH):
                    texts = [
                        make_text("/signup", sender=user(n))
                        for n in range(first, min(first + BATCH, conversations))
                    ]
                    await post(http, url, make_webhook(*texts))
                await wait_count(graph, sent_before + conversations, timeout=600)
                start_seconds = time.perf_counter() - started
                await asyncio.sleep(2.0)  # the last acks, then a quiet process
                after = rss_kib(server.pid)
                db_after = files_size(workdir)

                sample = [
                    user(n) for n in range(0, conversations, max(1, conversations // answers))
                ]
                dialogue = [await timed(http, url, arrivals, u, "Bob") for u in sample[:answers]]
                plain = [await timed(http, url, arrivals, u, "/ping") for u in sample[:answers]]
        finally:
            server.terminate()
            server.wait(30)
        journal = _journal_sizes(db)
    growth = after - before
    print(f"waiting conversations: {conversations} (started in {start_seconds:.1f} s)")
    print(f"server RSS: {before / 1024:.1f} MiB warmed up, {after / 1024:.1f} MiB all waiting")
    print(f"  +{growth / 1024:.1f} MiB: {growth * 1024 / conversations:.0f} B a conversation")
    print(f"journal: {journal} B a waiting conversation")
    print(f"SQLite files: +{(db_after - db_before) / conversations:.0f} B a conversation")
    print(f"answer POST -> next prompt ({len(dialogue)} answers): {percentiles(dialogue)}")
    print(f"plain reply, for comparison ({len(plain)} pings): {percentiles(plain)}")


def start_server(workdir: Path) -> subprocess.Popen[bytes]:
    with open(workdir / "serve.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", "serve", "--config", str(workdir / "wahost.toml")],
            env={**os.environ, "WAHOST_PLUGINS": "none"},
            stdout=log,
            stderr=log,
        )


def files_size(workdir: Path) -> int:
    """Bytes of the SQLite database and its WAL."""
    return sum(path.stat().st_size for path in workdir.glob("wahost.db*"))


def _journal_sizes(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT avg(length(value)) FROM ws_kv WHERE namespace = 'wahost.dialogues'"
        ).fetchone()
    return round(row[0] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.conversations, args.answers))


if __name__ == "__main__":
    main()
