"""Scale-out on Redis: end-to-end units/s with 1 and with 2 ``wahost worker`` processes.

For each number of workers, on a fresh ``redis-server`` (AOF, ``appendfsync always`` unless
told otherwise): a backlog of text messages from many users is enqueued, the workers start
(``wahost worker --config F``, wahost-redis plus an echo plugin), and once every worker is up
they are released together; the clock runs until the fake Graph API (in this process) has
received the echo reply of every message. Each unit is leased, decoded, its conversation state
loaded, replied to through the outbox (a Graph API call) and acked, across processes.

Prints units/s for each run, the ratio, and the CPU each component used (cores = CPU seconds /
wall seconds), which is what bounds the ratio on a small machine; and first, the machine's own
scaling efficiency (a CPU-bound loop alone against one a core at once), which the workers'
efficiency cannot escape.

    python -m bench.scale [--units 10000] [--users 1000] [--concurrency 64]
                          [--appendfsync always|everysec] [--workers 1 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from wahost_redis import RedisQueue
from wahost_redis.testing import RedisServer, install_plugin, spawn, write_config

from bench.e2e import cpu_seconds
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text
from wahost.units import Unit, split

ECHO = '''
"""Echoes every text back; waits for the benchmark's "go" file before the first reply."""
import asyncio, os
from wahost import hookimpl

_released = False

@hookimpl
def wahost_startup(host):
    open(os.path.join(os.environ["SCALE_DIR"], f"ready-{os.getpid()}"), "w").close()

@hookimpl
async def on_message(message, ctx):
    global _released
    while not _released:
        _released = os.path.exists(os.path.join(os.environ["SCALE_DIR"], "go"))
        await asyncio.sleep(0 if _released else 0.005)
    await ctx.reply(message.text.body)
    return True
