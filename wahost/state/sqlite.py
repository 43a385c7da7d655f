"""The SQLite state store (the default): conversations and namespaced keys in the queue's file.

Tables are prefixed ``ws_``. A conversation row keeps ``updated_at`` rather than an expiry, so
the store's ``ttl`` applies at read time and a queue sharing the file can write state (through
:func:`apply_changes`, inside its ack transaction) without knowing the store's settings.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from wahost.sqlite_db import SQLiteDatabase, Synchronous
from wahost.state.base import ConversationState, KVWrite, StateChanges, StateStore, now

STATE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ws_conversations (
        conversation TEXT PRIMARY KEY,
        name TEXT,
        data BLOB NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS ws_conversations_updated ON ws_conversations (updated_at)",
    """CREATE TABLE IF NOT EXISTS ws_kv (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_at REAL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS ws_kv_expires ON ws_kv (expires_at)
        WHERE expires_at IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS ws_applied (
        unit_key TEXT PRIMARY KEY,
        applied_at REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS ws_applied_at ON ws_applied (applied_at)",
)

#: Seconds between two opportunistic purges of expired rows, and rows deleted per table each.
PURGE_INTERVAL = 60.0
PURGE_BATCH = 1000

_encode = msgspec.json.encode
_decode_data = msgspec.json.Decoder(dict[str, Any]).decode


def create_state_schema(conn: sqlite3.Connection) -> None:
    """Create the state tables if missing (run inside a write transaction)."""
    for statement in STATE_SCHEMA:
        conn.execute(statement)


def _write_conversation(
    conn: sqlite3.Connection, conversation: str, state: ConversationState | None, at: float
) -> ConversationState | None:
    if state is None:
        conn.execute("DELETE FROM ws_conversations WHERE conversation = ?", (conversation,))
        return None
    data = _encode(state.data)
    conn.execute(
        "INSERT INTO ws_conversations (conversation, name, data, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (conversation) DO UPDATE SET"
        " name = excluded.name, data = excluded.data, updated_at = excluded.updated_at",
        (conversation, state.name, data, at),
    )
    return ConversationState(name=state.name, data=_decode_data(data), updated_at=at)


def _write_kv(
    conn: sqlite3.Connection,
    namespace: str,
    key: str,
    value: bytes | None,
    ttl: float | None,
    at: float,
) -> None:
    if value is None:
        conn.execute("DELETE FROM ws_kv WHERE namespace = ? AND key = ?", (namespace, key))
        return
    conn.execute(
        "INSERT INTO ws_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (namespace, key) DO UPDATE SET"
        " value = excluded.value, expires_at = excluded.expires_at",
        (namespace, key, bytes(value), None if ttl is None else at + ttl),
    )


def apply_changes(conn: sqlite3.Connection, changes: StateChanges, at: float) -> bool:
    """Apply a unit's buffered writes once, inside the caller's transaction.

    Returns ``False`` and writes nothing when ``changes.unit_key`` is already recorded.
    """
    cur = conn.execute(
        "INSERT INTO ws_applied (unit_key, applied_at) VALUES (?, ?)"
        " ON CONFLICT (unit_key) DO NOTHING",
        (changes.unit_key, at),
    )
    if cur.rowcount == 0:
        return False
    for conversation, state in changes.conversations.items():
        _write_conversation(conn, conversation, state, at)
    for write in changes.kv:
        _write_kv(conn, write.namespace, write.key, write.value, write.ttl, at)
    return True


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: none)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be stored as UTF-8
        following = 0xE000
    return stripped[:-1] + chr(following)


#: Conversations named in one statement of :meth:`SQLiteStateStore.get_many` (well below
#: SQLite's limit on a statement's parameters).
_READ_CHUNK = 500


