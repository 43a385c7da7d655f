"""The SQLite files wahost creates are private: the database, its -wal and -shm files 0600 and
the directories made for them 0700, whatever the umask; what exists keeps its mode. Real files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from wahost.queue.sqlite import SQLiteQueue
from wahost.testing.contracts import make_unit

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows files have no mode bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under the umask it is parametrized with (the process-wide one)."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


@pytest.mark.parametrize("umask", [0o022, 0o000], indirect=True, ids=["022", "000"])
async def test_a_new_database_its_wal_shm_and_directories_are_private(
    tmp_path: Path, umask: int
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    path = shared / "var" / "data" / "wahost.db"
    queue = SQLiteQueue(path)
    await queue.open()
    try:
        assert await queue.enqueue([make_unit("msg:wamid.modes")]) == 1
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {file.name: oct(mode(file)) for file in files} == {
            file.name: "0o600" for file in files
        }
    finally:
        await queue.close()
    assert mode(shared / "var") == mode(shared / "var" / "data") == 0o700
    assert mode(shared) == 0o755  # the user's own directory is left as it was


async def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    path.touch()
    path.chmod(0o640)  # say, for a backup group: the operator's choice
    queue = SQLiteQueue(path)
    await queue.open()
    try:
        await queue.enqueue([make_unit("msg:wamid.modes")])
        assert mode(path) == mode(Path(f"{path}-wal")) == 0o640
    finally:
        await queue.close()
