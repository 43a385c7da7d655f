"""wahost-postgres: run wahost's queue and state store on PostgreSQL.

``[queue] backend = "postgres"``: units in tables of the bot's schema, deduplicated, leased one
at a time per conversation in arrival order across every worker (``FOR UPDATE SKIP LOCKED``),
workers woken by ``LISTEN/NOTIFY``, a dead worker's leases handed on. ``[state] backend =
"postgres"``: conversation state (``jsonb``) and namespaced keys, committed with the unit's ack.
See the README for the design and the tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wahost.plugins import lazy_names
from wahost_postgres.config import PostgresSettings
from wahost_postgres.plugin import (
    register_commands,
    wahost_config_schema,
    wahost_queue_backend,
    wahost_state_store,
)

if TYPE_CHECKING:
    from wahost_postgres.database import PostgresDatabase
    from wahost_postgres.queue import PostgresQueue
    from wahost_postgres.state import PostgresStateStore, StoreUnavailable

#: Names imported on first use (they import the driver): the plugin is loaded in every
#: process, most of which run on SQLite.
_LAZY = {
    "PostgresDatabase": "wahost_postgres.database",
    "PostgresQueue": "wahost_postgres.queue",
    "PostgresStateStore": "wahost_postgres.state",
    "StoreUnavailable": "wahost_postgres.state",
}

__getattr__ = lazy_names(globals(), _LAZY)


__all__ = [
    "PostgresDatabase",
    "PostgresQueue",
    "PostgresSettings",
    "PostgresStateStore",
    "StoreUnavailable",
    "register_commands",
    "wahost_config_schema",
    "wahost_queue_backend",
    "wahost_state_store",
]
