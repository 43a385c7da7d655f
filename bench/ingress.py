"""Ingress benchmark: signed ~1 KB text webhooks → 200, requests/s and latency.

Measured in one run, on this machine, with wrk (64 connections, 2 threads, 10 s each):

* **ceiling** — a bare ASGI app on uvicorn that does the same signature check and the same
  msgspec decode and split as wahost, and stores nothing;
* **wahost** — ``wahost serve`` (one process, the default SQLite queue, durable before the
  200), ingress only (``[worker] enabled = false``) and with the worker running in the same
  process (no plugin: every unit goes to the default ``on_unhandled``); on uvicorn with the
  webhook answered in the HTTP protocol (the default), on uvicorn through ASGI
  (``webhook_fast_path = false``), and on Hypercorn.

Every request carries a distinct wamid, so no request is answered from the dedupe check.

    python -m bench.ingress [--seconds 10] [--connections 64]
                            [--engine uvicorn|uvicorn-asgi|hypercorn] [--metrics]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.e2e import cpu_seconds, wamid
from wahost.queue.sqlite import SQLiteQueue
from wahost.testing.harness import TEST_APP_SECRET, sign
from wahost.testing.payloads import make_text

HERE = Path(__file__).resolve().parent
#: Set by ``python -m bench``: the server on CPU 1, wrk (one thread) on CPU 0.
PIN_SERVER: list[str] = []
PIN_LOAD: list[str] = []
WRK_THREADS = 2

#: wrk's script. Every request is formatted in ``init``, before the clock starts, and
#: ``request`` only hands the next one out: it allocates nothing, so LuaJIT's garbage collector
#: never runs during the measurement. (When ``request`` formatted each request from hundreds of
#: thousands of preloaded bodies, the collector's pauses in wrk itself made the p99 at
#: saturation: 75 ms against 3.7 ms for the ceiling in the same minute, 400,000 bodies against
#: 20,000.)
LUA = r"""
local requests = {}
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local file, total = args[1], tonumber(args[2])
  local n = 0
  for line in io.lines(file) do
    if n % total == id then
      local sig, body = line:match("^(%S+) (.*)$")
      requests[#requests + 1] = wrk.format("POST", "/webhook", {
        ["Content-Type"] = "application/json",
        ["X-Hub-Signature-256"] = sig,
      }, body)
    end
    n = n + 1
  end
  collectgarbage("collect")
end

function request()
  counter = counter + 1
  if counter > #requests then counter = 1 end
  return requests[counter]
end
"""

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "bench-token-0123456789"
app_secret = "{secret}"
verify_token = "bench-verify"

[server]
port = {port}
engine = "{engine}"
webhook_fast_path = {fast_path}

[queue]
path = "{db}"

[worker]
enabled = {worker}

[logging]
level = "warning"
"""


def webhook(n: int) -> bytes:
    """A realistic text webhook of about 1 KB with a distinct wamid."""
    sender = f"1650555{n % 10000:04d}"
    payload = make_text(
        "Does it come in another color? " + "x" * 560,
        sender=sender,
        wamid=wamid(sender, n),
        timestamp="1749416383",
    )
    return json.dumps(payload, separators=(",", ":")).encode()


#: Distinct webhooks per second of a run: above any rate these benchmarks have seen, so that no
#: request repeats one (wrk cycles through the file) and is answered from the dedupe check.
BODIES_PER_SECOND = 40_000


