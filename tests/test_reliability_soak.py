"""Load held (issue 13, scenario 8), the quick version: a real ``wahost serve`` under steady
load from keep-alive clients for a few seconds; every webhook answered 200 is handled exactly
once, nothing answers 5xx, and resident memory stays within the bound after the warm-up. The
10-minute run: ``python -m bench.reliability soak``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.soak import run_soak


def test_steady_load_is_handled_exactly_once_without_errors(tmp_path: Path) -> None:
    row = run_soak(tmp_path, seconds=6, rate=300, users=50, concurrency=16)
    print(row)
    assert (row.lost, row.duplicated, row.errors_5xx) == (0, 0, 0), row
    assert row.ok, row.notes
    assert row.notes[0].startswith("1800 acked"), row.notes
