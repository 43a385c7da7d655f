"""Slow handlers against Meta's cap: a bot whose handler awaits a 1 s upstream, many users at once.

    python -m bench.slow_handlers [--users 3000] [--mps 80] [--handler 1.0] [--concurrency N]
                                  [--batch 50] [--pywa]

A real ``wahost serve`` process (SQLite, the defaults, the installed plugins) runs a bot whose
only handler sleeps ``--handler`` seconds (an LLM, a database) and replies. The fake Graph API
runs in this process and enforces ``--mps`` (the process is configured with the same
``[graph] messages_per_second``): a message beyond it would be answered 130429 and counted.
``--users`` users write at once (webhooks of 50 messages, as Meta batches them). ``--concurrency``
sets ``[worker] concurrency``; without it the default (derived from the cap) is measured.

Printed: the replies per second from the first to the last, against the cap; the time from a
user's webhook to the reply's arrival at the fake Graph API (p50, p99, max); the server's peak
RSS; the most handlers in flight at once; the messages the fake throttled.

``--pywa`` runs the same bot on pywa (``bench/pywa_app.py`` with ``PYWA_BENCH_SLOW``, pywa from
the benchmark's own virtual environment, see ``python -m bench``) after wahost, with one message
a webhook for both (pywa handles only the first message of a webhook). pywa has no send cap:
what it sends beyond Meta's is refused (130429) and that reply is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from bench.e2e import Connection
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
#: Webhooks posted at once (Meta's delivery is concurrent too): 8 of 50 messages, or 64 of one.
POSTERS = 8
POSTERS_SINGLE = 64


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


async def post_all(port: int, users: int, posted: dict[str, float], batch: int = BATCH) -> None:
    """Every user's message, in webhooks of ``batch``, :data:`POSTERS` at a time
    (:data:`POSTERS_SINGLE` for one message a webhook); each user's time is when its webhook
    was posted (``time.monotonic()``). The bodies are built and signed before the first POST,
    and sent over plain keep-alive connections: the load generator shares its process with
    the fake Graph API and must not be what limits the rate."""
    webhooks: asyncio.Queue[tuple[list[str], bytes, str]] = asyncio.Queue()
    for first in range(0, users, batch):
        numbers = range(first, min(first + batch, users))
        payload = make_webhook(*(make_text(f"question {n}", sender=user(n)) for n in numbers))
        for entry in payload["entry"]:
            for change in entry["changes"]:
                # Meta's 2026 contacts carry a business-scoped user id, which pywa 4.x
                # requires (reference/cloudapi.md §13).
                for contact in change["value"].get("contacts", []):
                    contact["user_id"] = f"US.{contact['wa_id']}"
        body, headers = signed_webhook(payload, TEST_APP_SECRET)
        webhooks.put_nowait(([user(n) for n in numbers], body, headers["X-Hub-Signature-256"]))

    async def poster() -> None:
        connection = Connection(port)
        try:
            while not webhooks.empty():
                senders, body, signature = webhooks.get_nowait()
                at = time.monotonic()
                status = await connection.post("/webhook", body, signature)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")
                for sender in senders:
                    posted[sender] = at
        finally:
            connection.close()

    posters = POSTERS if batch > 1 else POSTERS_SINGLE
    await asyncio.gather(*(poster() for _ in range(posters)))


def start_pywa(workdir: Path, port: int, graph: str, handler: float) -> subprocess.Popen[bytes]:
    from bench.__main__ import venv_python

    env = {
        **os.environ,
        "PYWA_BENCH_SECRET": TEST_APP_SECRET,
        "PYWA_BENCH_GRAPH": graph,
        "PYWA_BENCH_TOKEN": TEST_TOKEN,
        "PYWA_BENCH_SLOW": str(handler),
    }
    command = ["-m", "uvicorn", "bench.pywa_app:app", "--port", str(port)]
    with open(workdir / "pywa.log", "ab") as log:
        return subprocess.Popen(
            [venv_python(), *command, "--log-level", "warning", "--no-access-log"],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=log,
            stderr=log,
        )


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


async def run(
    users: int,
    mps: float,
    handler: float,
    concurrency: int | None,
    *,
    batch: int = BATCH,
    pywa: bool = False,
) -> None:
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
        server = (
            start_pywa(workdir, port, graph.url, handler)
            if pywa
            else start_server(workdir, peak_file, handler)
        )
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
            posting = asyncio.create_task(post_all(port, users, posted, batch))
            deadline = time.monotonic() + users / mps * 3 + handler + 60
            last, settled = -1, time.monotonic()
            while len(graph.sent) < users:
                if time.monotonic() > deadline:
                    if pywa:
                        break  # report what arrived
                    raise SystemExit(f"{len(graph.sent)} of {users} replies in time")
                if len(graph.sent) + graph.throttled != last:
                    last, settled = len(graph.sent) + graph.throttled, time.monotonic()
                elif pywa and posting.done() and time.monotonic() - settled > handler + 5:
                    break  # pywa does not send again what Meta refused: no more will come
                peak_rss = max(peak_rss, rss_kib(server.pid))
                await asyncio.sleep(0.1)
            if not posting.done():
                posting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await posting
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:  # pywa waits for its background tasks
                server.kill()
                server.wait()
    replies = sorted(graph.sent, key=lambda sent: sent.at)
    setting = "derived (default)" if concurrency is None else str(concurrency)
    name = "pywa" if pywa else "wahost"
    print(
        f"{name}: {users} users at once, {batch} a webhook; handler {handler:g} s; "
        f"cap {mps:g}/s; concurrency {setting if not pywa else 'unbounded'}"
    )
    if not replies:
        log = workdir / ("pywa.log" if pywa else "serve.log")
        print(f"replies: none arrived (the server's log: {log})")
        return
    seconds = replies[-1].at - replies[0].at
    rate = (len(replies) - 1) / seconds if seconds > 0 else float("nan")
    latencies = sorted(sent.at - posted[sent.wa_id] for sent in replies)
    peak = int(peak_file.read_text()) if peak_file.exists() else 0
    print(
        f"replies: {len(replies)} of {users}, {rate:.1f}/s = {rate / mps * 100:.1f} % of the cap "
        f"({seconds:.1f} s)"
    )
    print(
        f"webhook to reply: p50 {quantile(latencies, 0.5):.2f} s, "
        f"p99 {quantile(latencies, 0.99):.2f} s, max {latencies[-1]:.2f} s"
    )
    print(f"server RSS: {idle_rss / 1024:.0f} MiB idle, {peak_rss / 1024:.0f} MiB peak")
    in_flight = "-" if pywa else str(peak)
    print(
        f"handlers in flight at most: {in_flight}; throttled by the fake (130429): "
        f"{graph.throttled}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--mps", type=float, default=80.0, help="[graph] messages_per_second")
    parser.add_argument("--handler", type=float, default=1.0, help="seconds a handler waits")
    parser.add_argument("--concurrency", type=int, default=None, help="[worker] concurrency")
    parser.add_argument("--batch", type=int, default=None, help=f"messages a webhook ({BATCH})")
    parser.add_argument("--pywa", action="store_true", help="then the same bot on pywa")
    args = parser.parse_args()
    batch = args.batch or (1 if args.pywa else BATCH)
    asyncio.run(run(args.users, args.mps, args.handler, args.concurrency, batch=batch))
    if args.pywa:
        print()
        asyncio.run(run(args.users, args.mps, args.handler, None, batch=batch, pywa=True))


if __name__ == "__main__":
    main()