#: ``--engine`` names: (``[server] engine``, ``webhook_fast_path``).
ENGINES = {
    "uvicorn": ("uvicorn", True),
    "uvicorn-asgi": ("uvicorn", False),
    "hypercorn": ("hypercorn", False),
}


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_200: int
    requests: int
    #: CPU microseconds a request, per thread of the server (by its OS name; the event loop's
    #: thread is "loop"), over the wrk run; empty where /proc cannot tell.
    cpu_us: dict[str, float] = field(default_factory=dict)
    #: The server's CPU seconds over the run's seconds (1.0: one CPU busy throughout); well
    #: below what the server may use, the load generator, not the server, set the rate.
    busy: float = 0.0


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by each thread of process ``pid``, by OS thread name (threads
    of one name added up; the main thread is "loop"). Empty where there is no /proc."""
    out: dict[str, float] = {}
    try:
        tids = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return out
    for tid in tids:
        try:
            name = "loop" if tid == pid else Path(f"/proc/{pid}/task/{tid}/comm").read_text()
            used = cpu_seconds(pid, tid)
        except OSError:
            continue  # the thread ended meanwhile
        out[name.strip()] = out.get(name.strip(), 0.0) + used
    return out


def format_cpu(cpu_us: dict[str, float]) -> str:
    """``loop 46, wahost-write 18, wahost-ckpt 8 = 72 µs`` (threads under 0.5 µs left out)."""
    shown = {name: us for name, us in cpu_us.items() if us >= 0.5}
    parts = ", ".join(f"{name} {us:.0f}" for name, us in sorted(shown.items(), key=_loop_first))
    return f"{parts} = {sum(cpu_us.values()):.0f} µs"


def _loop_first(item: tuple[str, float]) -> tuple[bool, str]:
    return (item[0] != "loop", item[0])


def median_result(results: list[Result]) -> Result:
    """One row of per-column medians (requests/s, p50, p99, CPU a request per thread) over
    several runs of one server."""
    threads = {name for r in results for name in r.cpu_us}
    return Result(
        results[0].name,
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.non_200 for r in results),
        sum(r.requests for r in results),
        {name: statistics.median(r.cpu_us.get(name, 0.0) for r in results) for name in threads},
        statistics.median(r.busy for r in results),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _wrk(
    name: str, port: int, bodies: Path, seconds: int, connections: int, *, pid: int | None = None
) -> Result:
    """Run wrk against ``port``; with ``pid``, also measure that server's CPU per thread."""
    script = bodies.with_suffix(".lua")
    script.write_text(LUA)
    before = thread_cpu(pid) if pid is not None else {}
    out = subprocess.run(
        [
            *PIN_LOAD,
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(bodies),
            str(WRK_THREADS),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_us: dict[str, float] = {}
    busy = 0.0
    if pid is not None and requests:
        after = thread_cpu(pid)
        cpu_us = {
            thread: (used - before.get(thread, 0.0)) / requests * 1e6
            for thread, used in after.items()
        }
        # Over wrk's measured seconds: before them it formats its requests, the server idle.
        busy = sum(cpu_us.values()) * requests / 1e6 / seconds
    errors_n = int(errors.group(1)) if errors else 0
    return Result(name, rps, p50, p99, errors_n, requests, cpu_us, busy)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"server on {port} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def run_ceiling(bodies: Path, seconds: int, connections: int) -> Result:
    port = _free_port()
    process = subprocess.Popen(
        [
            *PIN_SERVER,
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
        cwd=HERE.parent,
    )
    try:
        _wait(port)
        return _wrk(
            "ceiling (uvicorn, no storage)", port, bodies, seconds, connections, pid=process.pid
        )
    finally:
        _stop(process)


def run_wahost(
    bodies: Path,
    seconds: int,
    connections: int,
    *,
    worker: bool,
    engine: str,
    workdir: Path,
    db: Path | None = None,
    label: str | None = None,
    fast_path: bool = True,
    extra_config: str = "",
    every_plugin: bool = False,
) -> tuple[Result, int]:
    port = _free_port()
    db = db or workdir / f"wahost-{engine}-{worker}-{fast_path}.db"
    config = workdir / f"wahost-{engine}-{worker}-{fast_path}.toml"
    config.write_text(
        CONFIG.format(
            secret=TEST_APP_SECRET,
            port=port,
            db=db,
            engine=engine,
            worker=str(worker).lower(),
            fast_path=str(fast_path).lower(),
        )
        + extra_config
    )
    # ``every_plugin``: as users run it, with every installed plugin enabled; otherwise none.
    env = {k: v for k, v in os.environ.items() if k != "WAHOST_PLUGINS"}
    if not every_plugin:
        env["WAHOST_PLUGINS"] = "none"
    process = subprocess.Popen(
        [*PIN_SERVER, sys.executable, "-m", "wahost.cli", "serve", "--config", str(config)],
        env=env,
    )
    try:
        _wait(port)
        label = label or f"wahost ({engine}, SQLite{', worker on' if worker else ', ingress only'})"
        result = _wrk(label, port, bodies, seconds, connections, pid=process.pid)
    finally:
        _stop(process)
    return result, asyncio.run(_stored(db))


async def _stored(db: Path) -> int:
    """How many distinct units the run stored (dedupe keys remembered)."""
    queue = SQLiteQueue(str(db))
    await queue.open()
    try:
        return (await queue.stats()).dedupe_keys
    finally:
        await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--bodies",
        type=int,
        default=None,
        help="distinct webhooks wrk cycles through (default: 40,000 per second of a run, so "
        "that no request repeats one and is answered from the dedupe check)",
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=list(ENGINES),
        help="uvicorn: the webhook answered in the HTTP protocol (the default); uvicorn-asgi: "
        "[server] webhook_fast_path = false; hypercorn (default: all three)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="run wahost with [metrics] enabled (what counting costs the ingress)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    engines = args.engine or list(ENGINES)
    workdir = Path(tempfile.mkdtemp(prefix="wahost-bench-"))
    bodies = workdir / "bodies.txt"
    with bodies.open("w") as out:
        for n in range(args.bodies or BODIES_PER_SECOND * args.seconds):
            body = webhook(n)
            out.write(f"{sign(body, TEST_APP_SECRET)} {body.decode()}\n")
    print(
        f"body size: {len(webhook(0))} bytes; {args.connections} connections; "
        f"{args.seconds} s per run; cpus: {os.cpu_count()}"
    )
    ceiling = run_ceiling(bodies, args.seconds, args.connections)
    results = [(ceiling, None)]
    # The default process first: `wahost serve` as users run it (uvicorn, the worker on, every
    # installed first-party plugin), the figure the README leads with.
    results.append(
        run_wahost(
            bodies,
            args.seconds,
            args.connections,
            worker=True,
            engine="uvicorn",
            workdir=workdir,
            db=workdir / "wahost-default.db",
            label="wahost serve (default: worker on, every plugin)",
            every_plugin=True,
            extra_config="\n[metrics]\nenabled = true\n" if args.metrics else "",
        )
    )
    for engine in engines:
        for worker in (False, True):
            results.append(
                run_wahost(
                    bodies,
                    args.seconds,
                    args.connections,
                    worker=worker,
                    engine=ENGINES[engine][0],
                    fast_path=ENGINES[engine][1],
                    workdir=workdir,
                    label=f"wahost ({engine}, SQLite, {'worker on' if worker else 'ingress only'}"
                    + (", metrics)" if args.metrics else ")"),
                    extra_config="\n[metrics]\nenabled = true\n" if args.metrics else "",
                )
            )
    print()
    print(
        f"{'server':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} "
        f"{'stored':>8} {'of ceiling':>10}"
    )
    for result, stored in results:
        ratio = result.rps / ceiling.rps
        print(
            f"{result.name:<44} {result.rps:>9.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
            f"{result.non_200:>8} {stored if stored is not None else '-':>8} {ratio:>9.0%}"
        )
    print("\nCPU a request, per thread of the server process (µs; the SQLite threads are wahost-*)")
    for result, _ in results:
        if result.cpu_us:
            print(f"{result.name:<44} {format_cpu(result.cpu_us)}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
