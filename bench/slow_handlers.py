"""Slow handlers against Meta's cap: a bot whose handler awaits a 1 s upstream, many users at once.

    python -m bench.slow_handlers [--users 3000] [--mps 80] [--handler 1.0] [--concurrency N]

A real ``wahost serve`` process (SQLite, the defaults, the installed plugins) runs a bot whose
only handler sleeps ``--handler`` seconds (an LLM, a database) and replies. The fake Graph API
runs in this process and enforces ``--mps`` (the process is configured with the same
``[graph] messages_per_second``): a message beyond it would be answered 130429 and counted.
``--users`` users write at once (webhooks of 50 messages, as Meta batches them). ``--concurrency``
sets ``[worker] concurrency``; without it the default (derived from the cap) is measured.

Printed: the replies per second from the first to the last, against the cap; the time from a
user's webhook to the reply's arrival at the fake Graph API (p50, p99, max); the server's peak
RSS; the most handlers in flight at once; the messages the fake throttled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text, make_webhook, signed_webhook

BOT = """
import asyncio, os
from wahost import Router

router = Router(name="slow")
_in_flight = 0
_peak = 0

@router.message()
async def slow(ctx):
    global _in_flight, _peak
    _in_flight += 1
    if _in_flight > _peak:
        _peak = _in_flight
        with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
            out.write(str(_peak))
    try:
        await asyncio.sleep(float(os.environ["BENCH_HANDLER_SECONDS"]))
    finally:
        _in_flight -= 1
    await ctx.reply("done")
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
messages_per_second = {mps}
[logging]
level = "warning"
[bot]
modules = ["bench_slow_bot"]
{worker}
"""

#: Users per webhook (Meta batches up to 1000 updates; 50 is a busy number's usual).
BATCH = 50
#: Webhooks posted at once (Meta's delivery is concurrent too).
POSTERS = 8


def user(n: int) -> str:
    return f"1888{n:07d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def post_all(url: str, users: int, posted: dict[str, float]) -> None:
    """Every user's message, in webhooks of :data:`BATCH`, :data:`POSTERS` at a time; each
    user's time is when its webhook was posted (``time.monotonic()``)."""
    batches = [list(range(first, min(first + BATCH, users))) for first in range(0, users, BATCH)]
    queue: asyncio.Queue[list[int]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def poster(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            texts = [make_text(f"question {n}", sender=user(n)) for n in batch]
            body, headers = signed_webhook(make_webhook(*texts), TEST_APP_SECRET)
            at = time.monotonic()
            response = await http.post(url, content=body, headers=headers)
            response.raise_for_status()
            for n in batch:
                posted[user(n)] = at

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(poster(http) for _ in range(POSTERS)))


def start_server(workdir: Path, peak_file: Path, handler: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(workdir), *sys.path]),
        "BENCH_PEAK_FILE": str(peak_file),
        "BENCH_HANDLER_SECONDS": str(handler),
    }
    with open(workdir / "serve.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", "serve", "--config", "wahost.toml"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=log,
        )


async def run(users: int, mps: float, handler: float, concurrency: int | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wahost-bench-slow-"))
    (workdir / "bench_slow_bot.py").write_text(textwrap.dedent(BOT))
    peak_file = workdir / "peak"
    port = free_port()
    worker = "" if concurrency is None else f"[worker]\nconcurrency = {concurrency}"
    async with FakeGraph(token=TEST_TOKEN, messages_per_second=mps) as graph:
        (workdir / "wahost.toml").write_text(
            CONFIG.format(
                pnid=TEST_PHONE_NUMBER_ID,
                token=TEST_TOKEN,
                secret=TEST_APP_SECRET,
                graph=graph.url,
                port=port,
                db=workdir / "wahost.db",
                mps=mps,
                worker=worker,
            )
        )
        server = start_server(workdir, peak_file, handler)
        url = f"http://127.0.0.1:{port}/webhook"
        posted: dict[str, float] = {}
        peak_rss = 0
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                for _ in range(600):
                    try:
                        await http.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.TransportError:
                        if server.poll() is not None:
                            raise SystemExit((workdir / "serve.log").read_text()[-3000:]) from None
                        await asyncio.sleep(0.05)
            idle_rss = rss_kib(server.pid)
            posting = asyncio.create_task(post_all(url, users, posted))
            deadline = time.monotonic() + users / mps * 3 + handler + 60
            while len(graph.sent) < users:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{len(graph.sent)} of {users} replies in time")
                peak_rss = max(peak_rss, rss_kib(server.pid))
                await asyncio.sleep(0.1)
            await posting
        finally:
            server.terminate()
            server.wait(30)
    replies = sorted(graph.sent, key=lambda sent: sent.at)
    seconds = replies[-1].at - replies[0].at
    rate = (len(replies) - 1) / seconds if seconds > 0 else float("nan")
    latencies = sorted(sent.at - posted[sent.wa_id] for sent in replies)
    peak = int(peak_file.read_text()) if peak_file.exists() else 0
    setting = "derived (default)" if concurrency is None else str(concurrency)
    print(f"{users} users at once; handler {handler:g} s; cap {mps:g}/s; concurrency {setting}")
    print(f"replies: {rate:.1f}/s = {rate / mps * 100:.1f} % of the cap ({seconds:.1f} s)")
    print(
        f"webhook to reply: p50 {quantile(latencies, 0.5):.2f} s, "
        f"p99 {quantile(latencies, 0.99):.2f} s, max {latencies[-1]:.2f} s"
    )
    print(f"server RSS: {idle_rss / 1024:.0f} MiB idle, {peak_rss / 1024:.0f} MiB peak")
    print(f"handlers in flight at most: {peak}; throttled by the fake (130429): {graph.throttled}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--mps", type=float, default=80.0, help="[graph] messages_per_second")
    parser.add_argument("--handler", type=float, default=1.0, help="seconds a handler waits")
    parser.add_argument("--concurrency", type=int, default=None, help="[worker] concurrency")
    args = parser.parse_args()
    asyncio.run(run(args.users, args.mps, args.handler, args.concurrency))


if __name__ == "__main__":
    main()
