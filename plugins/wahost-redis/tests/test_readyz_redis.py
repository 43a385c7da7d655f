"""``ping`` (``/readyz``) of the Redis backends fails while Redis refuses writes (``maxmemory``
reached with ``noeviction``: ``PING`` still answers) and passes again once memory is freed."""

from __future__ import annotations

import pytest
from wahost_redis import RedisQueue, RedisStateStore
from wahost_redis.connection import StoreUnavailable
from wahost_redis.testing import RedisServer

from wahost.queue.base import QueueUnavailable


async def test_ping_fails_while_redis_is_out_of_memory(own_redis: RedisServer) -> None:
    queue = RedisQueue(own_redis.url)
    store = RedisStateStore(own_redis.url)
    await queue.open()
    await store.open()
    try:
        await queue.ping()
        await store.ping()
        with own_redis.client() as admin:
            admin.set("ballast", b"x" * 4_000_000)
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", "1mb")
            assert admin.ping()  # a PING alone would say all is well
            with pytest.raises(QueueUnavailable, match="OutOfMemoryError"):
                await queue.ping()
            with pytest.raises(StoreUnavailable, match="OutOfMemoryError"):
                await store.ping()
            admin.delete("ballast")
            admin.config_set("maxmemory", "0")
        await queue.ping()
        await store.ping()
    finally:
        await store.close()
        await queue.close()
