"""How long one ``lease(64)`` takes when N lanes wait for a retry due later (cost growth).

python -m bench.lease_scan [--sizes 0 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.__main__ import prefill
from bench.queue_backlog import unit
from wahost.queue.sqlite import SQLiteQueue


async def one(size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "q.db"
        if size:
            await prefill(db, size, delayed=True)
        queue = SQLiteQueue(str(db))
        await queue.open()
        try:
            timings = []
            for round_ in range(20):
                await queue.enqueue([unit(n, 64, prefix=f"r{round_}-") for n in range(64)])
                started = time.perf_counter()
                leases = await queue.lease(64, lease_seconds=60)
                timings.append(time.perf_counter() - started)
                assert len(leases) == 64, len(leases)
                await asyncio.gather(*(queue.ack(lease) for lease in leases))
            timings.sort()
            return timings[len(timings) // 2] * 1000
        finally:
            await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 10_000, 100_000])
    args = parser.parse_args()
    for size in args.sizes:
        print(
            f"{size:>8} lanes waiting for a retry: lease(64) median {asyncio.run(one(size)):.2f} ms"
        )


if __name__ == "__main__":
    main()
