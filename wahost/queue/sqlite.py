"""The SQLite queue (the default backend): units, lanes, dedupe keys and quarantine in one file.

Schema (tables prefixed ``wq_``):

* ``wq_units`` — every unfinished or dead unit; ``id`` is the arrival order. An unfinished
  unit is leased while it has a ``token`` (until ``available_at``), else it is leasable from
  ``available_at`` (later than now while waiting for a retry). Done units are deleted; dead
  ones have ``dead = 1``. Leasing changes neither ``dead`` nor the indexed columns, so it
  rewrites no index page of ``wq_units`` (a third fewer WAL pages per drained unit).
* ``wq_lanes`` — one row per conversation that has unfinished units: ``head_id`` is its oldest
  unfinished unit, ``available_at`` when the lane may be leased next (0, a retry time or a
  lease expiry) and ``leased_id`` the unit currently leased. Leasing reads two partial
  indexes: lanes free now (``available_at = 0``) by ``head_id``, and the lanes whose retry or
  lease expiry is due; oldest lanes first. The cost depends neither on the backlog behind each
  head nor on how many lanes wait for a later retry.
* ``wq_dedupe`` — every key enqueued within ``dedupe_ttl``, done or not, with the id of the
  unit stored under it; a key whose unit is still stored (dead, say) is renewed, not purged.
  Units' keys have no index of their own but the dead units': enqueue finds a key here.

Replay puts a dead unit back under its original id, so it takes its original place in its
conversation: it is leased before any later unit of the conversation that is still waiting.
Later units already done stay done (they are not redone); the replayed unit simply runs next.
A unit replayed while a later unit of its conversation is leased waits for that lease to end;
if the lease expires instead, the replayed unit goes first and the later lease is revoked.

A lease is lost when its token is no longer the unit's: once it was handed out again, or the
unit was finished. A lease that expired but that no one took yet may still be acked.

Owners (schema 3): each opened queue has a row in ``wq_owners`` (its :class:`Owner` text) and
stamps its id on the units it leases (``wq_units.owner``). When a queue opens, and at most every
:data:`OWNER_CHECK_INTERVAL` seconds while it leases, it looks at the other owners' processes;
the leases of an owner known dead are released as if they had expired (token cleared, leasable
now, attempts kept) and its row is deleted. The leases are found through the lanes that wait
(``wq_lanes_waiting``), so it costs no scan of the units. The owners' ids are never reused.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from wahost.queue.base import (
    OWNER_CHECK_INTERVAL,
    DeadUnit,
    Lease,
    LeaseLost,
    QuarantinedBody,
    QueueBackend,
    QueueStats,
    QueueUnavailable,
    log_released,
)
from wahost.queue.owner import known_dead
from wahost.sqlite_db import SQLiteDatabase, Synchronous
from wahost.state.base import StateChanges, StateStore, now
from wahost.state.sqlite import SQLiteStateStore, apply_changes, create_state_schema
from wahost.unit_stamp import received_at
from wahost.units import Unit

T = TypeVar("T")

#: The queue schema's version, in ``wq_meta`` under ``schema``; a file without it holds version 1
#: (see :func:`_migrate_from_1` and :func:`_migrate_from_2`).
SCHEMA_VERSION = 3

_UNITS_TABLE = """CREATE TABLE {name} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        phone_number_id TEXT NOT NULL,
        user TEXT NOT NULL,
        conversation TEXT NOT NULL,
        body BLOB NOT NULL,
        dead INTEGER NOT NULL DEFAULT 0,
        available_at REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        error TEXT,
        died_at REAL,
        owner INTEGER
    )"""

#: The columns of ``wq_units`` in schemas 1 and 2 (schema 3 added ``owner``, the ``wq_owners``
#: id of the lease's holder while the unit is leased).
_UNITS_COLUMNS_1 = (
    "id, key, kind, phone_number_id, user, conversation, body, dead, available_at, attempts,"
    " token, error, died_at"
)

#: The indexes of ``wq_units`` in every schema.
_UNITS_INDEXES = (
    # The oldest unfinished unit of a conversation; dead units leave this partial index.
    """CREATE INDEX IF NOT EXISTS wq_units_lane ON wq_units (conversation, id)
        WHERE dead = 0""",
    "CREATE INDEX IF NOT EXISTS wq_units_dead ON wq_units (died_at, id) WHERE dead = 1",
)

QUEUE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS wq_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO wq_meta (name, value) VALUES ('done', 0)",
    # After _migrate_to_2, if the file needed it: a file without the mark holds schema 1.
    f"INSERT OR IGNORE INTO wq_meta (name, value) VALUES ('schema', {SCHEMA_VERSION})",
    _UNITS_TABLE.format(name="IF NOT EXISTS wq_units"),
    *_UNITS_INDEXES,
    # Replay by key. Only dead units are indexed by key: an index of every unit's key, random
    # as wamids are, costs each enqueue a leaf page of its own; wq_dedupe already finds a key,
    # and its unit_id the unit (docs/performance.md#dead-units-keys-only-schema-2).
    "CREATE INDEX IF NOT EXISTS wq_units_dead_key ON wq_units (key) WHERE dead = 1",
    """CREATE TABLE IF NOT EXISTS wq_lanes (
        conversation TEXT PRIMARY KEY,
        head_id INTEGER NOT NULL,
        available_at REAL NOT NULL,
        leased_id INTEGER
    ) WITHOUT ROWID""",
    # Lanes leasable now without a retry or lease pending (available_at = 0), oldest first; and
    # the others by when they come due. A lease reads the first in order and only the due
    # part of the second, so lanes waiting for a later retry cost it nothing (one index over
    # (head_id, available_at) had to skip every older waiting lane on every lease).
    "DROP INDEX IF EXISTS wq_lanes_next",
    "CREATE INDEX IF NOT EXISTS wq_lanes_ready ON wq_lanes (head_id) WHERE available_at = 0",
    """CREATE INDEX IF NOT EXISTS wq_lanes_waiting ON wq_lanes (available_at, head_id)
        WHERE available_at > 0""",
    # unit_id: the unit stored under the key (gone once it is done). A key does not expire
    # while its unit is stored: a purge renews it instead (dead units, or ones waiting that
    # long), so Meta's redelivery of a dead message is never queued a second time.
    """CREATE TABLE IF NOT EXISTS wq_dedupe (
        key TEXT PRIMARY KEY,
        expires_at REAL NOT NULL,
        unit_id INTEGER
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS wq_dedupe_expires ON wq_dedupe (expires_at)",
    """CREATE TABLE IF NOT EXISTS wq_quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at REAL NOT NULL,
        reason TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    # The queues that lease (name: the Owner's text). AUTOINCREMENT: an id is never given
    # again, so a unit's stale owner id can never come to name a live owner.
    """CREATE TABLE IF NOT EXISTS wq_owners (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE
    )""",
)

#: Seconds between two purges of expired dedupe keys, and keys deleted by each.
PURGE_INTERVAL = 60.0
PURGE_BATCH = 5000

_UNIT_COLUMNS = "key, kind, phone_number_id, user, conversation, body"
#: Units or lanes named in one statement of a batch (well below SQLite's 32,766 parameters).
_CHUNK = 500

#: Units stored by one statement at most. A batch is stored in chunks whose sizes are powers
#: of two up to this, so that SQLite's statement cache keeps a few shapes of each statement
#: rather than one for every batch size.
_ROWS = 64
_SIZES = tuple(1 << n for n in range(_ROWS.bit_length()))


def _insert_units(size: int) -> str:
    values = ",".join(["(?, ?, ?, ?, ?, ?)"] * size)
    return f"INSERT INTO wq_units ({_UNIT_COLUMNS}) VALUES {values} RETURNING id"


def _claim_keys(size: int) -> str:
    # Claim each key for its unit unless it is remembered and not expired, or its unit is
    # still stored (dead, or waiting) past the expiry. A later copy of a key in the same batch
    # finds the claim of its first copy. RETURNING names the units whose claim was taken.
    values = ",".join(["(?, ?, ?)"] * size)
    return (
        f"INSERT INTO wq_dedupe (key, expires_at, unit_id) VALUES {values}"
        " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at,"
        " unit_id = excluded.unit_id WHERE wq_dedupe.expires_at <= ? AND NOT EXISTS"
        " (SELECT 1 FROM wq_units WHERE id = wq_dedupe.unit_id) RETURNING unit_id"
    )


def _insert_lanes(size: int) -> str:
    # In the rows' order: a conversation's first unit of the batch heads a new lane.
    values = ",".join(["(?, ?, 0)"] * size)
    return (
        f"INSERT INTO wq_lanes (conversation, head_id, available_at) VALUES {values}"
        " ON CONFLICT (conversation) DO NOTHING"
    )


_INSERT_UNITS = {size: _insert_units(size) for size in _SIZES}
_CLAIM_KEYS = {size: _claim_keys(size) for size in _SIZES}
_INSERT_LANES = {size: _insert_lanes(size) for size in _SIZES}


def _chunks(count: int) -> list[tuple[int, int]]:
    """``(start, size)`` of the chunks a batch of ``count`` is stored in (see :data:`_ROWS`)."""
    chunks = []
    start = 0
    for size in reversed(_SIZES):
        while count - start >= size:
            chunks.append((start, size))
            start += size
    return chunks


#: Webhooks handed to the writer together: each one's units, and the future of its count.
_Gathered = list[tuple[Sequence[Unit], "asyncio.Future[int]"]]


def _schema_version(conn: sqlite3.Connection) -> int:
    """The version of the queue tables in the file: 0 before any, 1 before the version mark.
    Raises for a version newer than this code's."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'wq_units'").fetchone():
        return 0
    row = conn.execute("SELECT value FROM wq_meta WHERE name = 'schema'").fetchone()
    version = 1 if row is None else int(row[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"the queue tables are of schema {version}, newer than this wahost's"
            f" ({SCHEMA_VERSION}): upgrade wahost, or restore a backup taken before"
        )
    return version


def _migrate_from_1(conn: sqlite3.Connection, dedupe_ttl: float) -> None:
    """Version 1 indexed every unit's key (``UNIQUE``); version 2 finds a stored unit's key
    through ``wq_dedupe.unit_id``. Every stored unit gets its key's row (a dead unit's may
    have expired), then the units are copied, ids and all, into the new table (version 3's,
    with no owner: a lease taken before expires as it always did): lanes, leases and arrival
    order stay as they were, and ids go on from the last one ever given (ids are never reused:
    a key's ``unit_id`` must not come to name another unit).
    """
    last = _last_id(conn)
    if not any(row[1] == "unit_id" for row in conn.execute("PRAGMA table_info(wq_dedupe)")):
        conn.execute("ALTER TABLE wq_dedupe ADD COLUMN unit_id INTEGER")  # else downgraded
    conn.execute(
        "INSERT INTO wq_dedupe (key, expires_at, unit_id) SELECT key, ?, id FROM wq_units"
        " WHERE true ON CONFLICT (key) DO UPDATE SET unit_id = excluded.unit_id",
        (now() + dedupe_ttl,),
    )
    _rebuild_units(conn, _UNITS_TABLE, last)


def _migrate_from_2(conn: sqlite3.Connection) -> None:
    """Version 3 names the holder of each lease (``wq_units.owner``, ``wq_owners``). A column
    added last: no copy. Leases taken before have no owner and expire as they always did."""
    conn.execute("ALTER TABLE wq_units ADD COLUMN owner INTEGER")
    conn.execute("UPDATE wq_meta SET value = ? WHERE name = 'schema'", (SCHEMA_VERSION,))


def _last_id(conn: sqlite3.Connection) -> int:
    """The last unit id ever given (units done since are gone, their ids not to be reused)."""
    last: int = conn.execute(
        "SELECT max(coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = 'wq_units'), 0),"
        " coalesce((SELECT max(id) FROM wq_units), 0))"
    ).fetchone()[0]
    return last


def _rebuild_units(conn: sqlite3.Connection, table: str, last: int) -> None:
    """Copy the units, ids and all (the columns of schema 1), into a table made by ``table``,
    with the indexes of every schema; the next id is ``last + 1``."""
    conn.execute(table.format(name="wq_units_new"))
    conn.execute(
        f"INSERT INTO wq_units_new ({_UNITS_COLUMNS_1}) SELECT {_UNITS_COLUMNS_1} FROM wq_units"
    )
    conn.execute("DROP TABLE wq_units")
    conn.execute("ALTER TABLE wq_units_new RENAME TO wq_units")
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'wq_units'")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('wq_units', ?)", (last,))
    for statement in _UNITS_INDEXES:
        conn.execute(statement)


def downgrade_to_1(conn: sqlite3.Connection) -> int:
    """Rewrite the queue tables in schema 1, the one releases before schema 2 open (they index
    every unit's key and fail every enqueue without it). Returns the schema found: 3 or 2 (now
    converted), 1 (nothing to do) or 0 (no queue tables).

    ``wq_dedupe.unit_id`` stays: schema 1 ignores it, and a later upgrade fills it anew. The
    owners go (leases keep their tokens and expire). Stored units have distinct keys (a key is
    claimed only once its unit is gone), so the ``UNIQUE`` index takes them all.
    """
    found = _schema_version(conn)
    if found < 2:
        return found
    last = _last_id(conn)
    schema_1 = _UNITS_TABLE.replace("key TEXT NOT NULL,", "key TEXT NOT NULL UNIQUE,")
    _rebuild_units(conn, schema_1.replace(",\n        owner INTEGER", ""), last)
    conn.execute("DROP TABLE IF EXISTS wq_owners")
    conn.execute("DELETE FROM wq_meta WHERE name = 'schema'")
    return found


def _create_schema(conn: sqlite3.Connection, dedupe_ttl: float) -> None:
    version = _schema_version(conn)
    if version == 1:
        _migrate_from_1(conn, dedupe_ttl)  # QUEUE_SCHEMA then adds what schema 2 has more
    elif version == 2:
        _migrate_from_2(conn)
    for statement in QUEUE_SCHEMA:
        conn.execute(statement)
    # The state tables too: ``ack(lease, changes)`` writes them even before a store opened.
    create_state_schema(conn)


def _unit(row: Sequence[Any]) -> Unit:
    return Unit(
        key=row[0],
        kind=row[1],
        phone_number_id=row[2],
        user=row[3],
        conversation=row[4],
        body=bytes(row[5]),
    )


def _refresh_lane(conn: sqlite3.Connection, conversation: str) -> None:
    """Recompute a lane's head and availability after one of its units changed."""
    head = conn.execute(
        "SELECT id, available_at FROM wq_units WHERE conversation = ? AND dead = 0"
        " ORDER BY id LIMIT 1",
        (conversation,),
    ).fetchone()
    if head is None:
        conn.execute("DELETE FROM wq_lanes WHERE conversation = ?", (conversation,))
        return
    available_at = head[1]
    leased = conn.execute(
        "SELECT u.id, u.available_at FROM wq_lanes l JOIN wq_units u ON u.id = l.leased_id"
        " WHERE l.conversation = ? AND u.token IS NOT NULL",
        (conversation,),
    ).fetchone()
    if leased is not None:
        # A lane stays blocked while any of its units is leased (a replayed older unit waits).
        available_at = max(available_at, leased[1])
    conn.execute(
        "INSERT INTO wq_lanes (conversation, head_id, available_at, leased_id)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET"
        " head_id = excluded.head_id, available_at = excluded.available_at,"
        " leased_id = excluded.leased_id",
        (conversation, head[0], available_at, None if leased is None else leased[0]),
    )


def _owner_id(conn: sqlite3.Connection, name: str) -> int:
    """The id of owner ``name`` in ``wq_owners``, registered if it is not there yet. Looked
    up in each transaction, never cached: a rolled-back group must not leave an id behind."""
    row = conn.execute("SELECT id FROM wq_owners WHERE name = ?", (name,)).fetchone()
    if row is None:
        row = conn.execute(
            "INSERT INTO wq_owners (name) VALUES (?) RETURNING id", (name,)
        ).fetchone()
    owner_id: int = row[0]
    return owner_id


def _release_dead_owners(conn: sqlite3.Connection, me: str) -> dict[str, int]:
    """Release the leases of every other owner known dead and forget it; returns how many
    leases each such owner held."""
    released: dict[str, int] = {}
    owners = conn.execute("SELECT id, name FROM wq_owners WHERE name != ?", (me,)).fetchall()
    for owner_id, name in owners:
        if not known_dead(name):
            continue
        # A leased unit is its lane's leased_id, and that lane waits (available_at > 0):
        # the waiting index finds them without a scan of the units.
        rows = conn.execute(
            "UPDATE wq_units SET token = NULL, available_at = 0, owner = NULL"
            " WHERE id IN (SELECT leased_id FROM wq_lanes WHERE available_at > 0)"
            " AND owner = ? AND token IS NOT NULL RETURNING conversation",
            (owner_id,),
        ).fetchall()
        for conversation in {row[0] for row in rows}:
            _refresh_lane(conn, conversation)
        conn.execute("DELETE FROM wq_owners WHERE id = ?", (owner_id,))
        released[name] = len(rows)
    return released


def _finish(
    conn: sqlite3.Connection, lease: Lease, changes: StateChanges | None, at: float
) -> None:
    """Delete an acked unit (:class:`LeaseLost`, and nothing written, unless ``lease`` is
    still held), move its lane on and apply its state changes.

    A unit that changed nothing leaves no record in ``ws_applied``: that record is for the
    worker of a queue and store that do not share a transaction, and for changes applied
    before their ack; here it would be an insert (of a random key) and a purge for every unit.
    """
    row = conn.execute(
        "DELETE FROM wq_units WHERE id = ? AND token = ? RETURNING conversation",
        (int(lease.id), lease.token),
    ).fetchone()
    if row is None:
        raise LeaseLost(lease.unit.key)
    _refresh_lane(conn, row[0])
    if changes is not None and not changes.is_empty():
        apply_changes(conn, changes, at)


def _finish_plain(
    conn: sqlite3.Connection,
    leases: list[Lease],
    outcomes: list[Exception | None],
    places: list[int],
) -> None:
    """:func:`_finish` for units without state changes, a few statements for all of them:
    a unit whose lease is no longer held gets :class:`LeaseLost` at its place in
    ``outcomes``, and nothing of it is written."""
    held: dict[int, tuple[str, str]] = {}
    for start in range(0, len(leases), _CHUNK):
        ids = [int(lease.id) for lease in leases[start : start + _CHUNK]]
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT id, token, conversation FROM wq_units WHERE id IN ({marks})", ids
        ).fetchall()
        held.update((row[0], (row[1], row[2])) for row in rows)
    finished: list[int] = []
    conversations: set[str] = set()
    for lease, place in zip(leases, places, strict=True):
        unit = held.get(int(lease.id))
        if unit is None or unit[0] != lease.token:
            outcomes[place] = LeaseLost(lease.unit.key)
            continue
        finished.append(int(lease.id))
        conversations.add(unit[1])
    lanes = list(conversations)
    emptied: set[str] = set()
    for start in range(0, len(finished), _CHUNK):
        ids = finished[start : start + _CHUNK]
        conn.execute(f"DELETE FROM wq_units WHERE id IN ({','.join('?' * len(ids))})", ids)
    for start in range(0, len(lanes), _CHUNK):
        chunk = lanes[start : start + _CHUNK]
        # The usual case: the conversation has nothing more queued, and its lane goes.
        emptied.update(
            row[0]
            for row in conn.execute(
                f"DELETE FROM wq_lanes WHERE conversation IN ({','.join('?' * len(chunk))})"
                " AND NOT EXISTS (SELECT 1 FROM wq_units u"
                " WHERE u.conversation = wq_lanes.conversation AND u.dead = 0)"
                " RETURNING conversation",
                chunk,
            )
        )
    for conversation in conversations - emptied:
        _refresh_lane(conn, conversation)


