"""Benchmark the SQLite queue: single-unit enqueues, a 100k backlog, and draining it.

    python bench/queue_backlog.py [--units 100000] [--conversations 1000] [--synchronous normal]

Prints enqueue rates with 1 and 64 concurrent callers (and commits per 64 concurrent
enqueues), the rate of enqueueing the backlog in batches of 100, the latency of one lease(64)
at full backlog, the drain rate with lease(64) + ack, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from wahost.queue.sqlite import SQLiteQueue
from wahost.units import Unit

BODY = b'{"field":"messages","item":{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUI","type":"text"}}'


def unit(n: int, conversations: int, prefix: str = "") -> Unit:
    user = str(15550000000 + n % conversations)
    return Unit(f"msg:{prefix}{n}", "message", "pn1", user, f"pn1:{user}", BODY)


async def single_enqueues(queue: SQLiteQueue, callers: int, calls: int) -> tuple[float, float]:
    """Rate of one-unit enqueue calls with ``callers`` concurrent callers; commits per group."""
    counter = iter(range(calls))
    commits_before = queue.database.commits

    async def caller() -> None:
        for n in counter:
            await queue.enqueue([unit(n, 1000, prefix=f"single{callers}-")])

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    commits = queue.database.commits - commits_before
    return calls / elapsed, commits / (calls / callers)


async def drain_all(queue: SQLiteQueue) -> int:
    drained = 0
    while leases := await queue.lease(64, lease_seconds=60):
        await asyncio.gather(*(queue.ack(lease) for lease in leases))
        drained += len(leases)
    return drained


async def main(args: argparse.Namespace) -> None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        queue = SQLiteQueue(Path(tmp) / "bench.db", synchronous=args.synchronous)
        await queue.open()

        rate, _ = await single_enqueues(queue, 1, 2000)
        print(f"enqueue, 1 caller:        {rate:9.0f} calls/s (1 unit each)")
        rate, per_group = await single_enqueues(queue, 64, 6400)
        print(f"enqueue, 64 callers:      {rate:9.0f} calls/s; {per_group:.2f} commits per 64")
        await drain_all(queue)

        started = time.perf_counter()
        for start in range(0, args.units, 100):
            await queue.enqueue([unit(n, args.conversations) for n in range(start, start + 100)])
        elapsed = time.perf_counter() - started
        print(f"backlog enqueue:          {args.units / elapsed:9.0f} units/s (batches of 100)")

        started = time.perf_counter()
        first = await queue.lease(64, lease_seconds=60)
        print(f"lease(64) at backlog:     {(time.perf_counter() - started) * 1000:9.2f} ms")
        await asyncio.gather(*(queue.ack(lease) for lease in first))

        commits = queue.database.commits
        started = time.perf_counter()
        drained = len(first) + await drain_all(queue)
        elapsed = time.perf_counter() - started
        assert drained == args.units, drained
        print(
            f"drain lease(64)+ack:      {drained / elapsed:9.0f} units/s"
            f" ({(queue.database.commits - commits) / drained * 64:.1f} commits per 64 units)"
        )
        stats = await queue.stats()
        await queue.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:                 {peak:9.1f} MiB ({baseline:.1f} MiB after imports)")
    assert stats.done >= args.units


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--synchronous", choices=["normal", "full", "off"], default="normal")
    asyncio.run(main(parser.parse_args()))
