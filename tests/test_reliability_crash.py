"""Reliability, crash with replies and secrets (issue 13): ``kill -9`` a real ``wahost serve``
while clients post; the recording plugin also replies through ``ctx.reply`` to a fake Graph
API in this process. Every unit gets its reply, a repeat only for a unit handled twice (in
flight at a kill); canary token, app secret and passphrase never reach the server's log or an
answer. Long version: ``python -m bench.crash --replies --secrets``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crash import run_crash


def test_kill_9_with_replies_each_reply_at_most_once_and_no_secret_leaks(tmp_path: Path) -> None:
    outcome = run_crash(
        messages=240,
        kills=3,
        clients=6,
        concurrency=8,
        seed=11,
        workdir=tmp_path,
        timeout=120,
        replies=True,
        secrets=True,
    )
    print(outcome.report())
    assert outcome.kills == 3
    assert outcome.lost == [] and outcome.out_of_order == [] and outcome.wrong_counters == []
    assert outcome.replies_missing == []
    assert outcome.replies_unexplained == []
    assert outcome.leaked == []
    assert outcome.ok()
