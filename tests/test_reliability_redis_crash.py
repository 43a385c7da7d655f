"""Reliability, crash on Redis (issue 13): the crash run of ``bench/crash.py`` with the queue
and ``ctx.state`` in a ``redis-server`` the test starts itself (AOF, ``appendfsync always``).
``kill -9`` of the ``wahost serve`` process, then of ``redis-server`` (restarted on its AOF;
ingress answers 503 meanwhile and the clients post again): every webhook answered 200 is
handled, in order per user, repeated only with a kill between its handlings; the state counter
is exact; each reply arrives, repeated only for a unit handled twice. Long versions:
``python -m bench.reliability redis-crash redis-kill``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.crash_redis import Kill, run_crash_redis


def _require_redis_server() -> None:
    """Skip without the binary, except in CI (``CI=true``), where the test must run."""
    from wahost_redis.testing import find_redis_server

    if find_redis_server() is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the Redis tests")
        pytest.skip(reason)


@pytest.mark.redis
@pytest.mark.parametrize("kill", ["server", "redis"])
def test_kill_9_on_redis_loses_nothing_and_repeats_only_at_kills(
    kill: Kill, tmp_path: Path
) -> None:
    pytest.importorskip("wahost_redis", reason="the wahost-redis plugin is not installed")
    _require_redis_server()
    outcome = run_crash_redis(
        kill=kill,
        workdir=tmp_path,
        seed=5,
        messages=240,
        kills=3,
        clients=6,
        concurrency=8,
        timeout=60,
        replies=True,
    )
    print(outcome.report())
    assert outcome.kills == 3
    assert outcome.acked == outcome.messages
    assert outcome.lost == [] and outcome.out_of_order == [] and outcome.wrong_counters == []
    assert outcome.repeats_unexplained == []
    assert outcome.replies_missing == [] and outcome.replies_unexplained == []
    if kill == "redis":
        assert outcome.errors_5xx > 0, "no 503 while Redis was down: the kill was not seen"
    assert outcome.ok()