'''


@dataclass
class Run:
    workers: int
    units: int
    seconds: float = 0.0
    #: CPU seconds used during the run, by component.
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.units / self.seconds

    def report(self) -> str:
        cores = ", ".join(f"{name} {cpu / self.seconds:.2f}" for name, cpu in self.cpu.items())
        return (
            f"{self.workers} worker(s): {self.units} units in {self.seconds:.2f} s = "
            f"{self.rate:,.0f} units/s   (cores used: {cores})"
        )


def _ready(work: Path) -> int:
    """How many workers have started (each writes a file when its start-up hooks ran)."""
    return len(list(work.glob("ready-*")))


def _backlog(units: int, users: int) -> list[list[Unit]]:
    """Batches of 100 units, users' messages interleaved as they would arrive."""
    senders = [str(16_500_000_000 + n) for n in range(users)]
    flat: list[Unit] = []
    for n in range(units):
        user = senders[n % users]
        body = json.dumps(make_text(f"m{n}", sender=user, wamid=f"wamid.scale.{n}")).encode()
        flat.extend(split(body))
    return [flat[i : i + 100] for i in range(0, len(flat), 100)]


async def run_once(
    workers: int, batches: list[list[Unit]], *, concurrency: int, appendfsync: str
) -> Run:
    total = sum(len(batch) for batch in batches)
    work = Path(tempfile.mkdtemp(prefix="wahost-scale-"))
    redis = RedisServer(work / "redis", appendfsync=appendfsync)
    redis.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with FakeGraph() as graph:
            config = write_config(
                work / "wahost.toml",
                redis.url,
                graph_url=graph.url,
                sections={
                    "worker": {"concurrency": concurrency},
                    # One process must not pace the benchmark (Meta's 80/s is per number).
                    "graph": {"messages_per_second": 1_000_000.0},
                },
            )
            queue = RedisQueue(redis.url)
            await queue.open()
            for batch in batches:
                await queue.enqueue(batch)
            await queue.close()

            site = work / "site"
            install_plugin(site, "scale_echo", ECHO)
            env = {"SCALE_DIR": str(work)}
            for _ in range(workers):
                processes.append(
                    spawn(
                        "worker",
                        config,
                        site=site,
                        plugins=["scale_echo"],
                        env=env,
                        log=work / "worker.log",
                    )
                )
            deadline = time.monotonic() + 60
            while _ready(work) < workers:
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError((work / "worker.log").read_text()[-3000:])
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let every worker lease its first units

            pids = {"workers": [p.pid for p in processes], "redis": [redis.process.pid]}  # type: ignore[union-attr]
            pids["bench + fake Graph"] = [os.getpid()]
            before = {name: sum(map(cpu_seconds, ps)) for name, ps in pids.items()}
            started = time.perf_counter()
            (work / "go").touch()
            await graph.wait_for(total, timeout=600)
            run = Run(workers, total, time.perf_counter() - started)
            run.cpu = {name: sum(map(cpu_seconds, ps)) - before[name] for name, ps in pids.items()}
            return run
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


#: A CPU-bound Python loop: what it costs in CPU alone, and while copies of it keep the other
#: cores busy, is the machine's own scaling efficiency.
_SPIN = """
import time
started = time.thread_time()
table = {}
for n in range(3_000_000):
    table[n & 1023] = n
print(time.thread_time() - started)
"""


def _spin(copies: int) -> list[float]:
    """CPU seconds of ``copies`` runs of the loop at once."""
    processes = [
        subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
        for _ in range(copies)
    ]
    return [float(process.communicate()[0]) for process in processes]


def machine_efficiency(copies: int, rounds: int = 3) -> float:
    """The loop's CPU alone over its CPU with ``copies`` running at once (1.0: a busy core
    costs the others nothing), the median of ``rounds``. On a VM whose cores share a physical
    core, its caches or its memory bandwidth with each other or with other guests, each copy
    runs slower while the others run, so every process's CPU a unit grows with the load; the
    workers' scaling efficiency includes that."""
    ratios = []
    for _ in range(rounds):
        alone = _spin(1)[0]
        together = _spin(copies)
        ratios.append(alone / statistics.mean(together))
    return statistics.median(ratios)


def _ceilings(first: Run, last: Run) -> str:
    """What the CPU cost of a unit allows on this machine, whatever else runs on it.

    A worker (one Python thread) uses at most one core and needs W CPU seconds per unit; the
    rest (Redis, the fake Graph API, this driver) needs O, on the same cores.
    """
    worker = first.cpu["workers"] / first.units
    redis = first.cpu["redis"] / first.units
    rest = sum(cpu for name, cpu in first.cpu.items() if name != "workers") / first.units
    cores = os.cpu_count() or 1

    def ceiling(workers: int, others: float) -> float:
        return min(workers / worker, cores / (worker + others))

    best = ceiling(last.workers, rest) / ceiling(first.workers, rest)
    elsewhere = ceiling(last.workers, redis) / ceiling(first.workers, redis)
    # Scaling efficiency: the workers' CPU a unit with one worker over the same with more (1.0:
    # adding workers costs nothing per unit; lower: each unit costs more, e.g. contention).
    worker_last = last.cpu["workers"] / last.units
    efficiency = worker / worker_last if worker_last else float("nan")
    reached = (last.rate / first.rate) / best if best else float("nan")
    return (
        f"CPU per unit: workers {worker * 1000:.2f} ms, Redis {redis * 1000:.2f} ms, "
        f"the rest {(rest - redis) * 1000:.2f} ms; on {cores} idle cores that allows "
        f"{best:.2f}x at best, {elsewhere:.2f}x with the Graph API elsewhere (as Meta is)\n"
        f"bound for {last.workers} workers = {best:.2f}x (W={worker * 1000:.2f} ms, "
        f"O={rest * 1000:.2f} ms a unit); reached {last.rate / first.rate:.2f}x = "
        f"{reached:.0%} of the bound (goal >= 90%); scaling efficiency (worker CPU a unit, "
        f"{first.workers} / {last.workers} workers) = {efficiency:.2f} (goal >= 0.9)"
    )


async def main(args: argparse.Namespace) -> None:
    batches = _backlog(args.units, args.users)
    print(
        f"{args.units} text messages from {args.users} users; worker concurrency "
        f"{args.concurrency}; appendfsync {args.appendfsync}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    copies = min(max(args.workers), os.cpu_count() or 1)
    if copies > 1:
        print(
            f"this machine: a CPU-bound Python loop, alone and {copies} at once (one a core), "
            f"scales with efficiency {machine_efficiency(copies):.2f} (1.0: a busy core slows "
            "no other; the workers' efficiency below includes this)"
        )
    ratios = []
    for repeat in range(args.repeat):
        # Alternate the order, so that a drift of the machine's load favours neither.
        order = args.workers if repeat % 2 == 0 else args.workers[::-1]
        runs: dict[int, Run] = {}
        for workers in order:
            runs[workers] = await run_once(
                workers, batches, concurrency=args.concurrency, appendfsync=args.appendfsync
            )
            print(runs[workers].report(), flush=True)
        if len(runs) >= 2:
            first, last = runs[min(runs)], runs[max(runs)]
            ratios.append(last.rate / first.rate)
            print(f"ratio {last.workers} vs {first.workers}: {ratios[-1]:.2f}x")
            print(_ceilings(first, last))
    if len(ratios) > 1:
        print(f"median ratio of {len(ratios)}: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--appendfsync", choices=["always", "everysec", "no"], default="always")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, interleaved")
    try:  # the fake Graph API on uvloop, as the workers run (wahost uses it when installed)
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(parser.parse_args()))
    sys.exit(0)
