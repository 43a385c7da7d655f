"""What only the SQLite backends promise: durability, several handles, failures, group commit."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import wahost.queue.sqlite as queue_module
from wahost.queue.base import Lease, QueueUnavailable
from wahost.queue.sqlite import SQLiteQueue
from wahost.sqlite_db import SQLiteDatabase
from wahost.state.base import ConversationState, StateChanges
from wahost.state.sqlite import SQLiteStateStore
from wahost.testing.contracts import lease_one, make_unit
from wahost.units import Unit

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SQLiteQueue, SQLiteStateStore]]:
    database = SQLiteDatabase(tmp_path / "wahost.db", busy_timeout=0.2)
    queue, store = SQLiteQueue(database=database), SQLiteStateStore(database=database)
    await queue.open()
    await store.open()
    yield queue, store
    await queue.close()
    await store.close()


async def count_rows(database: SQLiteDatabase, table: str) -> int:
    def op(conn: sqlite3.Connection) -> int:
        count: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count

    return await database.read(op)


async def spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )


async def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    queue, store = SQLiteQueue(path), SQLiteStateStore(path)
    await queue.open()
    await store.open()
    await queue.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a"), make_unit("b1", "p:b")])
    a1, b1 = await queue.lease(2, lease_seconds=30)
    await queue.ack(a1, StateChanges("a1", {"p:a": ConversationState(name="after-a1")}))
    await queue.dead(b1, error="boom")
    await queue.quarantine(b"\x00junk", "not JSON")
    await store.kv_set("ns", "k", b"v")
    await queue.close()
    await store.close()
    await queue.close()  # twice is fine

    queue, store = SQLiteQueue(path), SQLiteStateStore(path)
    await queue.open()
    await store.open()
    try:
        assert await queue.enqueue([make_unit("a1", "p:a"), make_unit("b1", "p:b")]) == 0
        assert [lease.unit.key for lease in await queue.lease(10, lease_seconds=30)] == ["a2"]
        [dead] = await queue.list_dead()
        assert (dead.unit.key, dead.error, dead.attempts) == ("b1", "boom", 1)
        assert [q.body for q in await queue.list_quarantine()] == [b"\x00junk"]
        state = await store.get("p:a")
        assert state is not None and state.name == "after-a1"
        assert await store.is_applied("a1")
        assert await store.kv_get("ns", "k") == b"v"
        assert (await queue.stats()).done == 1
    finally:
        await queue.close()
        await store.close()


async def test_two_handles_on_one_file_share_the_work_in_order(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    queues = [SQLiteQueue(path), SQLiteQueue(path)]
    for queue in queues:
        await queue.open()
    assert queues[0].shares_transaction_with(SQLiteStateStore(path))
    units = [make_unit(f"c{c}-{n}", f"p:{c}") for n in range(8) for c in range(10)]
    assert await queues[0].enqueue(units[:40]) + await queues[1].enqueue(units[40:]) == 80
    assert await queues[1].enqueue(units) == 0  # one dedupe table for both handles
    handled: dict[str, list[str]] = defaultdict(list)
    busy: set[str] = set()

    async def handle(queue: SQLiteQueue, lease: Lease) -> None:
        conversation = lease.unit.conversation
        assert conversation not in busy, "two units of one conversation at once"
        busy.add(conversation)
        await asyncio.sleep(0.001)
        handled[conversation].append(lease.unit.key)
        busy.discard(conversation)
        await queue.ack(lease)

    async def worker(queue: SQLiteQueue) -> None:
        while sum(map(len, handled.values())) < len(units):
            leases = await queue.lease(4, lease_seconds=30)
            await asyncio.gather(*(handle(queue, lease) for lease in leases))
            await asyncio.sleep(0 if leases else 0.002)

    await asyncio.wait_for(asyncio.gather(*(worker(queue) for queue in queues)), 30)
    for c in range(10):
        assert handled[f"p:{c}"] == [f"c{c}-{n}" for n in range(8)]
    for queue in queues:
        await queue.close()


WORKER_PROCESS = """
import asyncio, json, sys, time
from wahost.queue.sqlite import SQLiteQueue

async def handle(queue, lease):
    started = time.time()
    await asyncio.sleep(0.002)
    record = [lease.unit.key, lease.unit.conversation, started, time.time()]
    await queue.ack(lease)
    print(json.dumps(record), flush=True)

