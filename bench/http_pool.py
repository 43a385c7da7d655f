"""Bot-side CPU a send: httpx's default pool, :class:`wahost.http_pool.PoolTransport` under
httpx, and :class:`wahost.post_pool.PostPool` (what :class:`~wahost.graph.GraphClient` sends
with by default).

    python -m bench.http_pool [-n 5000] [-c 64] [--rounds 3]

Sends ``n`` text messages through :class:`wahost.graph.GraphClient` at concurrency ``c`` to the
fake Graph API running in its own process (:mod:`bench.fake_graph_proc`, so its CPU is not
counted): with ``httpx.AsyncHTTPTransport`` (httpx's default pool, ``[graph]
max_connections`` = 100 as GraphClient configured it), with ``PoolTransport`` given as the
transport (every request through httpx), and with no transport given (sends over the post
pool), alternating for ``rounds`` rounds in this one process. CPU is
``time.process_time()`` of this process around the sends (after a warm-up that opens the
connections); prints the median per variant and the ratio. Figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.fake_graph_proc import TOKEN
from wahost.graph import GraphClient
from wahost.http_pool import PoolTransport
from wahost.testing import make_config

ROOT = Path(__file__).resolve().parent.parent
MAX_CONNECTIONS = 100


def default_pool() -> httpx.AsyncBaseTransport:
    """What GraphClient used before: httpx's transport, limits as it set them."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    return httpx.AsyncHTTPTransport(limits=limits)


VARIANTS: dict[str, Callable[[], httpx.AsyncBaseTransport | None]] = {
    "httpx default pool": default_pool,
    "httpx + PoolTransport": lambda: PoolTransport(max_connections=MAX_CONNECTIONS),
    "PostPool (default)": lambda: None,  # GraphClient's default: sends skip httpx
}


async def run(
    url: str,
    workdir: Path,
    make: Callable[[], httpx.AsyncBaseTransport | None],
    n: int,
    concurrency: int,
) -> tuple[float, float]:
    """``(CPU seconds, wall seconds)`` for ``n`` sends after a warm-up."""
    config = make_config(
        workdir,
        {
            "whatsapp": {"graph_url": url, "token": TOKEN},
            "graph": {
                "max_connections": MAX_CONNECTIONS,
                "messages_per_second": 1e9,
                "recipient_interval": 0.0,
            },
        },
    )
    client = GraphClient(config, transport=make())
    try:

        async def sender(count: int, worker: int) -> None:
            for i in range(count):
                await client.send(f"1650555{worker:04d}", text=f"bench {worker} {i}")

        async def batch(total: int) -> None:
            per, extra = divmod(total, concurrency)
            await asyncio.gather(*(sender(per + (w < extra), w) for w in range(concurrency)))

        await batch(max(concurrency * 4, 256))  # warm-up: connections open, code paths hot
        cpu, wall = time.process_time(), time.perf_counter()
        await batch(n)
        return time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await client.aclose()


async def measure(url: str, workdir: Path, n: int, concurrency: int, rounds: int) -> None:
    """Alternate the variants for ``rounds`` rounds; print each run, the medians, the ratio."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for round_ in range(rounds):
        for name, make in VARIANTS.items():
            cpu, wall = await run(url, workdir, make, n, concurrency)
            results[name].append((cpu, wall))
            print(
                f"round {round_ + 1} {name:22} {cpu / n * 1e6:7.1f} µs CPU/send  "
                f"{n / wall:7.0f} sends/s",
                flush=True,
            )
    print(f"\n{n} sends, concurrency {concurrency}, median of {rounds} rounds:")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(cpu for cpu, _ in runs) / n
        rate = statistics.median(n / wall for _, wall in runs)
        print(f"  {name:22} {medians[name] * 1e6:7.1f} µs CPU/send  {rate:7.0f} sends/s")
    first = next(iter(medians))
    for name, median in medians.items():
        if name != first:
            print(f"  {name} / {first}: {median / medians[first]:.2f}")
    *_, pooled, default = medians.values()
    print(f"  PostPool / PoolTransport: {default / pooled:.2f} ({pooled / default:.1f}x less CPU)")


def main(n: int, concurrency: int, rounds: int) -> None:
    try:
        import uvloop

        uvloop.install()  # as wahost serve runs when it is installed
    except ImportError:  # pragma: no cover
        pass
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fake = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_graph_proc", str(workdir / "graph.jsonl")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            url = fake.stdout.readline().strip()
            asyncio.run(measure(url, workdir, n, concurrency, rounds))
        finally:
            fake.terminate()
            fake.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.n, args.concurrency, args.rounds)
