"""``python -m bench [--quick]``: wahost against pywa, every figure from this one run.

Installs pywa (pinned), FastAPI and uvicorn in a virtual environment of its own under
``~/.cache/wahost-bench/venv`` (never the system site-packages); wahost runs from this checkout.
Each server runs on CPU 1 (``taskset -c 1``, one process); wrk, this load generator and the fake
Graph API (its own process) on CPU 0. Prints one table; see README "Measured".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

from bench import e2e, ingress, unit_cost
from wahost.queue.sqlite import SQLiteQueue
from wahost.units import Unit, split

PINS = ["pywa==4.5.0", "fastapi==0.165.0", "uvicorn[standard]==0.54.0"]
VENV = Path(os.environ.get("WAHOST_BENCH_VENV", Path.home() / ".cache/wahost-bench/venv"))


def venv_python() -> str:
    python = VENV / "bin" / "python"
    stamp = VENV / "pins.txt"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
        stamp.write_text("\n".join(PINS))
    return str(python)


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    python = sys.version.split()[0]
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {python}"


# -- queue pre-filling ----------------------------------------------------------------------


def units(tag: str, count: int) -> list[Unit]:
    """``count`` real units (decodable bodies), one conversation each."""
    out = []
    for n in range(count):
        body, _ = e2e.signed(e2e.message(tag, n, users=10_000_000))
        out.extend(split(body))
    return out


async def prefill(db: Path, count: int, *, delayed: bool) -> float:
    """Enqueue ``count`` units in batches of 100 (no worker running); ``delayed``: then lease
    and retry each a day later, so they stay queued but are not due. Returns seconds taken."""
    started = time.perf_counter()
    queue = SQLiteQueue(str(db))
    await queue.open()
    try:
        batch = units("q", min(count, 100))
        for start in range(0, count, 100):
            chunk = [
                Unit(
                    f"{u.key}-{start}",
                    u.kind,
                    u.phone_number_id,
                    u.user,
                    f"{u.conversation}-{start}",
                    u.body,
                )
                for u in batch
            ]
            await queue.enqueue(chunk)
        while delayed and (leases := await queue.lease(500, lease_seconds=600)):
            await asyncio.gather(*(queue.retry(x, delay=86_400, error="bench") for x in leases))
    finally:
        await queue.close()
    return time.perf_counter() - started


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM wq_units WHERE dead = 0").fetchone()[0])


# -- sections -------------------------------------------------------------------------------


def bodies_file(workdir: Path, count: int) -> Path:
    path = workdir / "bodies.txt"
    with path.open("w") as out:
        for n in range(count):
            body, sig = e2e.signed(e2e.message("i", n, users=100_000))
            out.write(f"{sig} {body.decode()}\n")
    return path


def run_pywa_ingress(python: str, bodies: Path, seconds: int, connections: int) -> ingress.Result:
    port = e2e_port()
    with open(bodies.parent / "pywa-ingress.log", "w") as log:
        process = e2e.start_pywa(python, port, "", echo=False, log=log)
        try:
            return ingress._wrk(
                "pywa (FastAPI route, uvicorn)",
                port,
                bodies,
                seconds,
                connections,
                pid=process.pid,
            )
        finally:
            ingress._stop(process)


def e2e_port() -> int:
    return ingress._free_port()


def start_wahost(workdir: Path, db: Path):  # type: ignore[no-untyped-def]
    def start(graph: str):  # type: ignore[no-untyped-def]
        port = e2e_port()
        return e2e.start_wahost_echo(workdir, port, db, graph), port

    return start


def start_pywa(python: str, workdir: Path):  # type: ignore[no-untyped-def]
    def start(graph: str):  # type: ignore[no-untyped-def]
        port = e2e_port()
        log = open(workdir / f"pywa-e2e-{port}.log", "w")  # noqa: SIM115
        return e2e.start_pywa(python, port, graph, echo=True, log=log), port

    return start


def backlog_drain(workdir: Path, count: int) -> tuple[float, float, int]:
    """``count`` units queued while no worker runs, then ``wahost serve`` drains them (no
    plugin: every unit goes to the default on_unhandled). (prefill s, units/s, peak RSS KiB)."""
    db = workdir / "backlog.db"
    filled = asyncio.run(prefill(db, count, delayed=False))
    port = e2e_port()
    config = e2e.wahost_config(workdir, port, db, "")
    env = {**os.environ, "WAHOST_PLUGINS": "none"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*e2e.pinned(1), sys.executable, "-m", "wahost.cli", "serve", "--config", str(config)],
        env=env,
    )
    peak = 0
    try:
        while pending(db) > 0 and time.perf_counter() - started < 600:
            peak = max(peak, rss_kib(process.pid, "VmHWM"))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        peak = max(peak, rss_kib(process.pid, "VmHWM"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return filled, count / elapsed, peak


def idle_rss(workdir: Path) -> tuple[int, str]:
    """RSS of ``wahost serve`` 3 s after start with every installed first-party plugin."""
    port = e2e_port()
    config = e2e.wahost_config(workdir, port, workdir / "idle.db", "")
    env = {k: v for k, v in os.environ.items() if k != "WAHOST_PLUGINS"}
    plugins = subprocess.run(
        [sys.executable, "-m", "wahost.cli", "plugins", "--json"], capture_output=True, text=True
    ).stdout
    process = subprocess.Popen(
        [sys.executable, "-m", "wahost.cli", "serve", "--config", str(config)], env=env
    )
    try:
        e2e.wait_http(port)
        time.sleep(3)
        rss = rss_kib(process.pid, "VmRSS")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    import json

    try:
        names = ", ".join(p["name"] for p in json.loads(plugins) if not p.get("error"))
    except (ValueError, TypeError, KeyError):
        names = "?"
    return rss, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller backlogs")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="ingress: rounds of ceiling, wahost, pywa in turn; the table shows the medians",
    )
    args = parser.parse_args()
    # This process opens the queue to count what was stored: its log lines are not the run's.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    quick = args.quick
    seconds = 5 if quick else 10
    e2e_n = 2000 if quick else 5000
    backlog = 10_000 if quick else 100_000
    sizes = [1000, 10_000] if quick else [1000, 10_000, 100_000]
    python = venv_python()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
        ingress.PIN_SERVER = e2e.pinned(1)
        ingress.PIN_LOAD = e2e.pinned(0)
        ingress.WRK_THREADS = 1
        pinning = "server on CPU 1 (taskset -c 1), load generator + fake Graph API on CPU 0"
    else:
        pinning = "one CPU: nothing pinned"
    workdir = Path(tempfile.mkdtemp(prefix="wahost-bench-"))
    rows: list[tuple[str, str]] = []
    out = print

    out(f"machine: {machine()}")
    out(f"pinning: {pinning}; pywa {PINS[0].split('==')[1]} from PyPI in {VENV}")
    bodies = bodies_file(workdir, ingress.BODIES_PER_SECOND * seconds)
    size = len(e2e.signed(e2e.message("i", 0))[0])

    # 1. ingress
    rounds = max(1, args.rounds)
    out(
        f"\n1. Ingress: signed {size}-byte webhooks -> 200, wrk 64 connections, {seconds} s each, "
        f"{rounds} round(s) of the four servers in turn (the shared machine's load drifts: "
        "interleaving spreads it over all four)"
    )
    runs: list[tuple[ingress.Result, ingress.Result, ingress.Result, ingress.Result]] = []
    stored = 0
    for n in range(rounds):
        ceiling = ingress.run_ceiling(bodies, seconds, 64)
        # The default process: `wahost serve` as users run it, the worker on, every installed
        # first-party plugin (no bot: each unit goes to the default on_unhandled).
        default, _ = ingress.run_wahost(
            bodies,
            seconds,
            64,
            worker=True,
            engine="uvicorn",
            workdir=workdir,
            db=workdir / f"ingress-default-{n}.db",
            label="wahost serve (default: worker on, every plugin)",
            every_plugin=True,
        )
        db = workdir / f"ingress-{n}.db"
        wahost_ing, stored = ingress.run_wahost(
            bodies,
            seconds,
            64,
            worker=False,
            engine="uvicorn",
            workdir=workdir,
            db=db,
            label="wahost (uvicorn, SQLite durable, ingress only)",
        )
        pywa_ing = run_pywa_ingress(python, bodies, seconds, 64)
        runs.append((ceiling, default, wahost_ing, pywa_ing))
        if rounds > 1:
            out(
                f"  round {n + 1}: ceiling {ceiling.rps:.0f}, default {default.rps:.0f}, "
                f"ingress only {wahost_ing.rps:.0f}, pywa {pywa_ing.rps:.0f} req/s; "
                f"default / ceiling {default.rps / ceiling.rps:.0%}, "
                f"ingress only / ceiling {wahost_ing.rps / ceiling.rps:.0%}, "
                f"default / pywa {default.rps / pywa_ing.rps:.2f}x"
            )
    header = f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8}"
    out(f"{'server (median of the rounds)':<48} {header}")
    medians = [ingress.median_result([run[i] for run in runs]) for i in range(4)]
    for r in medians:
        out(f"{r.name:<48} {r.rps:>8.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_200:>8}")
    ceiling, default, wahost_ing, pywa_ing = medians
    out(
        f"default process / ceiling = {default.rps / ceiling.rps:.0%} (goal >= 50%), "
        f"p99 {default.p99_ms:.1f} ms (goal < 25 ms); "
        f"default / pywa = {default.rps / pywa_ing.rps:.2f}x"
    )
    if ceiling.cpu_us and default.cpu_us:
        # The rates compare the servers only where each kept its CPU busy: a ceiling that
        # waited on the load generator (another process on the shared CPU 0) shows a lower
        # rate than it could reach, and the ratio above flatters wahost.
        by_cpu = sum(ceiling.cpu_us.values()) / sum(default.cpu_us.values())
        starved = min(ceiling.busy, default.busy) < 0.9
        out(
            f"by CPU a request: default process / ceiling = {by_cpu:.0%} "
            f"({sum(default.cpu_us.values()):.0f} against {sum(ceiling.cpu_us.values()):.0f} "
            f"µs); servers busy: ceiling {ceiling.busy:.0%}, default {default.busy:.0%} of a CPU"
            + (
                " (under 90 %: the load generator set a rate, read the CPU ratio)"
                if starved
                else ""
            )
        )
    out(
        f"ingress only / ceiling = {wahost_ing.rps / ceiling.rps:.0%}; "
        f"ingress only / pywa = {wahost_ing.rps / pywa_ing.rps:.2f}x (goal >= 3x); "
        f"wahost stored {stored} distinct units of {runs[-1][2].requests} requests in its "
        "last round"
    )
    out("CPU a request, per thread of the server process (median of the rounds):")
    for r in medians:
        if r.cpu_us:
            out(f"  {r.name:<46} {ingress.format_cpu(r.cpu_us)}")

    # 1b. what an echo unit costs
    out(
        "\n1b. Unit cost: CPU of the server process an echo unit (webhook, handler, reply "
        "through the outbox, ack; every plugin) against the ceiling's a webhook"
    )
    cost_n = 5000  # /proc counts CPU in 10 ms ticks: the ceiling needs thousands of webhooks
    costs = unit_cost.interleaved(workdir, cost_n, rounds)
    for n, (ceiling_cpu, echo_cpu, _) in enumerate(costs, start=1):
        if len(costs) > 1:
            out(
                f"  round {n}: ceiling {ceiling_cpu * 1e6:.0f} µs, echo {echo_cpu * 1e6:.0f} µs, "
                f"{echo_cpu / ceiling_cpu:.1f}x"
            )
    ceiling_cpu, echo_cpu, per_thread = unit_cost.median_round(costs)
    out(f"ceiling {ceiling_cpu * 1e6:.0f} µs a webhook; echo {echo_cpu * 1e6:.0f} µs a unit")
    out(f"  echo, per thread: {ingress.format_cpu(per_thread)}")
    out(
        f"echo / ceiling = {echo_cpu / ceiling_cpu:.1f}x (goal <= 6x; the round with the "
        "median ratio)"
    )

    # 2. + 3. end to end and batches
    out(f"\n2. End to end: echo bot, {e2e_n} messages from 1,000 users, 64 connections")
    wa = e2e.run_bot(
        "wahost (SQLite, worker in process)",
        start_wahost(workdir, workdir / "e2e.db"),
        workdir,
        n=e2e_n,
        rate=None,
        rate_seconds=0,
    )
    rate = round(wa.units_per_s / 2)
    rate_seconds = 5 if quick else 10
    wa_rate = e2e.run_bot(
        "wahost",
        start_wahost(workdir, workdir / "e2e-rate.db"),
        workdir,
        n=200,
        rate=rate,
        rate_seconds=rate_seconds,
    )
    pw = e2e.run_bot(
        "pywa (pywa_async, FastAPI route, uvicorn)",
        start_pywa(python, workdir),
        workdir,
        n=e2e_n,
        rate=None,
        rate_seconds=0,
    )
    pw_rate = e2e.run_bot(
        "pywa", start_pywa(python, workdir), workdir, n=200, rate=rate, rate_seconds=rate_seconds
    )
    pw.rate, pw.rate_p50_ms, pw.rate_p99_ms = pw_rate.rate, pw_rate.rate_p50_ms, pw_rate.rate_p99_ms
    pw.rate_replied = pw_rate.rate_replied
    pw.batch_replies = pw_rate.batch_replies
    wa.rate, wa.rate_p50_ms, wa.rate_p99_ms = wa_rate.rate, wa_rate.rate_p50_ms, wa_rate.rate_p99_ms
    wa.rate_replied = wa_rate.rate_replied
    out(
        f"{'bot':<42} {'units/s':>8} {'/CPU-s':>7} {'replied':>11} {'p50 ms':>8} {'p99 ms':>8}"
        f" | {'at ' + str(rate) + '/s p50':>13} {'p99':>8} {'replied':>10}"
    )
    for r in (wa, pw):
        out(
            f"{r.name:<42} {r.units_per_s:>8.0f} {r.units_per_cpu_s:>7.0f} {r.peak_replied:>11}"
            f" {r.peak_p50_ms:>8.0f} {r.peak_p99_ms:>8.0f} | {r.rate_p50_ms:>13.1f}"
            f" {r.rate_p99_ms:>8.1f} {r.rate_replied:>10}"
        )
        for note in r.notes:
            out(f"   note ({r.name}): {note}")
    ratio = wa.units_per_s / pw.units_per_s if pw.units_per_s else float("inf")
    out(
        f"wahost / pywa = {ratio:.2f}x units/s at equal CPU (goal >= 3x); wahost p99 at half"
        f" its peak = {wa.rate_p99_ms:.1f} ms (goal < 50 ms)"
    )
    out(
        "latency = reply arrival at the fake Graph API - POST send (fixed rate: intended send"
        " time), time.monotonic() in both processes (one clock on Linux)"
    )

    out("\n3. Batch: one POST carrying 100 messages from 100 users")
    out(f"wahost: {wa_rate.batch_replies}/100 answered; pywa: {pw_rate.batch_replies}/100 answered")

    # 4. backlog and memory
    out(f"\n4. Backlog: {backlog} units enqueued with no worker, then drained by wahost serve")
    filled, drain, peak = backlog_drain(workdir, backlog)
    rss, names = idle_rss(workdir)
    out(f"enqueue (batches of 100): {backlog / filled:.0f} units/s")
    out(
        f"drain (no plugin, default on_unhandled): {drain:.0f} units/s;"
        f" peak RSS {peak / 1024:.1f} MiB"
    )
    out(f"idle RSS after start with plugins [{names}]: {rss / 1024:.1f} MiB (goal < 80 MB)")

    # 5. cost growth
    out("\n5. Cost growth: the same runs with units already queued (retries due in a day)")
    out(f"{'queued':>8} {'ingress req/s':>14} {'p99 ms':>8} {'e2e units/s':>12} {'e2e p99 ms':>11}")
    for count in [0, *sizes]:
        db_i = workdir / f"grow-i-{count}.db"
        db_e = workdir / f"grow-e-{count}.db"
        if count:
            asyncio.run(prefill(db_i, count, delayed=True))
            for suffix in ("", "-wal"):  # the same queued units, copied
                if Path(f"{db_i}{suffix}").exists():
                    shutil.copyfile(f"{db_i}{suffix}", f"{db_e}{suffix}")
        ing, _ = ingress.run_wahost(
            bodies,
            max(3, seconds // 2),
            64,
            worker=False,
            engine="uvicorn",
            workdir=workdir,
            db=db_i,
        )
        ee = e2e.run_bot(
            "wahost",
            start_wahost(workdir, db_e),
            workdir,
            n=e2e_n // 2,
            rate=None,
            rate_seconds=0,
            warmup=200,
        )
        out(
            f"{count:>8} {ing.rps:>14.0f} {ing.p99_ms:>8.2f} {ee.units_per_s:>12.0f}"
            f" {ee.peak_p99_ms:>11.0f}"
        )
    rows.clear()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
