"""The hooks: ``[queue] backend = "postgres"``, ``[state] backend = "postgres"``, and the
``wahost postgres`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import msgspec

from wahost import SlotKey, hookimpl
from wahost.host import StartupError
from wahost.queue.base import QueueBackend
from wahost.state.base import StateStore
from wahost_postgres.config import PostgresSettings

# The driver (psycopg and its pool) is imported only when a backend on PostgreSQL is chosen:
# every installed plugin is loaded at start, and a process on SQLite need not carry it.
if TYPE_CHECKING:
    from wahost import Wahost
    from wahost_postgres.database import PostgresDatabase

#: The databases opened by this host, by (url, schema).
_DATABASES: SlotKey[dict[tuple[str, str], PostgresDatabase]] = SlotKey("postgres:databases")


@hookimpl
def wahost_config_schema() -> dict[str, type[msgspec.Struct]]:
    return {"postgres": PostgresSettings}


def database(host: Wahost, url: str, section: str) -> PostgresDatabase:
    """The host's database for ``url`` (one pool per process for the queue and the store);
    a bad url stops the start with the file, the key and the fix."""
    from wahost_postgres.database import PostgresDatabase, check_url

    problem = check_url(url)
    if problem is not None:
        raise StartupError(
            f"{host.config.source}: {section}.url: {problem}; give a libpq URL such as"
            ' "postgresql://user:${PGPASSWORD}@host:5432/dbname"'
        )
    settings = host.plugin_config("postgres", PostgresSettings)
    databases = host.slots.setdefault(_DATABASES, dict)
    key = (url, settings.schema)
    if key not in databases:
        databases[key] = PostgresDatabase(
            url,
            schema=settings.schema,
            min_connections=settings.min_connections,
            max_connections=settings.max_connections,
            connect_timeout=settings.connect_timeout,
            pool_timeout=settings.pool_timeout,
            statement_timeout=settings.statement_timeout,
        )
    return databases[key]


@hookimpl
def wahost_queue_backend(host: Wahost, config: Any) -> QueueBackend | None:
    if config.backend != "postgres":
        return None
    from wahost_postgres.queue import PostgresQueue

    settings = host.plugin_config("postgres", PostgresSettings)
    queue = PostgresQueue(
        database=database(host, config.url, "queue"),
        dedupe_ttl=config.dedupe_ttl,
        owner_ttl=settings.owner_ttl,
        upgrade=settings.auto_upgrade,
    )
    # A notification of new work wakes this process's worker at once.
    queue.wakeup = host.wakeup
    return queue


@hookimpl
def wahost_state_store(host: Wahost, config: Any) -> StateStore | None:
    if config.backend != "postgres":
        return None
    from wahost_postgres.state import PostgresStateStore

    url = config.url or host.config.queue.url
    return PostgresStateStore(
        database=database(host, url, "state" if config.url else "queue"),
        ttl=config.ttl,
        # Markers of applied units must outlive the dedupe keys of their units.
        applied_ttl=host.config.queue.dedupe_ttl,
        upgrade=host.plugin_config("postgres", PostgresSettings).auto_upgrade,
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_postgres.commands import postgres

    cli.add_command(postgres)