async def main():
    queue = SQLiteQueue(sys.argv[1])
    await queue.open()
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        leases = await queue.lease(4, lease_seconds=30)
        if leases:
            await asyncio.gather(*(handle(queue, lease) for lease in leases))
        elif (await queue.stats()).done >= int(sys.argv[2]):
            break
        else:
            await asyncio.sleep(0.002)
    await queue.close()

asyncio.run(main())
"""


async def test_two_processes_share_the_work_in_order(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    queue = SQLiteQueue(path)
    await queue.open()
    units = [make_unit(f"c{c}-{n:02}", f"p:{c}") for n in range(10) for c in range(8)]
    await queue.enqueue(units)
    await queue.close()
    workers = [await spawn(WORKER_PROCESS, str(path), str(len(units))) for _ in range(2)]
    for worker in workers:
        assert worker.stdout is not None and worker.stdin is not None
        assert await asyncio.wait_for(worker.stdout.readline(), 30) == b"ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
    outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), 60)
    records = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    assert all(out.strip() for out, _ in outputs), "both processes took part"
    assert sorted(r[0] for r in records) == sorted(u.key for u in units)  # each exactly once
    by_conversation: dict[str, list[list[Any]]] = defaultdict(list)
    for record in records:
        by_conversation[record[1]].append(record)
    for handled in by_conversation.values():
        handled.sort(key=lambda r: r[2])
        assert [r[0] for r in handled] == sorted(r[0] for r in handled)  # arrival order
        for before, after in itertools.pairwise(handled):
            assert before[3] <= after[2], "two units of one conversation at once"


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


async def test_a_locked_file_makes_writes_unavailable(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    queue, _ = pair
    await queue.enqueue([make_unit("a1")])
    lease = await lease_one(queue)
    holder = await spawn(LOCK_HOLDER, str(queue.database.path))
    assert holder.stdin is not None and holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable):
            await queue.enqueue([make_unit("b1", "p:b"), make_unit("b2", "p:b")])
        assert time.monotonic() - started < 2.0  # busy_timeout is 0.2 s
        with pytest.raises(QueueUnavailable):
            await queue.ack(lease)
        assert (await queue.stats()).leased == 1  # WAL: reads go on
    finally:
        holder.stdin.write(b"\n")
        await holder.wait()
    assert (await queue.stats()).ready == 0  # nothing of the failed batch was stored
    await queue.ack(lease)  # the lease survived the failed ack
    assert await queue.enqueue([make_unit("b1", "p:b"), make_unit("b2", "p:b")]) == 2


async def test_opening_a_new_file_waits_for_another_process_creating_it(
    tmp_path: Path,
) -> None:
    # On a file not yet in WAL mode (another process is creating it: `wahost serve` and
    # `wahost worker` started together), SQLite refuses the switch to WAL at once, busy
    # timeout or not, while that process holds the file's write lock. Opening must wait for
    # it, up to busy_timeout, rather than stop the command with "database is locked".
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE being_created (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO being_created VALUES (1)")
    finish = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    finish.start()
    queue = SQLiteQueue(database=SQLiteDatabase(path, busy_timeout=5.0))
    started = time.monotonic()
    try:
        await queue.open()
        waited = time.monotonic() - started
        assert await queue.enqueue([make_unit("a1")]) == 1
    finally:
        finish.join()
        await queue.close()
        other.close()
    assert waited >= 0.25  # it waited for the other's commit, and then opened
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_a_busy_new_file_still_fails_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE being_created (x)")
    other.execute("BEGIN IMMEDIATE")
    queue = SQLiteQueue(database=SQLiteDatabase(path, busy_timeout=0.3))
    started = time.monotonic()
    try:
        with pytest.raises(QueueUnavailable, match="database is locked"):
            await queue.open()
        assert 0.2 <= time.monotonic() - started < 3.0
    finally:
        other.execute("ROLLBACK")
        other.close()
        await queue.close()


async def test_a_full_disk_makes_writes_unavailable(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    queue, _ = pair
    database = queue.database
    pages = await database.write(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    await database.write(lambda c: c.execute(f"PRAGMA max_page_count={pages + 2}"))
    big = [make_unit(f"k{i}", f"p:{i}", body=b"x" * 4000) for i in range(50)]
    with pytest.raises(QueueUnavailable, match="full"):
        await queue.enqueue(big)
    assert await count_rows(database, "wq_units") == 0
    assert await count_rows(database, "wq_dedupe") == 0
    await database.write(lambda c: c.execute("PRAGMA max_page_count=1073741823"))
    assert await queue.enqueue(big) == 50


async def test_group_commit_groups_concurrent_writes(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    queue, _ = pair
    before = queue.database.commits
    results = await asyncio.gather(
        *(queue.enqueue([make_unit(f"k{i}", f"p:{i}")]) for i in range(64))
    )
    assert results == [1] * 64
    assert queue.database.commits - before <= 8
    assert (await queue.stats()).ready == 64


async def test_one_failing_operation_does_not_fail_its_group(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    queue, _ = pair
    broken = Unit("bad", None, "p", "x", "p:x", b"{}")  # type: ignore[arg-type]  # NOT NULL
    before = queue.database.commits
    results = await asyncio.gather(
        queue.enqueue([make_unit("a1", "p:a")]),
        queue.enqueue([make_unit("b1", "p:b"), broken]),
        queue.enqueue([make_unit("c1", "p:c")]),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], QueueUnavailable)
    assert queue.database.commits - before <= 2
    assert await queue.enqueue([make_unit("b1", "p:b")]) == 1  # b1 was rolled back

    async def failing() -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM wq_units")
            raise ValueError("changed my mind")

        await queue.database.write(op)

    with pytest.raises(ValueError, match="changed my mind"):
        await failing()
    assert (await queue.stats()).ready == 3


KILLED_CHILD = """
import asyncio, sys
from wahost.queue.sqlite import SQLiteQueue
from wahost.units import Unit

