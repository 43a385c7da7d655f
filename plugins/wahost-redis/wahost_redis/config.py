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
