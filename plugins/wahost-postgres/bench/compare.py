"""``serve`` + 2 workers on PostgreSQL against the same on Redis, for an echo bot, in one run.

For each backend, on a server of its own with the durability the no-loss promise needs
(PostgreSQL: a throwaway cluster, ``fsync = on``, ``synchronous_commit = on``; Redis: AOF with
``appendfsync always``): ``wahost serve`` (ingress only) and two ``wahost worker`` processes
with an echo plugin; Meta is played by posters sending signed webhooks over HTTP (one message
each, each user's in order, each until answered 200), and the clock runs until the fake Graph
API (in this process) has received every echo. Prints units/s and the CPU per unit of each
component (serve, workers, the database server, this process with the fake Graph API).

    python plugins/wahost-postgres/bench/compare.py [--units 3000] [--users 300] [--posters 16]
        [--rounds 1]

With ``--rounds N`` the backends run in turn, PostgreSQL then Redis, N times, and the ratio is
printed for each pair and as the median of the pairs: on a machine whose load drifts (shared
with other work) a pair run back to back compares like with like.

Needs the PostgreSQL server binaries (initdb, pg_ctl) and redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from wahost_postgres.testing import Cluster, free_port, install_plugin, wait_for_port

# The repository's bench package (run as a script from anywhere in the checkout).
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from bench.e2e import cpu_seconds
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text, signed_webhook

ECHO = '''
"""Echoes every text back."""
from wahost import hookimpl

@hookimpl
async def on_message(message, ctx):
    await ctx.reply(message.text.body)
    return True
'''


@dataclass
class Run:
    backend: str
    units: int
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def report(self) -> str:
        per_unit = ", ".join(
            f"{name} {cpu / self.units * 1e3:.2f}" for name, cpu in self.cpu.items()
        )
        total = sum(self.cpu.values()) / self.units * 1e3
        return (
            f"{self.backend:<10} {self.units / self.seconds:7.0f} units/s"
            f"   CPU ms/unit: {per_unit}; all {total:.2f}"
        )


async def post_all(url: str, units: int, users: int, posters: int, tag: str = "run") -> None:
    senders = [str(16_500_000_000 + n) for n in range(users)]

    async def poster(index: int, http: httpx.AsyncClient) -> None:
        mine = senders[index::posters]
        for n in range(index, units, posters):
            user = mine[(n // posters) % len(mine)]
            body, headers = signed_webhook(
                make_text(f"m{n}", sender=user, wamid=f"wamid.{tag}.{n}")
            )
            for _ in range(200):  # Meta's retries, quicker
                response = await http.post(url, content=body, headers=headers)
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")

    limits = httpx.Limits(max_connections=posters)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(poster(i, http) for i in range(posters)))


def server_cpu(pids: list[int]) -> float:
    """CPU seconds of a server's processes: the first (the postmaster, or redis-server) with
    its children that have ended (PostgreSQL's autovacuum workers come and go during a run),
    the others as they are now."""
    total = 0.0
    for n, pid in enumerate(pids):
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
            if n == 0:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


async def run_backend(
    backend: str,
    args: argparse.Namespace,
    work: Path,
    server_pids: Callable[[], list[int]],
    config_for: Callable[[Path, int, str], Path],
    spawn_one: Callable[[str, Path, Path], subprocess.Popen[bytes]],
) -> Run:
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with FakeGraph() as graph:
            config = config_for(work / f"{backend}.toml", port, graph.url)
            processes.append(spawn_one("serve", config, work))
            processes += [spawn_one("worker", config, work) for _ in range(2)]
            await wait_for_port(port)
            url = f"http://127.0.0.1:{port}/webhook"
            await post_all(url, 40, 10, 4, "warm")  # warm up: connections, prepared plans
            await graph.wait_for(40, timeout=60)
            graph.sent.clear()
            pids = {
                "serve": [processes[0].pid],
                "workers": [p.pid for p in processes[1:]],
                "bench+graph": [os.getpid()],
            }
            before = {name: sum(map(cpu_seconds, ps)) for name, ps in pids.items()}
            before["server"] = server_cpu(server_pids())
            started = time.perf_counter()
            await post_all(url, args.units, args.users, args.posters)
            await graph.wait_for(args.units, timeout=600)
            run = Run(backend, args.units, time.perf_counter() - started)
            cpu = {name: sum(map(cpu_seconds, ps)) - before[name] for name, ps in pids.items()}
            cpu["server"] = server_cpu(server_pids()) - before["server"]
            run.cpu = {name: cpu[name] for name in ("serve", "workers", "server", "bench+graph")}
            return run
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)


def _sections(port: int, graph_url: str) -> dict[str, dict[str, object]]:
    return {
        "server": {"port": port},
        "worker": {"enabled": False},  # serve is ingress only; the workers are their own
        # One number must not pace the bench: neither Meta's cap nor its spacing per user.
        "graph": {"messages_per_second": 1_000_000.0, "recipient_interval": 0.0},
    }


async def bench_postgres(args: argparse.Namespace, work: Path) -> Run:
    from wahost_postgres.testing import spawn, write_config

    cluster = Cluster(fsync=True)
    cluster.start()
    site = work / "site"
    install_plugin(site, "compare_echo", ECHO)
    try:

        def config_for(path: Path, port: int, graph_url: str) -> Path:
            sections = _sections(port, graph_url)
            return write_config(
                path, cluster.url, "bench", port=port, graph_url=graph_url, sections=sections
            )

        def spawn_one(command: str, config: Path, work: Path) -> subprocess.Popen[bytes]:
            return spawn(command, config, site=site, plugins=["compare_echo"], log=work / "pg.log")

        return await run_backend(
            "postgres", args, work, lambda: cluster.pids(), config_for, spawn_one
        )
    finally:
        cluster.remove()


async def bench_redis(args: argparse.Namespace, work: Path) -> Run:
    from wahost_redis.testing import RedisServer, spawn, write_config

    server = RedisServer(work / "redis", appendfsync="always")
    server.start()
    site = work / "site"
    install_plugin(site, "compare_echo", ECHO)
    try:

        def config_for(path: Path, port: int, graph_url: str) -> Path:
            sections = _sections(port, graph_url)
            return write_config(path, server.url, port=port, graph_url=graph_url, sections=sections)

        def spawn_one(command: str, config: Path, work: Path) -> subprocess.Popen[bytes]:
            return spawn(
                command, config, site=site, plugins=["compare_echo"], log=work / "redis.log"
            )

        pid = server.process.pid if server.process else 0
        return await run_backend("redis", args, work, lambda: [pid], config_for, spawn_one)
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--posters", type=int, default=16, help="concurrent webhook posters")
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, in turn")
    args = parser.parse_args()
    print(f"serve + 2 workers, echo bot, {args.units} units from {args.users} users:")
    ratios = []
    for _ in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="wahost-compare-"))
        try:
            pg, redis = await bench_postgres(args, work), await bench_redis(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for run in (pg, redis):
            print("  " + run.report())
        ratios.append(redis.seconds / pg.seconds)
        print(f"  postgres / redis throughput: {ratios[-1]:.2f}")
    if args.rounds > 1:
        print(
            f"median of {args.rounds} pairs: {statistics.median(ratios):.2f}"
            f" (pairs: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    print("goal: at least 0.70")


if __name__ == "__main__":
    asyncio.run(main())