def _take(conn: sqlite3.Connection, lease: Lease) -> str:
    """Check that ``lease`` is still held; return its conversation."""
    row = conn.execute(
        "SELECT conversation FROM wq_units WHERE id = ? AND token = ?",
        (int(lease.id), lease.token),
    ).fetchone()
    if row is None:
        raise LeaseLost(lease.unit.key)
    conversation: str = row[0]
    return conversation


def _store_rows(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[Any, ...]],
    sizes: Sequence[int],
    at: float,
    dedupe_ttl: float,
) -> list[int | Exception]:
    """Store ``rows`` (units' columns) with a few multi-row statements; how many of each
    batch of ``sizes`` rows were new (not a key already claimed)."""
    # The units' ids come back in no set order; in increasing order they are the rows' (ids
    # are given in the rows' order and never reused).
    ids: list[int] = []
    for start, size in _chunks(len(rows)):
        values = [value for row in rows[start : start + size] for value in row]
        ids += sorted(row[0] for row in conn.execute(_INSERT_UNITS[size], values))
    claimed: set[int] = set()
    for start, size in _chunks(len(rows)):
        keys: list[Any] = []
        chunk_ids = ids[start : start + size]
        for row, unit_id in zip(rows[start : start + size], chunk_ids, strict=True):
            keys += (row[0], at + dedupe_ttl, unit_id)
        keys.append(at)
        claimed.update(row[0] for row in conn.execute(_CLAIM_KEYS[size], keys))
    # A duplicate is rare (Meta resends what it did not see answered): its row is inserted
    # and deleted, so the usual path needs no index of units' keys
    # (docs/performance.md#duplicates).
    lost = [unit_id for unit_id in ids if unit_id not in claimed]
    for start in range(0, len(lost), _CHUNK):
        chunk = lost[start : start + _CHUNK]
        conn.execute(f"DELETE FROM wq_units WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    lanes = [
        (row[4], unit_id) for row, unit_id in zip(rows, ids, strict=True) if unit_id in claimed
    ]
    for start, size in _chunks(len(lanes)):
        values = [value for lane in lanes[start : start + size] for value in lane]
        conn.execute(_INSERT_LANES[size], values)
    counts: list[int | Exception] = []
    start = 0
    for size in sizes:
        counts.append(sum(unit_id in claimed for unit_id in ids[start : start + size]))
        start += size
    return counts


