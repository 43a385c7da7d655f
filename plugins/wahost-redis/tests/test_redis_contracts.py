"""The core's contract suites, run against a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wahost_redis import RedisQueue, RedisStateStore

from wahost.queue.base import QueueBackend
from wahost.state.base import StateStore
from wahost.testing.contracts import QueueContract, StateStoreContract


class TestRedisQueue(QueueContract):
    @pytest.fixture
    async def queue(self, redis_url: str) -> AsyncIterator[QueueBackend]:
        queue = RedisQueue(redis_url)
        await queue.open()
        yield queue
        await queue.close()

    @pytest.fixture
    async def queue_and_store(
        self, redis_url: str
    ) -> AsyncIterator[tuple[QueueBackend, StateStore]]:
        queue, store = RedisQueue(redis_url), RedisStateStore(redis_url)
        await queue.open()
        await store.open()
        assert queue.shares_transaction_with(store)
        yield queue, store
        await store.close()
        await queue.close()


class TestRedisStateStore(StateStoreContract):
    @pytest.fixture
    async def store(self, redis_url: str) -> AsyncIterator[StateStore]:
        store = RedisStateStore(redis_url)
        await store.open()
        yield store
        await store.close()
