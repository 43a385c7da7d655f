"""``[plugins.postgres]``: settings shared by the PostgreSQL queue and state store.

The server itself is ``[queue] url`` / ``[state] url``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class PostgresSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.postgres]``: the schema, the pool and the timeouts."""

    schema: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=40,
            pattern=r"^[a-z_][a-z0-9_]*$",
            description="Schema holding the bot's tables, created at first start; one schema "
            "per bot on a shared database. Lower-case letters, digits and _.",
        ),
    ] = "wahost"
    min_connections: Annotated[
        int, Meta(ge=0, description="Connections the pool keeps open per process when idle.")
    ] = 1
    max_connections: Annotated[
        int,
        Meta(
            ge=1,
            description="Connections per process at most, shared by the queue and the state "
            "store (plus one for LISTEN in a worker); a call waits up to pool_timeout for one. "
            "Mind the server's max_connections across every process.",
        ),
    ] = 10
    connect_timeout: Annotated[
        float, Meta(gt=0, description="Seconds to wait for a new connection to the server.")
    ] = 5.0
    pool_timeout: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a call waits for a free (or new) connection before it fails: "
            "ingress then answers 503, a worker backs off.",
        ),
    ] = 5.0
    statement_timeout: Annotated[
        float, Meta(gt=0, description="Seconds a statement may run before the server cancels it.")
    ] = 30.0
    owner_ttl: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a worker's liveness record lives unless its process renews "
            "it (every quarter of this). A worker on another machine that died has its leases "
            "released this long after its last renewal; one on the same machine, at once.",
        ),
    ] = 5.0
    auto_upgrade: Annotated[
        bool,
        Meta(
            description="Move an older schema forward when a process starts. false: a start "
            "on an older schema stops with a line asking for `wahost postgres upgrade` (for "
            "deployments that upgrade the schema as a step of their own).",
        ),
    ] = True
