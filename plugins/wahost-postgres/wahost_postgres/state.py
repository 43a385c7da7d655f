"""The PostgreSQL state store: conversations and namespaced keys in the bot's schema.

``conversations.data`` is ``jsonb``, so an operator can query it (``data->>'step'``). Expiry is
checked at read time against the server's clock: a conversation's ``updated_at`` plus the
store's ``ttl``, a key's ``expires_at``; expired rows are deleted a batch a minute by later
writes (or :meth:`PostgresStateStore.purge`). A unit's changes are written by the schema's
``apply_changes`` function, once per unit key, by the queue's ack when they share the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from psycopg import AsyncConnection

import wahost.state.base
from wahost.state.base import ConversationState, KVWrite, StateChanges, StateStore
from wahost_postgres.database import PostgresDatabase

#: Seconds between two purges of expired rows, and rows deleted per table each.
PURGE_INTERVAL = 60.0
PURGE_BATCH = 1000

_encode = msgspec.json.encode
_decode_data = msgspec.json.Decoder(dict[str, Any]).decode

Conn = AsyncConnection[tuple[Any, ...]]


class StoreUnavailable(wahost.state.base.StoreUnavailable):
    """The PostgreSQL state store could not read or write (server down, timeout)."""


def changes_args(changes: StateChanges) -> tuple[Any, ...]:
    """The arguments of the schema's ``apply_changes`` for ``changes`` (encoded here: data
    that is not JSON fails before anything is sent)."""
    conversations = list(changes.conversations)
    states = list(changes.conversations.values())
    return (
        changes.unit_key,
        conversations,
        [None if s is None else s.name for s in states],
        [None if s is None else _encode(s.data).decode() for s in states],
        [w.namespace for w in changes.kv],
        [w.key for w in changes.kv],
        [None if w.value is None else bytes(w.value) for w in changes.kv],
        [w.ttl for w in changes.kv],
    )


#: Call of ``apply_changes`` with :func:`changes_args` (casts: an empty list has no type).
APPLY_CHANGES = (
    "{s}.apply_changes(%s, %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::bytea[], %s::float8[])"
)


class PostgresStateStore(StateStore):
    """State in the bot's schema (see the module docstring). Give a ``url`` (and ``schema``)
    or a shared :class:`PostgresDatabase`. Applied-unit markers are kept ``applied_ttl``
    seconds, at least the queue's dedupe TTL. Failures raise :class:`StoreUnavailable`."""

    name = "postgres"

    def __init__(
        self,
        url: str = "",
        *,
        schema: str = "wahost",
        database: PostgresDatabase | None = None,
        ttl: float | None = None,
        applied_ttl: float = 8 * 86400,
        upgrade: bool = True,
    ) -> None:
        super().__init__(ttl=ttl)
        self.upgrade = upgrade
        self.database = database or PostgresDatabase(url, schema=schema)
        self.applied_ttl = applied_ttl
        self._opened = False
        self._next_purge = 0.0
        db = self.database
        ttl_clause = "(%(ttl)s::float8 IS NULL OR updated_at + %(ttl)s::float8 > {s}.epoch())"
        self._get = db.statement(
            "SELECT name, data::text, updated_at FROM {s}.conversations"
            f" WHERE conversation = %(c)s AND {ttl_clause}"
        )
        # One primary-key lookup per conversation (as kv_get_many's).
        self._get_many = db.statement(
            "SELECT c.name, c.data::text, c.updated_at"
            " FROM unnest(%(cs)s::text[]) WITH ORDINALITY AS wanted (conversation, n)"
            " LEFT JOIN LATERAL (SELECT name, data, updated_at FROM {s}.conversations"
            f" WHERE conversation = wanted.conversation AND {ttl_clause} OFFSET 0) c ON true"
            " ORDER BY wanted.n"
        )
        self._get_for_update = db.statement(
            "SELECT name, data::text, updated_at FROM {s}.conversations"
            f" WHERE conversation = %(c)s AND {ttl_clause} FOR UPDATE"
        )
        self._set = db.statement(
            "INSERT INTO {s}.conversations (conversation, name, data, updated_at)"
            " VALUES (%s, %s, %s::jsonb, {s}.epoch()) ON CONFLICT (conversation) DO UPDATE SET"
            " name = excluded.name, data = excluded.data, updated_at = excluded.updated_at"
            " RETURNING updated_at"
        )
        self._clear = db.statement("DELETE FROM {s}.conversations WHERE conversation = %s")
        self._kv_get = db.statement(
            "SELECT value FROM {s}.kv WHERE namespace = %s AND key = %s"
            " AND (expires_at IS NULL OR expires_at > {s}.epoch())"
        )
        self._kv_set = db.statement(
            "INSERT INTO {s}.kv (namespace, key, value, expires_at)"
            " VALUES (%(n)s, %(k)s, %(v)s, {s}.epoch() + %(ttl)s::float8)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " expires_at = excluded.expires_at"
        )
        self._kv_add = db.statement(
            "INSERT INTO {s}.kv AS kv (namespace, key, value, expires_at)"
            " VALUES (%(n)s, %(k)s, %(v)s, {s}.epoch() + %(ttl)s::float8)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " expires_at = excluded.expires_at"
            " WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= {s}.epoch()"
        )
        # One primary-key lookup per wanted key, whatever the statistics say: OFFSET 0 keeps
        # the subquery a parameterized scan (the planner would otherwise join the keys to a
        # scan of the whole table when it expects many of them, as for any array parameter).
        self._kv_get_many = db.statement(
            "SELECT wanted.namespace, wanted.key, kv.value"
            " FROM unnest(%s::text[], %s::text[]) AS wanted (namespace, key)"
            " CROSS JOIN LATERAL (SELECT value FROM {s}.kv WHERE namespace = wanted.namespace"
            " AND key = wanted.key AND (expires_at IS NULL OR expires_at > {s}.epoch())"
            " OFFSET 0) kv"
        )
        self._kv_delete = db.statement("DELETE FROM {s}.kv WHERE namespace = %s AND key = %s")
        self._kv_scan = db.statement(
            "SELECT key, value FROM {s}.kv WHERE namespace = %s AND key >= %s"
            " AND (%s::text IS NULL OR key < %s::text)"
            " AND (expires_at IS NULL OR expires_at > {s}.epoch()) ORDER BY key LIMIT %s"
        )
        self._kv_count = db.statement(
            "SELECT count(*) FROM (SELECT 1 FROM {s}.kv WHERE namespace = %s"
            " AND (expires_at IS NULL OR expires_at > {s}.epoch()) LIMIT %s) live"
        )
        self._apply = db.statement(f"SELECT {APPLY_CHANGES}")
        self._is_applied = db.statement("SELECT 1 FROM {s}.applied WHERE unit_key = %s")

    async def open(self) -> None:
        if not self._opened:
            await self.database.open(StoreUnavailable, upgrade=self.upgrade)
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.database.close()

    async def ping(self) -> None:
        await self._fetch(b"SELECT 1", ())

    async def _fetch(
        self, statement: bytes, params: Any, *, retry: bool = True
    ) -> list[tuple[Any, ...]]:
        async def op(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(statement, params)
            return await cur.fetchall() if cur.description else []

        rows = await self.database.run(op, StoreUnavailable, retry=retry)
        await self._maybe_purge()
        return rows

    async def _count(self, statement: bytes, params: Any, *, retry: bool = True) -> int:
        async def op(conn: Conn) -> int:
            return (await conn.execute(statement, params)).rowcount

        return await self.database.run(op, StoreUnavailable, retry=retry)

    # -- conversations -------------------------------------------------------------------

    @staticmethod
    def _state(row: tuple[Any, ...]) -> ConversationState:
        return ConversationState(name=row[0], data=_decode_data(row[1]), updated_at=row[2])

    async def get(self, conversation: str) -> ConversationState | None:
        rows = await self._fetch(self._get, {"c": conversation, "ttl": self.ttl})
        return self._state(rows[0]) if rows else None

    async def get_many(self, conversations: Sequence[str]) -> list[ConversationState | None]:
        """The states of several conversations in one statement (a worker's leased batch)."""
        if not conversations:
            return []
        rows = await self._fetch(self._get_many, {"cs": list(conversations), "ttl": self.ttl})
        return [None if row[1] is None else self._state(row) for row in rows]

    async def set(self, conversation: str, state: ConversationState) -> None:
        data = _encode(state.data).decode()
        await self._fetch(self._set, (conversation, state.name, data))

    async def update(
        self,
        conversation: str,
        fn: Callable[[ConversationState | None], ConversationState | None],
    ) -> ConversationState | None:
        lock = self.database.statement("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))")

        async def op(conn: Conn) -> ConversationState | None:
            async with conn.transaction():
                # The row may not exist yet, so its lock alone would not order two updates.
                await conn.execute(lock, (f"{self.database.schema}:{conversation}",))
                cur = await conn.execute(self._get_for_update, {"c": conversation, "ttl": self.ttl})
                row = await cur.fetchone()
                new = fn(None if row is None else self._state(row))
                if new is None:
                    await conn.execute(self._clear, (conversation,))
                    return None
                data = _encode(new.data).decode()
                cur = await conn.execute(self._set, (conversation, new.name, data))
                written = await cur.fetchone()
                assert written is not None
                return ConversationState(
                    name=new.name, data=_decode_data(data), updated_at=written[0]
                )

        return await self.database.run(op, StoreUnavailable)

    async def clear(self, conversation: str) -> None:
        await self._fetch(self._clear, (conversation,))

    # -- namespaced key-value ------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        rows = await self._fetch(self._kv_get, (namespace, key))
        return bytes(rows[0][0]) if rows else None

    async def kv_set(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        await self._fetch(self._kv_set, {"n": namespace, "k": key, "v": bytes(value), "ttl": ttl})

    async def kv_add(
        self, namespace: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        params = {"n": namespace, "k": key, "v": bytes(value), "ttl": ttl}
        # Not tried twice: a first try that committed would make the second report False.
        return await self._count(self._kv_add, params, retry=False) == 1

    async def kv_delete(self, namespace: str, key: str) -> None:
        await self._fetch(self._kv_delete, (namespace, key))

    async def kv_scan(
        self, namespace: str, prefix: str = "", *, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        upper = _prefix_upper_bound(prefix)
        rows = await self._fetch(self._kv_scan, (namespace, prefix, upper, upper, max(limit, 0)))
        return [(key, bytes(value)) for key, value in rows]

    async def kv_get_many(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """The values of several keys in one statement (the outbox reads two before a send)."""
        if not keys:
            return []
        rows = await self._fetch(self._kv_get_many, ([n for n, _ in keys], [k for _, k in keys]))
        found = {(n, k): bytes(v) for n, k, v in rows}
        return [found.get(key) for key in keys]

    async def kv_write(self, writes: Sequence[KVWrite]) -> None:
        """Several key writes in one transaction."""
        encoded = [
            {
                "n": w.namespace,
                "k": w.key,
                "v": None if w.value is None else bytes(w.value),
                "ttl": w.ttl,
            }
            for w in writes
        ]

        async def op(conn: Conn) -> None:
            async with conn.transaction():
                for write in encoded:
                    if write["v"] is None:
                        await conn.execute(self._kv_delete, (write["n"], write["k"]))
                    else:
                        await conn.execute(self._kv_set, write)

        if encoded:
            await self.database.run(op, StoreUnavailable)

    async def kv_count(self, namespace: str, *, limit: int = 10_000) -> int:
        rows = await self._fetch(self._kv_count, (namespace, max(limit, 0)))
        return int(rows[0][0])

    # -- unit commits --------------------------------------------------------------------

    async def apply(self, changes: StateChanges) -> bool:
        args = changes_args(changes)
        # Not tried twice: a first try that committed would make the second report False.
        rows = await self._fetch(self._apply, args, retry=False)
        return bool(rows[0][0])

    async def is_applied(self, unit_key: str) -> bool:
        return bool(await self._fetch(self._is_applied, (unit_key,)))

    # -- housekeeping --------------------------------------------------------------------

    async def _maybe_purge(self) -> None:
        at = time.monotonic()
        if at >= self._next_purge:
            self._next_purge = at + PURGE_INTERVAL
            await self._purge(PURGE_BATCH)

    async def purge(self) -> int:
        """Delete every expired conversation, key and applied marker; returns how many."""
        return await self._purge(None)

    async def _purge(self, batch: int | None) -> int:
        limit = "" if batch is None else f" LIMIT {int(batch)}"
        statements = [
            (
                "DELETE FROM {s}.kv WHERE (namespace, key) IN (SELECT namespace, key FROM {s}.kv"
                f" WHERE expires_at IS NOT NULL AND expires_at <= {{s}}.epoch(){limit})",
                (),
            ),
            (
                "DELETE FROM {s}.applied WHERE unit_key IN (SELECT unit_key FROM {s}.applied"
                f" WHERE applied_at <= {{s}}.epoch() - %s{limit})",
                (self.applied_ttl,),
            ),
        ]
        if self.ttl is not None:
            statements.append(
                (
                    "DELETE FROM {s}.conversations WHERE conversation IN (SELECT conversation"
                    f" FROM {{s}}.conversations WHERE updated_at <= {{s}}.epoch() - %s{limit})",
                    (self.ttl,),
                )
            )
        deleted = 0
        for text, params in statements:
            deleted += await self._count(self.database.statement(text), params)
        return deleted


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: none),
    in code point order (the key columns are ``COLLATE "C"``: UTF-8 bytes sort so)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be stored as UTF-8
        following = 0xE000
    return stripped[:-1] + chr(following)
