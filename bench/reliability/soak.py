"""Soak: a real ``wahost serve`` under steady load for a while (10 minutes by default), its
resident memory sampled every few seconds. The default rate, 600 webhooks/s, is what ingress
and the worker (with the recording plugin) sustain together on a 2-core machine shared with
the load generator; ``--rate 4000`` offers the ingress benchmark's peak, which ingress holds
while the worker falls behind (the backlog is reported and drained afterwards).

Passes when every webhook answered 200 is handled exactly once, nothing answered 5xx, and
memory after the warm-up (the first 10 % of the run) grows by at most ``growth_mb`` (default
64 MB) — the stated bound.

    python -m bench.reliability soak            # 600 s
    python -m bench.reliability.soak --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench.crash import (
    Server,
    _free_port,
    _handled,
    _wait_drained,
    _wait_ready,
    _webhook,
    recorder_env,
)
from bench.e2e import Connection
from bench.reliability import Row
from bench.reliability.kill_before_200 import _config
from wahost.testing.harness import sign


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_soak(
    tmp: Path,
    *,
    seconds: float = 600,
    rate: float = 600,
    users: int = 500,
    growth_mb: float = 64,
    concurrency: int = 64,
) -> Row:
    row = Row("soak", f"{seconds:.0f} s at ~{rate:.0f} webhooks/s over {users} users")
    env, record_db = recorder_env(tmp)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    _config(tmp, port, worker=True)
    server = Server(tmp, port, env)
    server.start()
    _wait_ready(url)
    assert server.process is not None
    pid = server.process.pid
    samples: list[tuple[float, float]] = []
    acked: set[str] = set()
    statuses: dict[int | None, int] = {}
    sent_total = [0]

    async def load() -> None:
        # `concurrency` keep-alive connections (the minimal client of bench/e2e.py: a few tens
        # of microseconds a post, so one core can offer thousands a second), each taking the
        # next webhook number when its time comes: the n-th webhook is due at n / rate. A
        # server that falls behind slows the load down (the achieved rate is reported) instead
        # of piling up requests; nothing is unbounded.
        started = time.monotonic()
        counter = itertools.count()

        async def sampler() -> None:
            while True:
                samples.append((time.monotonic() - started, _rss_mb(pid)))
                await asyncio.sleep(5)

        async def client() -> None:
            connection = Connection(port)
            try:
                while True:
                    n = next(counter)
                    due = started + n / rate
                    # Stop at the deadline even when behind schedule: the run lasts `seconds`,
                    # not however long the server takes to absorb `rate * seconds` webhooks.
                    if due - started >= seconds or time.monotonic() - started >= seconds:
                        return
                    if (wait := due - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                    sent_total[0] += 1
                    user = f"1650444{n % users:04d}"
                    body = _webhook(user, n)
                    signature = sign(body)
                    for _ in range(20):  # like Meta: re-post until 200
                        try:
                            status: int | None = await connection.post("/webhook", body, signature)
                        except (OSError, asyncio.IncompleteReadError, ValueError):
                            status = None
                            connection.close()
                            connection = Connection(port)
                        statuses[status] = statuses.get(status, 0) + 1
                        if status == 200:
                            acked.add(f"wamid.crash.{user}.{n}")
                            break
                        await asyncio.sleep(0.5)
            finally:
                connection.close()

        sampling = asyncio.create_task(sampler())
        try:
            await asyncio.gather(*(client() for _ in range(concurrency)))
        finally:
            sampling.cancel()

    try:
        asyncio.run(load())
        load_ended = time.monotonic()
        backlog = len(acked) - _handled(record_db)
        _wait_drained(record_db, len(acked), timeout=120)
        drain = time.monotonic() - load_ended
        samples.append((seconds, _rss_mb(pid)))
    finally:
        server.stop()
    with sqlite3.connect(record_db, timeout=30) as db:
        handled = dict(db.execute("SELECT wamid, COUNT(*) FROM handled GROUP BY wamid").fetchall())
    row.lost = len(acked - set(handled))
    row.duplicated = sum(count - 1 for count in handled.values())
    row.errors_5xx = sum(n for code, n in statuses.items() if code is not None and code >= 500)
    row.lost += sent_total[0] - len(acked)  # never answered 200 despite re-posts
    warm = [mb for at, mb in samples if at >= seconds * 0.1] or [samples[-1][1]]
    growth = max(warm) - warm[0]
    if growth > growth_mb:
        row.fail(f"RSS grew {growth:.0f} MB after warm-up (bound {growth_mb:.0f})")
    if row.lost or row.duplicated or row.errors_5xx:
        row.ok = False
    row.notes.append(
        f"{len(acked)} acked ({len(acked) / seconds:.0f}/s achieved of {rate:.0f}/s offered), "
        f"{statuses.get(None, 0)} posts unanswered (re-posted); "
        f"RSS {warm[0]:.0f} -> max {max(warm):.0f} MB after warm-up "
        f"(bound +{growth_mb:.0f} MB); {backlog} units not yet handled when the load stopped, "
        f"drained {drain:.0f} s later"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=600)
    args = parser.parse_args()
    row = run_soak(
        Path(tempfile.mkdtemp(prefix="wahost-soak-")), seconds=args.seconds, rate=args.rate
    )
    print(row)
    sys.exit(0 if row.ok else 1)


if __name__ == "__main__":
    main()