def _store_each(
    conn: sqlite3.Connection,
    batches: Sequence[Sequence[Unit]],
    rows: Sequence[tuple[Any, ...]],
    at: float,
    dedupe_ttl: float,
) -> list[int | Exception]:
    """:func:`_store_rows` batch by batch, in order, each in a savepoint of its own: a batch
    SQLite refuses gets the exception in its place and leaves nothing behind."""
    outcomes: list[int | Exception] = []
    start = 0
    for units in batches:
        mine = rows[start : start + len(units)]
        start += len(units)
        conn.execute("SAVEPOINT webhook")
        try:
            outcomes += _store_rows(conn, mine, [len(units)], at, dedupe_ttl)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:
            conn.execute("ROLLBACK TO webhook")
            outcomes.append(exc)
        conn.execute("RELEASE webhook")
    return outcomes


def _answer_gathered(batch: _Gathered, stored: asyncio.Future[list[int | Exception]]) -> None:
    """Resolve each gathered webhook's future with its own outcome of ``stored``."""
    if stored.cancelled() or stored.exception() is not None:
        outcomes: list[int | Exception | None] = [None] * len(batch)
    else:
        outcomes = list(stored.result())
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # its webhook's request was given up meanwhile
            continue
        if outcome is None:  # the whole operation failed: the database's trouble
            if stored.cancelled():
                future.cancel()
            else:
                future.set_exception(stored.exception())  # type: ignore[arg-type]
        elif isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class SQLiteQueue(QueueBackend):
    """The durable queue in an SQLite file (WAL, group commit; see :mod:`wahost.sqlite_db`).

    Give either ``path`` (the queue then owns its :class:`SQLiteDatabase`) or ``database``
    to share one with a :class:`SQLiteStateStore`. Every SQLite failure is raised as
    :class:`QueueUnavailable` and leaves nothing half-written.
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        database: SQLiteDatabase | None = None,
        dedupe_ttl: float = 8 * 86400,
        synchronous: Synchronous = "normal",
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(dedupe_ttl=dedupe_ttl)
        self.database = SQLiteDatabase.given(
            path, database, synchronous=synchronous, busy_timeout=busy_timeout
        )
        self._opened = False
        self._next_purge = 0.0
        #: The ingress's webhooks of this turn of the event loop (see enqueue_soon).
        self._gathered: _Gathered = []
        self._next_owner_check = 0.0

    def shares_transaction_with(self, store: StateStore) -> bool:
        """True for an SQLite store on the same file: ``ack`` then writes its tables."""
        return isinstance(store, SQLiteStateStore) and self.database.same_file(store.database)

    async def open(self) -> None:
        if self._opened:
            return
        try:
            await self.database.open()
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"{self.database.path}: {exc}") from exc
        self._opened = True

        def op(conn: sqlite3.Connection) -> dict[str, int]:
            _create_schema(conn, self.dedupe_ttl)
            # A restart after a crash: the dead predecessor's units move on at once.
            self._next_owner_check = now() + OWNER_CHECK_INTERVAL
            return _release_dead_owners(conn, str(self.owner))

        log_released(await self._write(op))

    async def release_dead_owners(self) -> int:
        released = await self._write(lambda conn: _release_dead_owners(conn, str(self.owner)))
        log_released(released)
        return sum(released.values())

    async def downgrade(self) -> int:
        """Rewrite the file's queue tables for the release before schema 2, for a rollback
        (``wahost queue downgrade``), on a queue not opened (opening upgrades the file again).
        Returns the schema the file had: 2 (now converted), 1 (nothing to do), 0 (no queue
        tables, or no file: none is created)."""
        if self._opened:
            raise RuntimeError("downgrade() is for a queue that is not open")
        if not await asyncio.to_thread(os.path.exists, self.database.path):
            return 0
        await self._call(self.database.open())
        try:
            return await self._write(downgrade_to_1)
        finally:
            await self.database.close()

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.database.close()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"{self.database.path}: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._call(self.database.write(fn))

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._call(self.database.read(fn))

    async def ping(self) -> None:
        """Raise :class:`QueueUnavailable` unless the file can be read and can commit now
        (see :meth:`SQLiteDatabase.check_writable`: a disk full fails it within a second)."""
        await self._read(lambda conn: conn.execute("SELECT value FROM wq_meta").fetchone())
        await self._call(self.database.check_writable())

    async def enqueue(self, units: Sequence[Unit]) -> int:
        if not units:
            return 0
        # One batch, not isolated: what SQLite refuses raises from the writer, as it did.
        (count,) = await self._write(self._enqueue_op([units], isolate=False))
        if isinstance(count, Exception):
            raise count
        return count

    def enqueue_soon(self, units: Sequence[Unit]) -> asyncio.Future[int]:
        """The ingress's enqueue without a task: the webhooks of one turn of the event loop go
        to the writer thread as one operation, stored by a few multi-row statements, each
        webhook's future resolving with its own count once they are committed. A webhook
        that SQLite refuses fails alone; the others keep their order (docs/performance.md)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        if not units:
            future.set_result(0)
            return future
        if not self._gathered:
            loop.call_soon(self._submit_gathered)
        self._gathered.append((units, future))
        return future

    def _submit_gathered(self) -> None:
        batch, self._gathered = self._gathered, []
        try:
            stored = self.database.submit_write(
                self._enqueue_op([units for units, _ in batch], isolate=len(batch) > 1)
            )
        except Exception as exc:  # the database is not open
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        stored.add_done_callback(partial(_answer_gathered, batch))

    def _enqueue_op(
        self, batches: Sequence[Sequence[Unit]], *, isolate: bool
    ) -> Callable[[sqlite3.Connection], list[int | Exception]]:
        """The writer's function storing each of ``batches`` (see :meth:`enqueue`): how many
        units of each were new. With ``isolate``, a batch SQLite refuses (a value it cannot
        bind) gets that exception in its place and the others are stored, in their order;
        the database's own trouble (:class:`sqlite3.OperationalError`: a disk full, a lock)
        fails the whole operation, as it would each batch."""
        rows = [
            (u.key, u.kind, u.phone_number_id, u.user, u.conversation, bytes(u.body))
            for units in batches
            for u in units
        ]
        sizes = [len(units) for units in batches]
        dedupe_ttl = self.dedupe_ttl

        def op(conn: sqlite3.Connection) -> list[int | Exception]:
            at = now()
            if not isolate:
                outcomes = _store_rows(conn, rows, sizes, at, dedupe_ttl)
            else:
                conn.execute("SAVEPOINT enqueue")
                try:
                    outcomes = _store_rows(conn, rows, sizes, at, dedupe_ttl)
                except sqlite3.OperationalError:
                    raise
                except Exception:
                    conn.execute("ROLLBACK TO enqueue")
                    outcomes = _store_each(conn, batches, rows, at, dedupe_ttl)
                conn.execute("RELEASE enqueue")
            if at >= self._next_purge:
                self._next_purge = at + PURGE_INTERVAL
                self._purge_dedupe(conn, at, PURGE_BATCH, dedupe_ttl)
            return outcomes

        return op

    async def lease(self, limit: int, *, lease_seconds: float) -> list[Lease]:
        if limit <= 0:
            return []
        me = str(self.owner)

        def op(conn: sqlite3.Connection) -> tuple[list[Lease], dict[str, int]]:
            at = now()
            released = {}
            if at >= self._next_owner_check:
                self._next_owner_check = at + OWNER_CHECK_INTERVAL
                released = _release_dead_owners(conn, me)
            expires_at = at + lease_seconds
            token = secrets.token_hex(8)
            ready = conn.execute(
                "SELECT conversation, head_id, leased_id FROM wq_lanes"
                " WHERE available_at = 0 ORDER BY head_id LIMIT ?",
                (limit,),
            ).fetchall()
            due = conn.execute(
                "SELECT conversation, head_id, leased_id FROM wq_lanes"
                " WHERE available_at > 0 AND available_at <= ? ORDER BY head_id LIMIT ?",
                (at, limit),
            ).fetchall()
            lanes = sorted(ready + due, key=lambda lane: lane[1])[:limit] if due else ready
            if not lanes:
                return [], released
            owner = _owner_id(conn, me)
            for _, head_id, leased_id in lanes:
                if leased_id is not None and leased_id != head_id:
                    # An expired lease on a later unit that a replay overtook: revoke it so
                    # its holder's ack raises LeaseLost instead of running concurrently.
                    conn.execute(
                        "UPDATE wq_units SET token = NULL, available_at = 0 WHERE id = ?",
                        (leased_id,),
                    )
            # The heads and their lanes in two statements a chunk, not two a unit.
            rows: list[Any] = []
            for start in range(0, len(lanes), _CHUNK):
                chunk = lanes[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(
                    "UPDATE wq_units SET attempts = attempts + 1, token = ?, available_at = ?,"
                    f" owner = ? WHERE id IN ({marks})"
                    f" RETURNING id, {_UNIT_COLUMNS}, attempts, died_at",
                    (token, expires_at, owner, *(lane[1] for lane in chunk)),
                ).fetchall()
                conn.execute(
                    "UPDATE wq_lanes SET available_at = ?, leased_id = head_id"
                    f" WHERE conversation IN ({marks})",
                    (expires_at, *(lane[0] for lane in chunk)),
                )
            rows.sort(key=lambda row: row[0])  # oldest first, as the lanes were
            # A replayed unit keeps its died_at: its first lease after the replay is not its
            # first handling.
            leases = [
                Lease(
                    _unit(row[1:]),
                    str(row[0]),
                    row[7],
                    token,
                    expires_at,
                    first_handling=row[7] == 1 and row[8] is None,
                )
                for row in rows
            ]
            return leases, released

        leases, released = await self._write(op)
        log_released(released)
        return leases

    async def extend(self, lease: Lease, *, lease_seconds: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conversation = _take(conn, lease)
            sql = "UPDATE wq_units SET available_at = ? WHERE id = ?"
            conn.execute(sql, (now() + lease_seconds, int(lease.id)))
            _refresh_lane(conn, conversation)

        await self._write(op)

    async def ack(self, lease: Lease, changes: StateChanges | None = None) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _finish(conn, lease, changes, now())
            conn.execute("UPDATE wq_meta SET value = value + 1 WHERE name = 'done'")

        await self._write(op)

    async def ack_many(
        self, acks: Sequence[tuple[Lease, StateChanges | None]]
    ) -> list[Exception | None]:
        if not acks:
            return []

        def op(conn: sqlite3.Connection) -> list[Exception | None]:
            at = now()
            outcomes: list[Exception | None] = [None] * len(acks)
            plain = [n for n, (_, changes) in enumerate(acks) if not changes or changes.is_empty()]
            _finish_plain(conn, [acks[n][0] for n in plain], outcomes, plain)
            for n, (lease, changes) in enumerate(acks):
                if not changes or changes.is_empty():
                    continue
                # Changes a unit could not store (a value SQLite refuses) fail that unit only.
                conn.execute("SAVEPOINT ack")
                try:
                    _finish(conn, lease, changes, at)
                except Exception as exc:
                    conn.execute("ROLLBACK TO ack")
                    conn.execute("RELEASE ack")
                    if isinstance(exc, sqlite3.OperationalError):
                        raise  # the database's trouble (locked, disk full): the whole call
                    outcomes[n] = exc
                    continue
                conn.execute("RELEASE ack")
            done = outcomes.count(None)
            if done:
                conn.execute("UPDATE wq_meta SET value = value + ? WHERE name = 'done'", (done,))
            return outcomes

        return await self._write(op)

    async def retry(self, lease: Lease, *, delay: float, error: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conversation = _take(conn, lease)
            conn.execute(
                "UPDATE wq_units SET token = NULL, available_at = ?, error = ? WHERE id = ?",
                (now() + max(delay, 0.0), error, int(lease.id)),
            )
            _refresh_lane(conn, conversation)

        await self._write(op)

    async def dead(self, lease: Lease, *, error: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conversation = _take(conn, lease)
            conn.execute(
                "UPDATE wq_units SET dead = 1, token = NULL, error = ?, died_at = ? WHERE id = ?",
                (error, now(), int(lease.id)),
            )
            _refresh_lane(conn, conversation)

        await self._write(op)

    async def list_dead(self, *, limit: int = 100) -> list[DeadUnit]:
        def op(conn: sqlite3.Connection) -> list[DeadUnit]:
            rows = conn.execute(
                f"SELECT {_UNIT_COLUMNS}, attempts, error, died_at FROM wq_units"
                " WHERE dead = 1 ORDER BY died_at, id LIMIT ?",
                (max(limit, 0),),
            )
            return [DeadUnit(_unit(r), r[6], r[7] or "", r[8]) for r in rows]

        return await self._read(op)

    @staticmethod
    def _replay(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
        rows = conn.execute(
            # died_at stays: it tells the unit's next lease that it was handled before.
            "UPDATE wq_units SET dead = 0, attempts = 0, available_at = 0, error = NULL"
            f" WHERE dead = 1 AND {where} RETURNING conversation",
            params,
        ).fetchall()
        for conversation in {row[0] for row in rows}:
            _refresh_lane(conn, conversation)
        return len(rows)

    async def replay(self, key: str) -> bool:
        return await self._write(lambda conn: self._replay(conn, "key = ?", (key,))) > 0

    async def replay_all(self) -> int:
        return await self._write(lambda conn: self._replay(conn, "1", ()))

    async def quarantine(self, body: bytes, reason: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO wq_quarantine (received_at, reason, body) VALUES (?, ?, ?)",
                (now(), reason, bytes(body)),
            )

        await self._write(op)

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantinedBody]:
        def op(conn: sqlite3.Connection) -> list[QuarantinedBody]:
            rows = conn.execute(
                "SELECT id, received_at, reason, body FROM wq_quarantine ORDER BY id LIMIT ?",
                (max(limit, 0),),
            )
            return [QuarantinedBody(str(r[0]), r[1], r[2], bytes(r[3])) for r in rows]

        return await self._read(op)

    async def stats(self) -> QueueStats:
        def op(conn: sqlite3.Connection) -> QueueStats:
            at = now()
            ready, leased, waiting, dead = conn.execute(
                "SELECT total(NOT dead AND token IS NULL AND available_at <= :at),"
                " total(token IS NOT NULL),"
                " total(NOT dead AND token IS NULL AND available_at > :at),"
                " total(dead) FROM wq_units",
                {"at": at},
            ).fetchone()
            done = conn.execute("SELECT value FROM wq_meta WHERE name = 'done'").fetchone()
            quarantined = conn.execute("SELECT count(*) FROM wq_quarantine").fetchone()
            keys = conn.execute(
                "SELECT count(*) FROM wq_dedupe WHERE expires_at > ?", (at,)
            ).fetchone()
            # The rowid order is the arrival order: one step down the primary key.
            oldest = conn.execute(
                "SELECT key, kind, phone_number_id, user, conversation, body FROM wq_units"
                " WHERE dead = 0 ORDER BY id LIMIT 1"
            ).fetchone()
            return QueueStats(
                ready=int(ready),
                leased=int(leased),
                waiting_retry=int(waiting),
                dead=int(dead),
                done=int(done[0]),
                quarantined=int(quarantined[0]),
                dedupe_keys=int(keys[0]),
                oldest_received_at=None if oldest is None else received_at(Unit(*oldest)),
            )

        return await self._read(op)

    async def purge(self) -> int:
        """Delete every expired dedupe key now, renewing those whose units are still stored
        (enqueue also does it, a batch a minute); returns how many were deleted."""
        ttl = self.dedupe_ttl
        return await self._write(lambda conn: self._purge_dedupe(conn, now(), None, ttl))

    @staticmethod
    def _purge_dedupe(conn: sqlite3.Connection, at: float, batch: int | None, ttl: float) -> int:
        """Delete up to ``batch`` expired keys (all with None); renew instead the expired keys
        whose units are still stored. Returns the number deleted."""
        expired = (
            "key IN (SELECT key FROM wq_dedupe WHERE expires_at <= :at LIMIT :batch)"
            " AND {} EXISTS (SELECT 1 FROM wq_units WHERE id = wq_dedupe.unit_id)"
        )
        params = {"at": at, "batch": -1 if batch is None else batch, "renewed": at + ttl}
        conn.execute(
            "UPDATE wq_dedupe SET expires_at = :renewed WHERE " + expired.format(""), params
        )
        deleted: int = conn.execute(
            "DELETE FROM wq_dedupe WHERE " + expired.format("NOT"), params
        ).rowcount
        return deleted
