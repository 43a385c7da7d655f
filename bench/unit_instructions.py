"""Instructions the worker spends on a unit: a figure that does not drift with the machine.

    python -m bench.unit_instructions [--units 3000] [--no-valgrind]

A backlog of ``--units`` real text-message units (one conversation each) is stored in a new
SQLite file; then a worker, in this process, with every installed first-party plugin enabled
as ``wahost serve`` runs them (no bot: each unit goes to the default ``on_unhandled``), leases,
handles and acks all of them. Under callgrind (``valgrind --tool=callgrind``, one thread per
output file) the run is made with ``--units`` and twice as many, and the difference divided
by ``--units``: the instructions of one unit, start-up left out, for the event loop's thread
(what the unit's Python costs) and for all threads (the SQLite threads included).

Why instructions: on the shared VM the CPU a webhook costs under ``wrk`` moved from 69 to
100 µs between two runs of the same commit within an hour, so a change of a few per cent
cannot be seen there; callgrind counted the same drain twice within 0.4 %. What it does not
count: the kernel (system calls, page cache, thread switches) and waits, which the ``wrk``
figures of ``python -m bench`` keep. ``--no-valgrind`` runs the drain once and prints its CPU
per unit by thread instead.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import prefill
from bench.ingress import thread_cpu


async def drain(db: Path, count: int) -> None:
    """Handle the ``count`` units queued in ``db`` with a worker of every plugin; print the CPU
    each thread spent per unit."""
    from wahost.host import Wahost
    from wahost.server import _freeze_startup_objects
    from wahost.testing.harness import make_config
    from wahost.worker import Worker

    config = make_config(db.parent, {"queue": {"path": str(db)}, "worker": {"poll_interval": 0.05}})
    host = Wahost(config, load_entrypoints=True)
    await host.start()
    _freeze_startup_objects()  # as serve and worker do
    worker = Worker(host)
    before = thread_cpu(os.getpid())
    started = time.perf_counter()
    running = asyncio.create_task(worker.run())
    try:
        while worker.handled < count:  # noqa: ASYNC110 (the worker has no event for a count)
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        after = thread_cpu(os.getpid())
    finally:
        await worker.stop()
        await running
        await host.stop()
    per_unit = {
        name: (used - before.get(name, 0.0)) / count * 1e6
        for name, used in after.items()
        if used > before.get(name, 0.0)
    }
    shown = ", ".join(f"{name} {us:.1f}" for name, us in per_unit.items())
    print(f"{count} units in {elapsed:.2f} s: {shown} µs a unit", flush=True)


def _child(db: Path, count: int) -> None:
    import uvloop

    with tempfile.TemporaryDirectory(prefix="wahost-unit-instr-") as work:
        copy = Path(work) / "drain.db"
        shutil.copy(db, copy)
        uvloop.run(drain(copy, count))


def _callgrind(db: Path, count: int, out: Path) -> dict[int, int]:
    """Instructions by thread (1: the main thread) of one drain of ``count`` units."""
    prefix = out / f"cg-{count}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            f"--callgrind-out-file={prefix}.%p",
            os.path.realpath(sys.executable),  # not a shim that execs python: valgrind stays
            "-m",
            "bench.unit_instructions",
            "--child",
            str(db),
            str(count),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    by_thread: dict[int, int] = {}
    for path in glob.glob(f"{prefix}.*"):
        found = re.search(r"-(\d+)$", path)
        thread = int(found.group(1)) if found else 1
        with open(path) as lines:
            for line in lines:
                if line.startswith(("summary:", "totals:")):
                    by_thread[thread] = int(line.split()[1])
                    break
    return by_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--no-valgrind", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("DB", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(Path(args.child[0]), int(args.child[1]))
    with tempfile.TemporaryDirectory(prefix="wahost-unit-instr-") as work:
        _run(args, Path(work))


def _run(args: argparse.Namespace, workdir: Path) -> None:
    counts = [args.units] if args.no_valgrind else [args.units, 2 * args.units]
    files = {}
    for count in counts:
        files[count] = workdir / f"backlog-{count}.db"
        asyncio.run(prefill(files[count], count, delayed=False))
    if args.no_valgrind:
        return _child(files[args.units], args.units)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind), or use --no-valgrind")
    runs = {count: _callgrind(files[count], count, workdir) for count in counts}
    small, large = runs[args.units], runs[2 * args.units]
    main_thread = (large.get(1, 0) - small.get(1, 0)) / args.units
    every = (sum(large.values()) - sum(small.values())) / args.units
    print(
        f"a unit (every plugin, no bot; {args.units} and {2 * args.units} units under "
        f"callgrind): event loop {main_thread / 1000:.1f}k instructions, "
        f"all threads {every / 1000:.1f}k"
    )


if __name__ == "__main__":
    main()