async def main():
    queue = SQLiteQueue(sys.argv[1])
    await queue.open()
    added = await queue.enqueue([Unit("msg:kill", "message", "pn", "u", "pn:u", b"{}")])
    print("ok", added, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_kill_9_after_enqueue_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    child = await spawn(KILLED_CHILD, str(path))
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ok 1\n"
    child.send_signal(signal.SIGKILL)
    assert await child.wait() == -signal.SIGKILL
    queue = SQLiteQueue(path)
    await queue.open()
    try:
        lease = await lease_one(queue)
        assert lease.unit.key == "msg:kill"
    finally:
        await queue.close()


async def test_shared_database_closes_with_its_last_user(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "wahost.db")
    queue, store = SQLiteQueue(database=database), SQLiteStateStore(database=database)
    await queue.open()
    await store.open()
    await queue.close()
    assert database.is_open
    await store.set("p:1", ConversationState(name="still open"))
    await store.close()
    await store.close()
    assert not database.is_open
    with pytest.raises(sqlite3.ProgrammingError):
        await store.get("p:1")
    with pytest.raises(QueueUnavailable):
        await queue.enqueue([make_unit("a1")])


def test_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        SQLiteQueue()
    with pytest.raises(TypeError):
        SQLiteStateStore(tmp_path / "a.db", database=SQLiteDatabase(tmp_path / "a.db"))
    with pytest.raises(ValueError):
        SQLiteDatabase(tmp_path / "a.db", synchronous="sometimes")  # type: ignore[arg-type]
    assert not SQLiteQueue(tmp_path / "a.db").shares_transaction_with(
        SQLiteStateStore(tmp_path / "b.db")
    )


async def test_expired_rows_are_purged(
    pair: tuple[SQLiteQueue, SQLiteStateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue, store = pair
    database = queue.database
    monkeypatch.setattr(queue_module, "PURGE_INTERVAL", 0.0)  # enqueue purges every time
    queue.dedupe_ttl, store.ttl, store.applied_ttl = 0.1, 0.1, 0.1
    await queue.enqueue([make_unit("a1")])
    await queue.ack(await lease_one(queue), StateChanges("a1", {"p:1": ConversationState()}))
    await store.kv_set("ns", "k", b"v", ttl=0.1)
    await store.kv_set("ns", "kept", b"v")
    await asyncio.sleep(0.2)
    assert await store.purge() == 3  # the conversation, the key and the applied marker
    assert await count_rows(database, "ws_kv") == 1
    assert await queue.purge() == 1
    assert (await queue.stats()).dedupe_keys == 0
    await queue.enqueue([make_unit("b1")])
    await asyncio.sleep(0.2)
    await queue.enqueue([make_unit("c1")])  # purges: b1's key is renewed, its unit is stored
    assert await count_rows(database, "wq_dedupe") == 2
    assert await queue.enqueue([make_unit("b1")]) == 0
    await queue.ack(await lease_one(queue))  # b1
    await asyncio.sleep(0.2)
    assert await queue.purge() == 1  # b1's; c1's unit is still stored
    assert await keys_of(database, "wq_dedupe") == ["c1"]
    assert await queue.enqueue([make_unit("b1")]) == 1


async def keys_of(database: SQLiteDatabase, table: str) -> list[str]:
    def op(conn: sqlite3.Connection) -> list[str]:
        return [row[0] for row in conn.execute(f"SELECT key FROM {table} ORDER BY key")]

    return await database.read(op)


async def test_lease_lane_and_replay_queries_use_their_indexes(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    def plans(conn: sqlite3.Connection) -> list[str]:
        found = []
        for sql in (
            # Lanes free now, oldest first: an index walk in head order, no sort.
            "SELECT conversation, head_id, leased_id FROM wq_lanes WHERE available_at = 0"
            " ORDER BY head_id LIMIT 64",
            # Lanes whose retry or lease expiry is due: a range of the waiting index only.
            "SELECT conversation, head_id, leased_id FROM wq_lanes"
            " WHERE available_at > 0 AND available_at <= 1 ORDER BY head_id LIMIT 64",
            "SELECT id, available_at FROM wq_units WHERE conversation = 'c' AND dead = 0"
            " ORDER BY id LIMIT 1",
            # Replay by key: only dead units have their keys indexed.
            "SELECT id FROM wq_units WHERE dead = 1 AND key = 'k'",
            # A dead owner's leases: through the lanes that wait, by the units' primary key.
            "UPDATE wq_units SET token = NULL, available_at = 0, owner = NULL"
            " WHERE id IN (SELECT leased_id FROM wq_lanes WHERE available_at > 0)"
            " AND owner = 1 AND token IS NOT NULL RETURNING conversation",
        ):
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            found.append(" / ".join(row[3] for row in rows))
        return found

    ready, due, head, replay, release = await pair[0].database.read(plans)
    assert "INTEGER PRIMARY KEY" in release and "INDEX wq_lanes_waiting" in release
    assert "INDEX wq_units_dead_key (key=?)" in replay
    assert "INDEX wq_lanes_ready" in ready and "TEMP B-TREE" not in ready
    assert "INDEX wq_lanes_waiting" in due and "available_at>? AND available_at<?" in due
    assert "INDEX wq_units_lane" in head and "TEMP B-TREE" not in head


async def test_the_wal_is_checkpointed_after_commits_and_an_idle_database_is_left_alone(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "wahost.db")
    queue = SQLiteQueue(database=database)
    await queue.open()
    try:
        checkpointer = database._checkpointer
        assert checkpointer is not None
        await asyncio.sleep(0.3)
        idle_runs = checkpointer.runs
        await queue.enqueue([make_unit(f"ck{n}") for n in range(20)])
        deadline = time.monotonic() + 5
        while checkpointer.runs == idle_runs and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert checkpointer.runs > idle_runs  # a commit wakes it
        await asyncio.sleep(0.2)
        after = checkpointer.runs
        assert await queue.stats()  # reads only, no commits: no checkpoint
        await asyncio.sleep(0.3)
        assert checkpointer.runs == after
        assert idle_runs <= 1  # opening may commit the schema; nothing after that
    finally:
        await queue.close()


async def test_the_writer_lingers_for_company_only_after_a_group_that_had_some(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "wahost.db")
    await database.open()
    try:
        writer = database._writer
        assert writer is not None
        table = "CREATE TABLE IF NOT EXISTS t (n INTEGER)"
        await database.write(lambda c: c.execute(table))
        for n in range(20):  # one writer awaiting each write: never waits for company
            await database.write(lambda c, n=n: c.execute("INSERT INTO t VALUES (?)", (n,)))
        assert writer.lingered == 0

        # Hold the writer inside one operation while ten more queue up: they form one group.
        release = threading.Event()
        held = asyncio.ensure_future(database.write(lambda c: release.wait(5)))
        await asyncio.sleep(0.05)
        burst = [
            asyncio.ensure_future(database.write(lambda c: c.execute("INSERT INTO t VALUES (0)")))
            for _ in range(10)
        ]
        await asyncio.sleep(0.05)
        commits = database.commits
        release.set()
        await asyncio.gather(held, *burst)
        assert database.commits - commits == 2  # the held op's group, then the ten together
        assert writer.lingered == 0

        # After a group of ten, the next group waits for company once; alone, it stops waiting.
        await database.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        assert writer.lingered == 1
        await database.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        assert writer.lingered == 1
    finally:
        await database.close()


def _os_thread_names() -> dict[int, str]:
    names = {}
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{tid}/comm") as comm:
            names[int(tid)] = comm.read().strip()
    return names


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="no /proc (not Linux)")
async def test_sqlite_threads_carry_their_names_in_the_os(tmp_path: Path) -> None:
    before = _os_thread_names()
    queue = SQLiteQueue(tmp_path / "wahost.db")
    await queue.open()
    try:
        await queue.enqueue([make_unit("a1")])  # the checkpointer starts work after a commit
        deadline = time.monotonic() + 5
        new: list[str] = []
        while time.monotonic() < deadline:
            new = sorted(
                n for t, n in _os_thread_names().items() if t not in before and "wahost" in n
            )
            if new == ["wahost-ckpt", "wahost-read", "wahost-write"]:
                break
            await asyncio.sleep(0.01)
        assert new == ["wahost-ckpt", "wahost-read", "wahost-write"]
    finally:
        await queue.close()
    # The event loop's own thread keeps its name.
    assert _os_thread_names()[threading.get_native_id()] == before[threading.get_native_id()]


async def test_a_schema_1_queue_is_migrated_on_open_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript((REPO / "tests/fixtures/sqlite/queue-v1.sql").read_text())
        k4 = conn.execute("SELECT id, attempts, token, available_at FROM wq_units WHERE key = 'k4'")
        k4_id, k4_attempts, k4_token, k4_expires = k4.fetchone()

    def schema(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return (
            conn.execute("SELECT value FROM wq_meta WHERE name = 'schema'").fetchone()[0],
            conn.execute("SELECT sql FROM sqlite_master WHERE name = 'wq_units'").fetchone()[0],
            sorted(row[1] for row in conn.execute("PRAGMA index_list(wq_units)")),
            dict(conn.execute("SELECT key, unit_id FROM wq_dedupe")),
        )

    for _ in range(2):  # the second open finds schema 3 and changes nothing
        queue = SQLiteQueue(path)
        await queue.open()
        version, table, indexes, dedupe = await queue.database.read(schema)
        assert version == 3 and "UNIQUE" not in table and "owner INTEGER" in table
        assert indexes == ["wq_units_dead", "wq_units_dead_key", "wq_units_lane"]
        # Every stored unit's key names it, the dead k2's too (purged under schema 1).
        assert dedupe == {"k2": 2, "k3": 3, "k4": 4, "k5": None}
        assert (await queue.stats()).dead == 1
        await queue.close()

    queue = SQLiteQueue(path)
    await queue.open()
    try:
        # k2 and k4 are stored, k5 is remembered; k1 was done and forgotten.
        assert await queue.enqueue([make_unit(k, "p:9") for k in ("k2", "k4", "k5", "k1")]) == 1
        k1_id = (await queue.database.read(schema))[3]["k1"]
        assert k1_id > 5  # ids go on after the last one schema 1 gave (k5's), none is reused
        # The lease taken under schema 1 still holds its lane, and can be acked.
        k4_unit = make_unit("k4", "p:2")
        k3, k1 = await queue.lease(10, lease_seconds=60)
        assert (k3.unit.key, k1.unit.key) == ("k3", "k1")
        await queue.ack(Lease(k4_unit, str(k4_id), k4_attempts, k4_token, k4_expires))
        assert await queue.replay("k2") is True  # by its key: the dead units' index
        await queue.retry(k3, delay=0, error="again")
        [k2] = await queue.lease(10, lease_seconds=60)  # older than k3 in its lane: first
        assert k2.unit.key == "k2" and k2.unit.body == make_unit("k2", "p:1").body
    finally:
        await queue.close()


async def test_a_schema_2_queue_gains_lease_owners_on_open_and_loses_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wahost.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript((REPO / "tests/fixtures/sqlite/queue-v2.sql").read_text())
        k4 = conn.execute("SELECT id, attempts, token, available_at FROM wq_units WHERE key = 'k4'")
        k4_id, attempts, token, expires_at = k4.fetchone()
    k4_lease = Lease(make_unit("k4", "p:2"), str(k4_id), attempts, token, expires_at)

    def schema(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return (
            conn.execute("SELECT value FROM wq_meta WHERE name = 'schema'").fetchone()[0],
            [row[1] for row in conn.execute("PRAGMA table_info(wq_units)")][-1],
            conn.execute("SELECT count(*) FROM wq_owners").fetchone()[0],
        )

    queue = SQLiteQueue(path)
    await queue.open()
    try:
        assert await queue.database.read(schema) == (3, "owner", 0)
        # k4's lease, taken under schema 2, names no owner: it is never released early.
        assert await queue.release_dead_owners() == 0
        [k3] = await queue.lease(10, lease_seconds=60)  # k4's lane is still held
        assert (k3.unit.key, k3.attempt) == ("k3", 3)
        await queue.ack(k4_lease)
        assert await queue.replay("k2") is True
        assert await queue.enqueue([make_unit(k, "p:1") for k in ("k1", "k2", "k5")]) == 1
        assert (await queue.stats()).done == 2
    finally:
        await queue.close()


async def test_a_queue_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    queue = SQLiteQueue(tmp_path / "wahost.db")
    await queue.open()
    await queue.database.write(
        lambda conn: conn.execute("UPDATE wq_meta SET value = 4 WHERE name = 'schema'")
    )
    await queue.close()
    with pytest.raises(QueueUnavailable, match="schema 4, newer than this wahost's"):
        await SQLiteQueue(tmp_path / "wahost.db").open()
    with pytest.raises(QueueUnavailable, match="schema 4, newer than this wahost's"):
        await SQLiteQueue(tmp_path / "wahost.db").downgrade()


async def test_a_downgraded_queue_takes_schema_1_writes_and_upgrades_again(tmp_path: Path) -> None:
    path = tmp_path / "wahost.db"
    queue = SQLiteQueue(path)
    await queue.open()
    await queue.enqueue([make_unit("a"), make_unit("b"), make_unit("c", "p:2")])
    await queue.dead(await lease_one(queue), error="boom")  # a
    b, c = await queue.lease(10, lease_seconds=60)
    await queue.retry(b, delay=0, error="again")
    await queue.ack(c)  # the last id given (3)
    await queue.close()

    assert await SQLiteQueue(path).downgrade() == 3
    assert await SQLiteQueue(path).downgrade() == 1
    with contextlib.closing(sqlite3.connect(path)) as conn:
        # The table schema 1 made: no owner column, no owners' table.
        assert "owner" not in [row[1] for row in conn.execute("PRAGMA table_info(wq_units)")]
        assert (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'wq_owners'").fetchone() is None
        )
        # What schema 1 runs for every unit (ON CONFLICT (key) needs the UNIQUE key).
        insert = (
            "INSERT INTO wq_units (key, kind, phone_number_id, user, conversation, body)"
            " VALUES (?, 'message', 'p', '3', 'p:3', x'00') ON CONFLICT (key) DO NOTHING"
        )
        assert conn.execute(insert, ("b",)).rowcount == 0
        d_id = conn.execute(insert, ("d",)).lastrowid
        assert d_id is not None and d_id > 3  # after the last id given, not reused
        conn.execute("INSERT INTO wq_lanes VALUES ('p:3', ?, 0, NULL)", (d_id,))
        conn.commit()
        assert conn.execute("SELECT value FROM wq_meta WHERE name = 'schema'").fetchone() is None

    queue = SQLiteQueue(path)
    await queue.open()
    try:
        assert await queue.replay("a") is True
        assert keys_sorted(await queue.lease(10, lease_seconds=60)) == ["a", "d"]  # b after a
        assert await queue.enqueue([make_unit("e", "p:4")]) == 1
        assert int((await queue.lease(10, lease_seconds=60))[0].id) > d_id
    finally:
        await queue.close()


def keys_sorted(leases: list[Lease]) -> list[str]:
    return sorted(lease.unit.key for lease in leases)


async def test_get_many_reads_a_batch_larger_than_one_statement_in_order(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    """The states of more conversations than one statement names (500) come back in the
    order asked, the same conversation as often as it is asked, a missing or expired one as
    None: each chunk's rows are matched to their keys, not taken in the order SQLite gives."""
    _, store = pair
    keys = [f"p:{n}" for n in range(1200)]
    for n in (0, 499, 500, 777, 1199):
        await store.set(keys[n], ConversationState(name=str(n), data={"n": n}))
    await asyncio.sleep(0.6)  # the five are older than the TTL below; the next one is not
    await store.set(keys[3], ConversationState(name="3"))
    asked = [*reversed(keys), keys[500], keys[3]]
    found = await store.get_many(asked)
    names = {asked[n]: state.name for n, state in enumerate(found) if state is not None}
    assert len(found) == len(asked)
    assert names == {keys[n]: str(n) for n in (0, 499, 500, 777, 1199, 3)}
    assert found[-2] is not None and found[-2].data == {"n": 500}
    store.ttl = 0.5
    found = await store.get_many(asked)
    assert [asked[n] for n, state in enumerate(found) if state is not None] == [keys[3], keys[3]]


async def test_the_webhooks_of_one_turn_are_stored_by_one_operation_each_with_its_count(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    """The ingress's enqueues of one turn of the event loop reach the writer as one operation;
    each webhook's future still gives its own count, a key repeated by a later webhook of the
    same turn counts for the first only, and the lanes are headed by each conversation's
    first unit."""
    queue, _ = pair
    database = queue.database
    before = database.write_ops
    futures = [
        queue.enqueue_soon([make_unit("a", "p:1"), make_unit("b", "p:2")]),
        queue.enqueue_soon([make_unit("c", "p:1")]),
        queue.enqueue_soon([make_unit("a", "p:1"), make_unit("d", "p:3")]),  # "a" again
        queue.enqueue_soon([]),
    ]
    assert await asyncio.gather(*futures) == [2, 1, 1, 0]
    assert database.write_ops == before + 1
    leases = await queue.lease(10, lease_seconds=60)
    assert sorted(lease.unit.key for lease in leases) == ["a", "b", "d"]  # c waits behind a
    assert await count_rows(database, "wq_units") == 4


async def test_one_webhook_that_cannot_be_stored_fails_alone(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    """A webhook whose units SQLite refuses fails its own future; the others of the same turn
    are stored, in their order: a conversation's webhooks before and after the refused one
    are handled in arrival order."""
    queue, _ = pair
    bad = make_unit("bad", "p:\ud800")  # a lone surrogate: SQLite cannot bind it
    futures = [
        queue.enqueue_soon([make_unit("a", "p:1")]),
        queue.enqueue_soon([bad]),
        queue.enqueue_soon([make_unit("b", "p:1"), make_unit("c", "p:2")]),
    ]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == 1 and outcomes[2] == 2
    assert isinstance(outcomes[1], UnicodeEncodeError)
    handled: list[str] = []
    while leases := await queue.lease(10, lease_seconds=60):
        for lease in leases:
            handled.append(lease.unit.key)
            await queue.ack(lease)
    assert sorted(handled) == ["a", "b", "c"]
    assert handled.index("a") < handled.index("b")


async def test_a_batch_of_any_size_is_stored_in_order(
    pair: tuple[SQLiteQueue, SQLiteStateStore],
) -> None:
    """A batch whose size is no power of two (stored in chunks of 64, 32, ... 1 rows) keeps
    every unit, and each conversation's units in their order: a lane's head is its first."""
    queue, _ = pair
    units = [make_unit(f"k{n}", f"p:{n % 7}") for n in range(101)]
    assert await queue.enqueue(units) == 101
    assert await queue.enqueue([*units[:3], make_unit("new", "p:9")]) == 1
    handled: list[str] = []
    while leases := await queue.lease(10, lease_seconds=60):
        for lease in leases:
            handled.append(lease.unit.key)
            await queue.ack(lease)
    for conversation in range(7):
        mine = [f"k{n}" for n in range(101) if n % 7 == conversation]
        assert [key for key in handled if key in mine] == mine
    assert sorted(handled) == sorted([u.key for u in units] + ["new"])
