"""``[plugins.redis]``: settings shared by the Redis queue and state store.

The server itself is ``[queue] url`` / ``[state] url``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class RedisSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.redis]``: key prefix and network timeouts."""

    prefix: Annotated[
        str,
        Meta(
            min_length=1,
            description="Start of every key name; give each bot its own on a shared server. "
            "The queue commits state changes with its ack only when both use the same prefix "
            "and server.",
        ),
    ] = "wahost:"
    socket_timeout: Annotated[
        float,
        Meta(gt=0, description="Seconds to wait for a Redis answer before the call fails."),
    ] = 5.0
    connect_timeout: Annotated[
        float, Meta(gt=0, description="Seconds to wait for a connection to Redis.")
    ] = 2.0
    max_connections: Annotated[
        int,
        Meta(
            ge=1,
            description="Connections to Redis per process for the queue, and as many for the "
            "state store; a call waits (up to socket_timeout) when all are busy.",
        ),
    ] = 100
    owner_ttl: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a worker's liveness record lives unless its process renews it "
            "(it does every quarter of this). When a worker on another machine dies, its "
            "leases are released this long (and at most a second more) after its last renewal; "
            "one on the same machine, at once. A process whose event loop is blocked longer "
            "loses its leases to the others.",
        ),
    ] = 5.0
