"""The core's contract suites, run against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wahost_postgres import PostgresDatabase, PostgresQueue, PostgresStateStore

from wahost.queue.base import QueueBackend
from wahost.state.base import StateStore
from wahost.testing.contracts import QueueContract, StateStoreContract


class TestPostgresQueue(QueueContract):
    @pytest.fixture
    async def queue(self, pg_database: str, pg_schema: str) -> AsyncIterator[QueueBackend]:
        queue = PostgresQueue(pg_database, schema=pg_schema)
        await queue.open()
        yield queue
        await queue.close()

    @pytest.fixture
    async def queue_and_store(
        self, pg_database: str, pg_schema: str
    ) -> AsyncIterator[tuple[QueueBackend, StateStore]]:
        database = PostgresDatabase(pg_database, schema=pg_schema)
        queue = PostgresQueue(database=database)
        store = PostgresStateStore(database=database)
        await queue.open()
        await store.open()
        assert queue.shares_transaction_with(store)
        yield queue, store
        await store.close()
        await queue.close()


class TestPostgresStateStore(StateStoreContract):
    @pytest.fixture
    async def store(self, pg_database: str, pg_schema: str) -> AsyncIterator[StateStore]:
        store = PostgresStateStore(pg_database, schema=pg_schema)
        await store.open()
        yield store
        await store.close()
