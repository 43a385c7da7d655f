"""The quick form of ``python -m bench.unit_instructions``: a backlog drained by a worker of
every plugin, its CPU a unit printed by thread (the callgrind form takes a minute)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_drain_handles_every_unit_and_prints_its_cpu_by_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.unit_instructions", "--units", "2000", "--no-valgrind"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = done.stdout.strip().splitlines()[-1]
    # It returns only once the worker has handled all 2,000 (/proc counts CPU in 10 ms ticks:
    # fewer units could show none), and names the event loop's share.
    assert re.match(r"2000 units in [\d.]+ s: loop [\d.]+", line), line
    assert "wahost-write" in line
