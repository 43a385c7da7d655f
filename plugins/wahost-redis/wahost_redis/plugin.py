"""The hooks: ``[queue] backend = "redis"``, ``[state] backend = "redis"``, and the pacing of
sends shared by every process when the queue is on Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from wahost import SlotKey, hookimpl
from wahost.pacing import SendPacer
from wahost.queue.base import QueueBackend
from wahost.state.base import StateStore
from wahost_redis.config import RedisSettings

# The Redis client is imported only when a backend on Redis is chosen: every installed plugin
# is loaded at start, and a process on SQLite need not carry the client's memory.
if TYPE_CHECKING:
    from wahost import Wahost
    from wahost_redis.queue import RedisQueue

#: The host's Redis queue, so the store can pair with it.
_QUEUE: SlotKey[RedisQueue] = SlotKey("redis:queue")


@hookimpl
def wahost_config_schema() -> dict[str, type[msgspec.Struct]]:
    return {"redis": RedisSettings}


@hookimpl
def wahost_queue_backend(host: Wahost, config: Any) -> QueueBackend | None:
    if config.backend != "redis":
        return None
    from wahost_redis.queue import RedisQueue

    settings = host.plugin_config("redis", RedisSettings)
    queue = RedisQueue(
        config.url,
        prefix=settings.prefix,
        dedupe_ttl=config.dedupe_ttl,
        socket_timeout=settings.socket_timeout,
        connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,
        owner_ttl=settings.owner_ttl,
    )
    host.slots[_QUEUE] = queue
    return queue


@hookimpl
def wahost_state_store(host: Wahost, config: Any) -> StateStore | None:
    if config.backend != "redis":
        return None
    from wahost_redis.state import RedisStateStore

    settings = host.plugin_config("redis", RedisSettings)
    queue = host.slots.get(_QUEUE)
    url = config.url or (queue is not None and host.config.queue.url) or ""
    store = RedisStateStore(
        url,
        prefix=settings.prefix,
        ttl=config.ttl,
        # Markers of applied units must outlive the dedupe keys of their units.
        applied_ttl=host.config.queue.dedupe_ttl,
        socket_timeout=settings.socket_timeout,
        connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,
    )
    if queue is not None:
        # Pairs them when they share a database: the ack then commits the unit's changes.
        queue.shares_transaction_with(store)
    return store


@hookimpl
def wahost_rate_limiter(host: Wahost, config: Any) -> SendPacer | None:
    """On Redis several processes send from one number: Meta's caps are shared through it."""
    queue = host.config.queue
    if queue.backend != "redis":
        return None
    from wahost_redis.pacing import RedisPacer

    settings = host.plugin_config("redis", RedisSettings)
    return RedisPacer(
        queue.url,
        rate=config.messages_per_second,
        interval=config.recipient_interval,
        # Longer than a request may take (a pool wait, the connection, writing, the answer).
        hold=config.connect_timeout + 3 * config.timeout,
        prefix=settings.prefix,
        socket_timeout=settings.socket_timeout,
        connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,
    )
