"""The SQLite backends pass the queue and state store contracts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wahost.queue.sqlite import SQLiteQueue
from wahost.sqlite_db import SQLiteDatabase
from wahost.state.sqlite import SQLiteStateStore
from wahost.testing.contracts import QueueContract, StateStoreContract


class TestSQLiteQueue(QueueContract):
    @pytest.fixture
    async def queue(self, tmp_path: Path) -> AsyncIterator[SQLiteQueue]:
        queue = SQLiteQueue(tmp_path / "var" / "wahost.db")
        await queue.open()
        yield queue
        await queue.close()

    @pytest.fixture
    async def queue_and_store(
        self, tmp_path: Path
    ) -> AsyncIterator[tuple[SQLiteQueue, SQLiteStateStore]]:
        database = SQLiteDatabase(tmp_path / "wahost.db")
        queue = SQLiteQueue(database=database)
        store = SQLiteStateStore(database=database)
        await queue.open()
        await store.open()
        assert queue.shares_transaction_with(store)
        yield queue, store
        await queue.close()
        await store.close()
        assert not database.is_open


class TestSQLiteStateStore(StateStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStateStore]:
        store = SQLiteStateStore(tmp_path / "state.db")
        await store.open()
        yield store
        await store.close()
