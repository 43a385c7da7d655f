"""Connecting to Redis: one client per backend, failures as wahost's exceptions.

redis-py reconnects by itself. A command that fails with a connection error (typically a pooled
connection to a Redis that restarted, which never saw the command) is retried once, at once, on
a fresh connection; a timeout is not retried, since the command may have run (a script run
twice would, say, make a ``kv_add`` that succeeded report failure). No retries with backoff:
ingress must answer 503 quickly while Redis is down, and the worker backs off by itself.

The pool blocks when all its connections are busy (a burst of webhooks waits its turn) rather
than failing the call, as redis-py's default pool does past 100 connections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

import wahost.state.base

T = TypeVar("T")

DEFAULT_URL = "redis://localhost:6379/0"


class StoreUnavailable(wahost.state.base.StoreUnavailable):
    """The Redis state store could not read or write (server down, timeout, out of memory)."""


def connect(
    url: str,
    *,
    socket_timeout: float = 5.0,
    connect_timeout: float = 2.0,
    max_connections: int = 100,
) -> Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``) with wahost's timeouts
    and a pool of at most ``max_connections``; closing the client closes the pool."""
    pool = BlockingConnectionPool.from_url(
        url or DEFAULT_URL,
        max_connections=max_connections,
        timeout=socket_timeout,  # waiting for a free connection
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        decode_responses=False,
    )
    return Redis.from_pool(pool)


def server_of(client: Redis) -> tuple[Any, ...]:
    """What identifies the database a client talks to (the password aside)."""
    kwargs = client.connection_pool.connection_kwargs
    return (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), kwargs.get("db", 0))


def describe(client: Redis) -> str:
    """``redis://host:port/db`` of a client, for error messages (never the password)."""
    host, port, path, db = server_of(client)
    where = f"unix://{path}" if path else f"redis://{host}:{port}"
    return f"{where}/{db}"


async def guarded(client: Redis, awaitable: Awaitable[T], error: Callable[[str], Exception]) -> T:
    """Await a Redis call; any Redis failure becomes ``error(message)``."""
    try:
        return await awaitable
    except RedisError as exc:
        raise error(f"{describe(client)}: {type(exc).__name__}: {exc}") from exc


def ms(seconds: float) -> int:
    """Whole milliseconds, at least 1 for a positive duration (``PX 0`` is an error)."""
    return max(1, round(seconds * 1000)) if seconds > 0 else 0


def escape_namespace(namespace: str) -> str:
    """A namespace as part of a key name: ``%`` and ``:`` escaped, so ``:`` ends it."""
    return namespace.replace("%", "%25").replace(":", "%3A")


def glob_escape(text: str) -> str:
    """``text`` matched literally in a ``SCAN MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
