"""The memory backends pass the queue and state store contracts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wahost.queue.memory import MemoryQueue
from wahost.state.memory import MemoryStateStore
from wahost.testing.contracts import QueueContract, StateStoreContract


class TestMemoryQueue(QueueContract):
    @pytest.fixture
    async def queue(self) -> AsyncIterator[MemoryQueue]:
        queue = MemoryQueue()
        await queue.open()
        yield queue
        await queue.close()

    @pytest.fixture
    async def queue_and_store(self) -> AsyncIterator[tuple[MemoryQueue, MemoryStateStore]]:
        store = MemoryStateStore()
        queue = MemoryQueue(store=store)
        assert queue.shares_transaction_with(store)
        assert not queue.shares_transaction_with(MemoryStateStore())
        yield queue, store


class TestMemoryQueueWithSeparateStore(QueueContract):
    """The worker's path when the queue cannot apply state changes in its ack."""

    @pytest.fixture
    async def queue(self) -> AsyncIterator[MemoryQueue]:
        yield MemoryQueue()

    @pytest.fixture
    async def queue_and_store(self) -> AsyncIterator[tuple[MemoryQueue, MemoryStateStore]]:
        yield MemoryQueue(), MemoryStateStore()


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStateStore]:
        store = MemoryStateStore()
        await store.open()
        yield store
        await store.close()
