"""Fixtures of the PostgreSQL tests: a database of this run's own on the test server (see
:mod:`wahost_postgres.testing`), dropped at the end; a fresh schema per test.

Without a server the tests are skipped with the reason, except in CI (``CI=true``), where they
fail: ``.ci/run`` starts the server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from wahost_postgres.testing import (
    Cluster,
    Recorded,
    find_binaries,
    scratch_database,
    server_answers,
    server_url,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs PostgreSQL: mark it ``postgres`` (``-m "not postgres"``)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.postgres)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of this run's own on the test server (dropped at the end)."""
    url = server_url()
    problem = server_answers(url)
    if problem is not None:
        _unavailable(f"no PostgreSQL answers at {url} ({problem})")
    with scratch_database(url) as database:
        yield database


@pytest.fixture
def pg_schema() -> str:
    """A schema name of this test's own (created by the first backend that opens it)."""
    return f"t_{secrets.token_hex(4)}"


@pytest.fixture
def server_binaries() -> None:
    """Skips the test (fails it in CI) without initdb and pg_ctl."""
    if find_binaries() is None:
        _unavailable("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")


@pytest.fixture
def cluster(server_binaries: None) -> Iterator[Cluster]:
    """A throwaway cluster of this test's own, started (to stop and start again)."""
    own = Cluster()
    try:
        own.start()
        yield own
    finally:
        own.remove()


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    runs = Recorded(tmp_path / "run")
    yield runs
    runs.stop()
