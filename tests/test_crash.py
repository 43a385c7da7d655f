"""Crash safety, quick version: ``kill -9`` a real ``wahost serve`` a few times while clients
post; nothing answered 200 is lost, order per conversation holds, state applies exactly once.
The long version: ``python -m bench.crash`` (10,000 webhooks, 50 kills)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crash import run_crash


def test_kill_9_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    # Kills fall at random points of the run's progress (not of time), so all three land while
    # messages are still being taken or handled, however fast the machine.
    outcome = run_crash(
        messages=600, kills=3, clients=6, concurrency=8, seed=7, workdir=tmp_path, timeout=120
    )
    print(outcome.report())
    assert outcome.kills == 3
    assert outcome.acked == outcome.messages
    assert outcome.lost == []
    assert outcome.out_of_order == []
    assert outcome.wrong_counters == []
    assert outcome.repeats <= outcome.repeat_bound
