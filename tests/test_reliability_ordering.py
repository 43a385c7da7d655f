"""Reliability, ordering (issue 13): 200 conversations x 10 messages posted concurrently;
one unit per conversation in flight, each handled once, in arrival order.
Long version: ``python -m bench.reliability ordering`` (1,000 x 20)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.ordering import run_ordering


async def test_concurrent_conversations_are_handled_in_arrival_order(tmp_path: Path) -> None:
    row = await run_ordering(tmp_path, conversations=200, per_conversation=10)
    print(row)
    assert row.ok, row.notes
    assert (row.lost, row.duplicated, row.errors_5xx) == (0, 0, 0)
