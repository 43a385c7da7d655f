"""What an echo unit costs the default process, against what one webhook costs the ceiling.

    python -m bench.unit_cost [--messages 5000] [--rounds 1] [--profile OUT.svg]

The bot is ``bench/echo_plugin.py`` loaded with ``--bot`` into ``wahost serve`` as users run it:
every installed first-party plugin enabled, SQLite, the worker in the process. Each unit is a
webhook in, the handler, the reply through the outbox to the fake Graph API (its own process,
over loopback), the ack. The ceiling (``bench/ceiling.py``) receives the same webhooks and
stores nothing. Both run on CPU 1 (``taskset -c 1``); this load generator and the fake on CPU 0.
The figure is CPU seconds of the server process (``/proc``) over the messages, per message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.e2e import (
    ROOT,
    FakeGraphProcess,
    closed_loop,
    cpu_seconds,
    items,
    pinned,
    wahost_config,
    wait_http,
)
from bench.ingress import _free_port, _stop, format_cpu, thread_cpu

WINDOW = 256


def _run_load(port: int, tag: str, count: int, graph: FakeGraphProcess | None) -> None:
    """``count`` messages in windows of ``WINDOW`` without a reply (when there is a bot)."""
    expected = graph.count() if graph else 0
    batch = items(tag, count)
    for start in range(0, count, WINDOW):
        chunk = batch[start : start + WINDOW]
        asyncio.run(closed_loop(port, chunk))
        if graph is not None:
            expected += len(chunk)
            if graph.wait_for(expected, 60, poll=0.002) < expected:
                raise SystemExit(f"{tag}: replies stopped at {graph.count()} of {expected}")


def echo_cost(workdir: Path, messages: int, profile: str | None) -> tuple[float, dict[str, float]]:
    graph = FakeGraphProcess(workdir)
    port = _free_port()
    # The end-to-end benchmark's configuration: Meta's 80/s lifted, so that the bot's cost,
    # not the pacing, is measured.
    config = wahost_config(workdir, port, workdir / "unit-cost.db", graph.url)
    bot = ROOT / "bench" / "echo_plugin.py"
    command = [
        sys.executable,
        "-m",
        "wahost.cli",
        "serve",
        "--config",
        str(config),
        "--bot",
        str(bot),
    ]
    env = {k: v for k, v in os.environ.items() if k != "WAHOST_PLUGINS"}
    process = subprocess.Popen([*pinned(1), *command], cwd=ROOT, env=env)
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_http(port)
        _run_load(port, "w", 500, graph)
        if profile:
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(process.pid),
                    "--threads",
                    "--gil",
                    "--rate",
                    "250",
                    "--output",
                    profile,
                    "--format",
                    "flamegraph" if profile.endswith(".svg") else "raw",
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)
        before, threads = cpu_seconds(process.pid), thread_cpu(process.pid)
        _run_load(port, "p", messages, graph)
        used = cpu_seconds(process.pid) - before
        per_thread = {
            name: (spent - threads.get(name, 0.0)) / messages * 1e6
            for name, spent in thread_cpu(process.pid).items()
        }
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        _stop(process)
        graph.stop()
    return used / messages, per_thread


def ceiling_cost(messages: int) -> float:
    port = _free_port()
    process = subprocess.Popen(
        [
            *pinned(1),
            sys.executable,
            "-m",
            "uvicorn",
            "bench.ceiling:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    try:
        wait_http(port)
        _run_load(port, "cw", 500, None)
        before = cpu_seconds(process.pid)
        _run_load(port, "c", messages, None)
        return (cpu_seconds(process.pid) - before) / messages
    finally:
        _stop(process)


Round = tuple[float, float, dict[str, float]]


def interleaved(workdir: Path, messages: int, rounds: int) -> list[Round]:
    """``rounds`` pairs of (the ceiling's CPU a webhook, an echo unit's, the echo's per
    thread), the two in turn: the shared machine's load drifts, and interleaving spreads it
    over both."""
    costs: list[Round] = []
    for n in range(max(1, rounds)):
        ceiling = ceiling_cost(messages)
        round_dir = workdir / f"round-{n}"
        round_dir.mkdir(parents=True, exist_ok=True)
        echo, per_thread = echo_cost(round_dir, messages, None)
        costs.append((ceiling, echo, per_thread))
    return costs


def median_round(costs: list[Round]) -> Round:
    """The round whose echo / ceiling ratio is the median (the lower middle one of an even
    number)."""
    ranked = sorted(costs, key=lambda cost: cost[1] / cost[0])
    return ranked[(len(ranked) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--profile", help="py-spy output of the echo run (.svg or raw text)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="ceiling and echo in turn this many times; prints each round and the median one",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wahost-unit-cost-") as tmp:
        if args.profile:
            ceiling = ceiling_cost(args.messages)
            echo, per_thread = echo_cost(Path(tmp), args.messages, args.profile)
        else:
            costs = interleaved(Path(tmp), args.messages, args.rounds)
            for n, (c, e, _) in enumerate(costs, start=1):
                if len(costs) > 1:
                    print(f"round {n}: ceiling {c * 1e6:.1f}, echo {e * 1e6:.1f} µs, {e / c:.1f}x")
            ceiling, echo, per_thread = median_round(costs)
    print(f"ceiling: {ceiling * 1e6:7.1f} µs of CPU a webhook (receive, check, split; no storage)")
    print(
        f"echo:    {echo * 1e6:7.1f} µs of CPU a unit (webhook, handler, reply, ack; "
        "default process)"
    )
    print(f"         {format_cpu(per_thread)}")
    print(f"echo / ceiling = {echo / ceiling:.1f}x (goal <= 6x)")


if __name__ == "__main__":
    main()
