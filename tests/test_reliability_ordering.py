"""Reliability, ordering (issue 13): conversations post their messages concurrently, each in
turn; one unit per conversation in flight, each handled once, in arrival order.

The suite runs 50 conversations x 10 messages, enough for units of one conversation to wait
behind each other; the 200 x 10 run is marked ``slow``, and the long version is
``python -m bench.reliability ordering`` (1,000 x 20)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.ordering import run_ordering


@pytest.mark.parametrize(
    ("conversations", "per_conversation"),
    [(50, 10), pytest.param(200, 10, marks=pytest.mark.slow)],
)
async def test_concurrent_conversations_are_handled_in_arrival_order(
    tmp_path: Path, conversations: int, per_conversation: int
) -> None:
    row = await run_ordering(
        tmp_path, conversations=conversations, per_conversation=per_conversation
    )
    print(row)
    assert row.ok, row.notes
    assert (row.lost, row.duplicated, row.errors_5xx) == (0, 0, 0)
