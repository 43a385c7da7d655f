"""wahost-redis: run wahost on Redis — many ingress processes and workers on many machines.

``[queue] backend = "redis"``: units in a Redis stream with a consumer group, deduplicated,
leased one at a time per conversation in arrival order across every worker, reclaimed from
dead workers. ``[state] backend = "redis"``: conversation state and namespaced keys, committed
with the unit's ack when both use the same Redis. With the queue on Redis, Meta's throughput cap
per number and spacing per user are shared by every process that sends (:class:`RedisPacer`).
See the README for the design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wahost.plugins import lazy_names
from wahost_redis.config import RedisSettings
from wahost_redis.plugin import (
    wahost_config_schema,
    wahost_queue_backend,
    wahost_rate_limiter,
    wahost_state_store,
)

if TYPE_CHECKING:
    from wahost_redis.connection import StoreUnavailable
    from wahost_redis.pacing import RedisPacer
    from wahost_redis.queue import RedisQueue
    from wahost_redis.state import RedisStateStore

#: Names imported on first use (they import the Redis client): the plugin is loaded in every
#: process, most of which run on SQLite.
_LAZY = {
    "RedisPacer": "wahost_redis.pacing",
    "RedisQueue": "wahost_redis.queue",
    "RedisStateStore": "wahost_redis.state",
    "StoreUnavailable": "wahost_redis.connection",
}

__getattr__ = lazy_names(globals(), _LAZY)


__all__ = [
    "RedisPacer",
    "RedisQueue",
    "RedisSettings",
    "RedisStateStore",
    "StoreUnavailable",
    "wahost_config_schema",
    "wahost_queue_backend",
    "wahost_rate_limiter",
    "wahost_state_store",
]
