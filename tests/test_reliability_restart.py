"""Restart after ``kill -9`` (issue 22): a real ``wahost serve`` with the default 60 s lease is
killed while a plugin holds one unit of each of 8 conversations; started again, it handles the
interrupted conversations within 5 s (not after the lease), in order, each interrupted unit
on its second attempt. On SQLite and on Redis. Long version:
``python -m bench.reliability restart``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.restart import GOAL, Backend, run_restart
from wahost.queue.owner import this_machine

pytestmark = pytest.mark.skipif(not this_machine(), reason="no /proc on this platform")


def _require_redis_server() -> None:
    """Skip without the plugin or the binary, except in CI (``CI=true``)."""
    pytest.importorskip("wahost_redis", reason="the wahost-redis plugin is not installed")
    from wahost_redis.testing import find_redis_server

    if find_redis_server() is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the Redis tests")
        pytest.skip(reason)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_restart_after_kill_9_moves_the_interrupted_conversations_within_5_s(
    backend: Backend, tmp_path: Path
) -> None:
    if backend == "redis":
        _require_redis_server()
    outcome = run_restart(backend=backend, users=8, rounds=1, workdir=tmp_path, wait=15)
    print(outcome.row().result)
    [restart] = outcome.rounds
    assert restart.moved <= GOAL, f"the interrupted conversations moved after {restart.moved} s"
    assert outcome.lost == [] and outcome.out_of_order == [] and outcome.wrong_attempts == []
    assert outcome.ok()
