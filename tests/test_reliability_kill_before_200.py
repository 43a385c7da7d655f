"""Reliability, kill -9 during ingress then Meta's full retry (issue 13): a real ``wahost
serve`` (worker off) is killed while 64 streams post; then it restarts with its worker and
every webhook is posted again. Each message is handled exactly once, none lost. Whether a kill
landed exactly between a commit and its 200 is counted and reported (by chance: the window is
sub-millisecond). Long version: ``python -m bench.reliability kill200``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.kill_before_200 import run_kill_before_200


def test_kill_during_ingress_then_full_repost_handles_each_once(tmp_path: Path) -> None:
    row = run_kill_before_200(tmp_path, kills=2, min_delay=0.3, max_delay=0.5)
    print(row)
    assert row.ok, row.notes
    assert (row.lost, row.duplicated, row.errors_5xx) == (0, 0, 0)
