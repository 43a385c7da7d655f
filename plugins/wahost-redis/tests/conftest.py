"""Fixtures of the Redis tests: a real ``redis-server`` on a free port, started by the tests.

Without the binary the tests are skipped with the reason, except in CI (``CI=true``), where
they fail: ``.ci/run`` installs ``redis-server``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from wahost_redis.recording import Recorded
from wahost_redis.testing import RedisServer, find_redis_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs a redis-server: mark it ``redis`` (``-m "not redis"``)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.redis)


def require_redis_server() -> str:
    """The binary's path; skips the test (fails it in CI) when it is missing."""
    binary = find_redis_server()
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the Redis tests")
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the session; each test gets it empty through ``redis_url``."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), binary=require_redis_server())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the session's server, emptied for this test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test alone (to kill and restart), started."""
    server = RedisServer(tmp_path / "redis", binary=require_redis_server())
    server.start()
    yield server
    server.kill()


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    runs = Recorded(tmp_path / "run")
    yield runs
    runs.stop()
