"""Reliability, Graph API faults (issue 13): 30 % of sends fail in every way Meta fails;
every reply is delivered, in order per conversation, duplicates only for ambiguous sends, and
the client's pacing keeps the fake's 130429 / 131056 at zero.
Long version: ``python -m bench.reliability graph``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.graph_faults import run_graph_faults


async def test_replies_survive_graph_faults_in_order(tmp_path: Path) -> None:
    # 10 users, one reply each per 0.22 s: ~45 messages/s, under the 80/s throughput.
    row = await run_graph_faults(tmp_path, users=10, per_user=8, failure_rate=0.3)
    print(row)
    assert row.ok, row.notes
    assert row.lost == 0 and row.errors_5xx == 0


async def test_pair_spacing_holds_when_the_throughput_limit_binds(tmp_path: Path) -> None:
    # 20 users, one reply each per 0.22 s: ~90 messages/s, over the 80/s throughput.
    row = await run_graph_faults(tmp_path, users=20, per_user=8, failure_rate=0.0)
    print(row)
    assert row.ok, row.notes