class SQLiteStateStore(StateStore):
    """State in an SQLite file, by default the queue's (pass the same ``database``).

    Give either ``path`` (the store then owns its :class:`SQLiteDatabase`) or ``database``.
    Expired rows are invisible at once and deleted opportunistically by later writes (or by
    :meth:`purge`). Applied-unit markers are kept ``applied_ttl`` seconds, which must be at
    least the queue's dedupe TTL. SQLite errors are raised as :class:`sqlite3.Error`.
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        database: SQLiteDatabase | None = None,
        ttl: float | None = None,
        applied_ttl: float = 8 * 86400,
        synchronous: Synchronous = "normal",
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(ttl=ttl)
        self.database = SQLiteDatabase.given(
            path, database, synchronous=synchronous, busy_timeout=busy_timeout
        )
        self.applied_ttl = applied_ttl
        self._opened = False
        self._next_purge = 0.0

    async def open(self) -> None:
        if self._opened:
            return
        await self.database.open()
        self._opened = True
        await self.database.write(create_state_schema)

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.database.close()

    async def ping(self) -> None:
        """Raise unless the file can be read and can commit now (a disk full fails it)."""
        await self.database.read(lambda conn: conn.execute("SELECT 1").fetchone())
        await self.database.check_writable()

    def _expired(self, updated_at: float, at: float) -> bool:
        return self.ttl is not None and updated_at + self.ttl <= at

    def _read_conversation(
        self, conn: sqlite3.Connection, conversation: str, at: float
    ) -> ConversationState | None:
        row = conn.execute(
            "SELECT name, data, updated_at FROM ws_conversations WHERE conversation = ?",
            (conversation,),
        ).fetchone()
        return None if row is None else self._state(row[0], row[1], row[2], at)

    def _state(
        self, name: str | None, data: bytes, updated_at: float, at: float
    ) -> ConversationState | None:
        """A stored conversation's row as its state, or ``None`` once it has expired."""
        if self._expired(updated_at, at):
            return None
        return ConversationState(name=name, data=_decode_data(data), updated_at=updated_at)

    async def _write(self, fn: Callable[[sqlite3.Connection, float], Any]) -> Any:
        def op(conn: sqlite3.Connection) -> Any:
            at = now()
            result = fn(conn, at)
            if at >= self._next_purge:
                self._next_purge = at + PURGE_INTERVAL
                self._purge(conn, at, PURGE_BATCH)
            return result

        return await self.database.write(op)

    # -- conversations -------------------------------------------------------------------

    async def get(self, conversation: str) -> ConversationState | None:
        at = now()
        return await self.database.read(lambda c: self._read_conversation(c, conversation, at))

    async def get_many(self, conversations: Sequence[str]) -> list[ConversationState | None]:
        at = now()

        def op(conn: sqlite3.Connection) -> list[ConversationState | None]:
            # One statement a chunk, not one a conversation: the worker reads a leased batch's
            # states at once, and a statement's own cost (its lookup in the statement cache,
            # binding, stepping, Python's call) was most of a read (docs/performance.md).
            found: dict[str, ConversationState | None] = {}
            for start in range(0, len(conversations), _READ_CHUNK):
                chunk = conversations[start : start + _READ_CHUNK]
                rows = conn.execute(
                    "SELECT conversation, name, data, updated_at FROM ws_conversations"
                    f" WHERE conversation IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                for key, name, data, updated_at in rows:
                    found[key] = self._state(name, data, updated_at, at)
            return [found.get(key) for key in conversations]

        return await self.database.read(op)

    async def set(self, conversation: str, state: ConversationState) -> None:
        await self._write(lambda c, at: _write_conversation(c, conversation, state, at))

    async def update(
        self,
        conversation: str,
        fn: Callable[[ConversationState | None], ConversationState | None],
    ) -> ConversationState | None:
        # ``fn`` runs in the writer thread, inside the transaction: read-modify-write is atomic
        # across tasks and processes. Keep it quick; it holds the write lock.
        def op(conn: sqlite3.Connection, at: float) -> ConversationState | None:
            new = fn(self._read_conversation(conn, conversation, at))
            return _write_conversation(conn, conversation, new, at)

        result: ConversationState | None = await self._write(op)
        return result

    async def clear(self, conversation: str) -> None:
        await self._write(lambda c, at: _write_conversation(c, conversation, None, at))

    # -- namespaced key-value ------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        at = now()

        def op(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT value FROM ws_kv WHERE namespace = ? AND key = ?"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (namespace, key, at),
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self.database.read(op)

    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        await self._write(lambda c, at: _write_kv(c, namespace, key, value, ttl, at))

    async def kv_get_many(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        at = now()

        def op(conn: sqlite3.Connection) -> list[bytes | None]:
            values: list[bytes | None] = []
            for namespace, key in keys:
                row = conn.execute(
                    "SELECT value FROM ws_kv WHERE namespace = ? AND key = ?"
                    " AND (expires_at IS NULL OR expires_at > ?)",
                    (namespace, key, at),
                ).fetchone()
                values.append(None if row is None else bytes(row[0]))
            return values

        return await self.database.read(op)

    async def kv_write(self, writes: Sequence[KVWrite]) -> None:
        def op(conn: sqlite3.Connection, at: float) -> None:
            for write in writes:
                _write_kv(conn, write.namespace, write.key, write.value, write.ttl, at)

        await self._write(op)

    async def kv_add(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        def op(conn: sqlite3.Connection, at: float) -> bool:
            cur = conn.execute(
                "INSERT INTO ws_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (namespace, key) DO UPDATE SET"
                " value = excluded.value, expires_at = excluded.expires_at"
                " WHERE ws_kv.expires_at IS NOT NULL AND ws_kv.expires_at <= ?",
                (namespace, key, bytes(value), None if ttl is None else at + ttl, at),
            )
            return cur.rowcount == 1

        added: bool = await self._write(op)
        return added

    async def kv_delete(self, namespace: str, key: str) -> None:
        await self._write(lambda c, at: _write_kv(c, namespace, key, None, None, at))

    async def kv_scan(
        self, namespace: str, prefix: str = "", *, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        at = now()
        upper = _prefix_upper_bound(prefix)
        # A key range, not LIKE/GLOB: it uses the primary key and needs no escaping.
        sql = "SELECT key, value FROM ws_kv WHERE namespace = ? AND key >= ?"
        params: list[Any] = [namespace, prefix]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?"
        params += [at, max(limit, 0)]

        def op(conn: sqlite3.Connection) -> list[tuple[str, bytes]]:
            return [(k, bytes(v)) for k, v in conn.execute(sql, params)]

        return await self.database.read(op)

    async def kv_count(self, namespace: str, *, limit: int = 10_000) -> int:
        at = now()

        def op(conn: sqlite3.Connection) -> int:
            # The values are never read: the primary key's range alone answers it.
            row = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM ws_kv WHERE namespace = ?"
                " AND (expires_at IS NULL OR expires_at > ?) LIMIT ?)",
                (namespace, at, max(limit, 0)),
            ).fetchone()
            return int(row[0])

        count: int = await self.database.read(op)
        return count

    # -- unit commits --------------------------------------------------------------------

    async def apply(self, changes: StateChanges) -> bool:
        applied: bool = await self._write(lambda c, at: apply_changes(c, changes, at))
        return applied

    async def is_applied(self, unit_key: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM ws_applied WHERE unit_key = ?"
            return conn.execute(sql, (unit_key,)).fetchone() is not None

        return await self.database.read(op)

    # -- housekeeping --------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete every expired conversation, key and applied marker; returns how many."""
        purged: int = await self.database.write(lambda c: self._purge(c, now(), None))
        return purged

    def _purge(self, conn: sqlite3.Connection, at: float, batch: int | None) -> int:
        limit = -1 if batch is None else batch  # LIMIT -1: no limit
        deleted = 0
        if self.ttl is not None:
            deleted += conn.execute(
                "DELETE FROM ws_conversations WHERE conversation IN (SELECT conversation"
                " FROM ws_conversations WHERE updated_at <= ? LIMIT ?)",
                (at - self.ttl, limit),
            ).rowcount
        deleted += conn.execute(
            "DELETE FROM ws_kv WHERE (namespace, key) IN (SELECT namespace, key FROM ws_kv"
            " WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
            (at, limit),
        ).rowcount
        deleted += conn.execute(
            "DELETE FROM ws_applied WHERE unit_key IN (SELECT unit_key FROM ws_applied"
            " WHERE applied_at <= ? LIMIT ?)",
            (at - self.applied_ttl, limit),
        ).rowcount
        return deleted
