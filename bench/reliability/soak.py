"""Soak: a real ``wahost serve`` under steady load for a while (10 minutes by default), its
resident memory sampled every few seconds. Passes when every webhook answered 200 is handled
exactly once, nothing answered 5xx, and memory after the warm-up (the first 10 % of the run)
grows by at most ``growth_mb`` (default 64 MB) — the stated bound.

    python -m bench.reliability soak            # 600 s
    python -m bench.reliability.soak --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.crash import Server, _free_port, _wait_drained, _wait_ready, _webhook, recorder_env
from bench.reliability import Row
from bench.reliability.kill_before_200 import _config, _post


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_soak(
    tmp: Path,
    *,
    seconds: float = 600,
    rate: float = 100,
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
        started = time.monotonic()
        sent = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            tasks: set[asyncio.Task[None]] = set()
            next_sample = started

            async def one(n: int) -> None:
                user = f"1650444{n % users:04d}"
                wamid = f"wamid.crash.{user}.{n}"
                body = _webhook(user, n)
                for _ in range(20):  # like Meta: re-post until 200
                    status = await _post(http, url + "/webhook", body)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        acked.add(wamid)
                        return
                    await asyncio.sleep(0.5)

            while (now := time.monotonic()) - started < seconds:
                if now >= next_sample:
                    samples.append((now - started, _rss_mb(pid)))
                    next_sample += 5
                due = int((now - started) * rate)
                # At most `concurrency` posts in flight: a server that falls behind slows the
                # load down (the achieved rate is reported) instead of piling up requests.
                while sent < due and len(tasks) < concurrency:
                    task = asyncio.create_task(one(sent))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    sent += 1
                await asyncio.sleep(0.005)
            await asyncio.gather(*tasks)
            sent_total[0] = sent

    try:
        asyncio.run(load())
        _wait_drained(record_db, len(acked), timeout=120)
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
        f"{len(acked)} acked ({len(acked) / seconds:.0f}/s achieved), "
        f"{statuses.get(None, 0)} posts unanswered (re-posted); "
        f"RSS {warm[0]:.0f} -> max {max(warm):.0f} MB after warm-up "
        f"(bound +{growth_mb:.0f} MB)"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    row = run_soak(
        Path(tempfile.mkdtemp(prefix="wahost-soak-")), seconds=args.seconds, rate=args.rate
    )
    print(row)
    sys.exit(0 if row.ok else 1)


if __name__ == "__main__":
    main()
