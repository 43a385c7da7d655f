"""The built-in ``sqlite`` (default) and ``memory`` queue and state store backends, and the
pacing of one process's sends (:class:`wahost.pacing.LocalPacer`).

When the queue and the state store use the same SQLite file they share one engine, so a
unit's state changes are committed in the same transaction as its ack.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost.hookspecs import hookimpl
from wahost.queue.base import QueueBackend
from wahost.slots import SlotKey
from wahost.state.base import StateStore

if TYPE_CHECKING:
    from wahost.host import Wahost
    from wahost.pacing import SendPacer
    from wahost.sqlite_db import SQLiteDatabase
    from wahost.state.memory import MemoryStateStore


#: This host's SQLite databases by resolved path: a queue and a state store on one file share
#: one engine.
SQLITE_DATABASES: SlotKey[dict[str, SQLiteDatabase]] = SlotKey("wahost.sqlite_databases")
#: This host's memory state store, shared by the memory queue.
MEMORY_STATE: SlotKey[MemoryStateStore] = SlotKey("wahost.memory_state")


def _sqlite_database(host: Wahost, path: str) -> SQLiteDatabase:
    from wahost.sqlite_db import SQLiteDatabase

    databases = host.slots.setdefault(SQLITE_DATABASES, dict)
    key = str(Path(path).resolve())
    database = databases.get(key)
    if database is None:
        queue = host.config.queue
        database = SQLiteDatabase(
            path, synchronous=queue.synchronous, busy_timeout=queue.busy_timeout
        )
        databases[key] = database
    return database


@hookimpl(trylast=True)
def wahost_queue_backend(host: Any, config: Any) -> QueueBackend | None:
    if config.backend == "sqlite":
        from wahost.queue.sqlite import SQLiteQueue

        return SQLiteQueue(
            database=_sqlite_database(host, config.path), dedupe_ttl=config.dedupe_ttl
        )
    if config.backend == "memory":
        from wahost.queue.memory import MemoryQueue

        # With a memory state store too, the queue applies state changes in its ack.
        store = _memory_store(host) if host.config.state.backend == "memory" else None
        return MemoryQueue(dedupe_ttl=config.dedupe_ttl, store=store)
    return None


@hookimpl(trylast=True)
def wahost_state_store(host: Any, config: Any) -> StateStore | None:
    if config.backend == "sqlite":
        from wahost.state.sqlite import SQLiteStateStore

        path = config.path or host.config.queue.path
        return SQLiteStateStore(database=_sqlite_database(host, path), ttl=config.ttl)
    if config.backend == "memory":
        return _memory_store(host)
    return None


def _memory_store(host: Wahost) -> MemoryStateStore:
    """One memory store per host, shared by the memory queue (atomic ack + state)."""
    from wahost.state.memory import MemoryStateStore

    return host.slots.setdefault(MEMORY_STATE, lambda: MemoryStateStore(ttl=host.config.state.ttl))


@hookimpl(trylast=True)
def wahost_rate_limiter(host: Any, config: Any) -> SendPacer:
    """This process's own limiters: right for SQLite and memory, where one process sends."""
    from wahost.pacing import LocalPacer

    return LocalPacer(config.messages_per_second, config.recipient_interval)
