"""The shared SQLite engine: one WAL file, one writer thread with group commit, one reader.

Every write is a plain function ``fn(connection) -> result`` submitted with :meth:`write`. A
dedicated writer thread drains everything pending, runs the functions in ONE transaction,
commits once and only then resolves each caller's future. The group runs optimistically, with no
savepoints; only when a function raises is the transaction rolled back and the group run again
with a ``SAVEPOINT`` around each function, so one failing function does not fail the others.
Sixty-four concurrent webhooks thus share one commit (and, with ``synchronous="full"``, one
fsync). While the previous group had company (concurrent load), the writer waits
:data:`WRITE_LINGER` before a group so that more operations join it; a lone or sequential writer
never waits.

Reads (:meth:`read`) are grouped the same way on a second connection and thread, in a read
transaction: WAL lets them run while the writer writes, and they never take the write lock, so
they keep working while another process writes. One grouping reader beats a pool of reader
threads, each read in a transaction of its own (docs/performance.md#one-grouping-reader).

Durability: the file is in WAL mode. With ``synchronous="normal"`` (the default) a committed
transaction survives a crash of the process (``kill -9``) but not necessarily a power loss or an
OS crash; ``"full"`` syncs the WAL at every commit and survives those too, at the cost of an
fsync per group; ``"off"`` is for benchmarks and throw-away data.

Several processes may open the same file (``wahost serve`` and ``wahost worker``): every write
transaction starts with ``BEGIN IMMEDIATE``, so correctness comes from SQLite's locking, never
from memory shared within one process. A writer that cannot get the lock within
``busy_timeout`` fails its whole group with :class:`sqlite3.OperationalError`.

Write health (for ``/readyz``): the writer remembers the outcome of its last transaction that
changed something — committed, or failed for a storage reason (disk full, I/O error, read-only
file; not lock contention nor an operation's own error). :meth:`check_writable` raises while
that outcome is a failure; when no write has been tried for :data:`PROBE_INTERVAL` seconds it
writes one row of a one-row table, in the group commit like any write, to find out. A
transaction that changed nothing (a lease of an empty queue) proves nothing and is not counted:
SQLite commits it without writing a byte.

Files are private: a database file that does not exist yet is created with mode 0600, and each
missing directory on its way with 0700, whatever the umask (SQLite itself would create the file
0644, readable by every local user, and it holds message bodies and phone numbers). SQLite
gives the ``-wal`` and ``-shm`` files it creates the database file's mode, so they are 0600
too. An existing file or directory keeps its mode: it may be the operator's choice (a backup
group); ``wahost check`` warns when a database file is readable by group or others.

A disk full is sticky: after ``SQLITE_FULL`` the database stays not writable until the file
system has :data:`FREE_SPACE_MARGIN` bytes free again and a probe commits. Without that, a
checkpoint that lets the WAL restart makes commits fit again in the WAL file's old space for a
moment, and readiness would flap while the disk is still full
(docs/performance.md#a-disk-full-is-sticky).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Synchronous = Literal["normal", "full", "off"]

#: The most operations one transaction groups; bounds the latency a group adds to its first op.
MAX_GROUP = 512
#: Seconds the writer waits for more operations to join a group, only while the previous
#: group had more than one operation (so under concurrent load, never for a lone or sequential
#: writer): fuller groups cost the writer less a webhook, and a longer wait idles the event
#: loop behind the sleeping writer (docs/performance.md#write-linger).
WRITE_LINGER = 0.0005

#: The names the writer, reader and checkpointer threads carry in the OS (``top -H``).
WRITER_THREAD = "wahost-write"
READER_THREAD = "wahost-read"
CHECKPOINTER_THREAD = "wahost-ckpt"

#: Least seconds between two background checkpoints of the WAL (one runs only after commits).
#: Small and frequent beats large and rare: each checkpoint ends with an fsync of the database
#: file, and on ext4 that flush stalls the writer's own WAL writes for as long as it takes
#: (docs/performance.md#checkpoint-interval).
CHECKPOINT_INTERVAL = 0.01
#: WAL pages after which the writer checkpoints by itself (if the background one falls behind).
WRITER_CHECKPOINT_PAGES = 10_000
#: Bytes the WAL file is truncated to after a checkpoint.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Seconds a write outcome answers :meth:`SQLiteDatabase.check_writable` before it probes again.
PROBE_INTERVAL = 1.0
#: Bytes the file system must have free before a database that hit a disk full is writable.
FREE_SPACE_MARGIN = 2 * 1024 * 1024
#: SQLITE_FULL, the primary result code of a disk full.
_SQLITE_FULL = 13
_SQLITE_BUSY = 5

#: Primary result codes that mean the file cannot take writes (as opposed to lock contention,
#: a constraint or a bug): SQLITE_PERM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
_STORAGE_ERRORS = frozenset({3, 8, 10, 11, 13, 14, 26})


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite failing to store (disk full, I/O error, read-only file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _STORAGE_ERRORS


def _probe(conn: sqlite3.Connection) -> None:
    # One row rewritten in place: the smallest write that needs a WAL frame at commit.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS wahost_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL)"
    )
    conn.execute(
        "INSERT INTO wahost_probe (id, at) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        (time.time(),),
    )


#: The mode of a database file wahost creates; SQLite copies it to the -wal and -shm files.
FILE_MODE = 0o600
#: The mode of each directory wahost creates on the way to a database file.
DIRECTORY_MODE = 0o700


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with :data:`FILE_MODE`, and its missing directories with
    :data:`DIRECTORY_MODE`, unless it exists; an existing file or directory is left as it is.

    SQLite takes an empty file for a new database. Another process (``wahost worker`` beside
    ``wahost serve``) may create either at the same moment: whoever is first sets the mode.
    """
    missing: list[Path] = []
    directory = path.parent
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIRECTORY_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, DIRECTORY_MODE)  # a umask may have taken the owner's bits too
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        return
    os.chmod(path, FILE_MODE)


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


def _resolve(outcomes: list[_Outcome]) -> None:
    # Runs on the callers' loop; a caller may have been cancelled meanwhile.
    for future, value, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` in the OS too (Linux: ``top -H``, ``ps -L`` and
    ``/proc``; at most 15 bytes), so that the writer's, the reader's and the checkpointer's
    CPU can be told apart from the event loop's. Elsewhere, or if refused, nothing happens."""
    path = f"/proc/self/task/{threading.get_native_id()}/comm"
    with contextlib.suppress(OSError), open(path, "w") as comm:
        comm.write(name[:15])


class _GroupThread:
    """A thread owning one connection, running submitted functions in groups."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        run_group: Callable[[sqlite3.Connection, list[_Op]], list[tuple[Any, Any]]],
        name: str,
        *,
        os_name: str,
        linger: float = 0.0,
    ) -> None:
        self._conn = conn
        self._os_name = os_name
        self._run_group = run_group
        self._linger = linger
        #: Groups that waited ``linger`` for company (for tests and diagnostics).
        self.lingered = 0
        self._pending: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.put(_Op(fn, future, loop))
        return future

    def stop(self) -> None:
        """Run what is pending, then close the connection."""
        self._pending.put(None)
        self._thread.join()

    def _loop(self) -> None:
        _name_os_thread(self._os_name)
        try:
            stopping = False
            linger = self._linger
            previous = 1  # the size of the previous group
            while not stopping:
                first = self._pending.get()
                if first is None:
                    break
                group = [first]
                stopping = self._drain(group)
                if linger and previous > 1 and not stopping and len(group) < MAX_GROUP:
                    # Under load: let the operations on their way share this commit. A commit
                    # costs about as much as three enqueues, so a group of 8 costs half as
                    # much per operation as a group of 2.
                    self.lingered += 1
                    time.sleep(linger)
                    stopping = self._drain(group)
                previous = len(group)
                # A caller cancelled before its turn does not need its operation any more.
                group = [op for op in group if not op.future.cancelled()]
                if group:
                    try:
                        outcomes = self._run_group(self._conn, group)
                    except BaseException as exc:  # keep the thread alive, fail just this group
                        if self._conn.in_transaction:
                            with contextlib.suppress(sqlite3.Error):
                                self._conn.execute("ROLLBACK")
                        outcomes = [(None, exc)] * len(group)
                    # One wake-up per event loop and group, not one per operation.
                    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
                    for op, (value, error) in zip(group, outcomes, strict=True):
                        by_loop.setdefault(op.loop, []).append((op.future, value, error))
                    for loop, resolved in by_loop.items():
                        with contextlib.suppress(RuntimeError):  # the caller's loop is closed
                            loop.call_soon_threadsafe(_resolve, resolved)
        finally:
            self._conn.close()

    def _drain(self, group: list[_Op]) -> bool:
        """Move what is pending into ``group`` (up to :data:`MAX_GROUP`); True on stop."""
        while len(group) < MAX_GROUP:
            try:
                op = self._pending.get_nowait()
            except queue.Empty:
                return False
            if op is None:
                return True
            group.append(op)
        return False


class SQLiteDatabase:
    """One SQLite file shared by the SQLite queue and state store (and by several processes).

    Open it once per user with :meth:`open` and :meth:`close`: it is reference counted, so a
    queue and a store sharing one database close it once, when the last of them closes.

    ``commits`` counts committed write transactions and ``write_ops`` the operations they
    carried; ``write_ops / commits`` is the average group size.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "normal",
        busy_timeout: float = 5.0,
    ) -> None:
        if synchronous not in ("normal", "full", "off"):
            raise ValueError(f"synchronous must be 'normal', 'full' or 'off', not {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.commits = 0
        self.write_ops = 0
        #: ``(time.monotonic(), error)`` of the last write that changed something or failed
        #: to store; ``error`` is ``None`` when it committed. Set by the writer thread only.
        self.last_write: tuple[float, sqlite3.Error | None] = (-PROBE_INTERVAL, None)
        #: The ``SQLITE_FULL`` error of a disk full not yet seen to be over (see above).
        self.disk_full: sqlite3.Error | None = None
        self._room_checked_at = -PROBE_INTERVAL
        self._refs = 0
        self._refs_lock = threading.Lock()
        self._writer: _GroupThread | None = None
        self._reader: _GroupThread | None = None
        self._checkpointer: _Checkpointer | None = None

    @property
    def is_open(self) -> bool:
        """Whether the database is open (its threads are running)."""
        return self._writer is not None

    def same_file(self, other: SQLiteDatabase) -> bool:
        """Whether ``other`` is this database or another handle on the same file."""
        if other is self:
            return True
        return os.path.realpath(self.path) == os.path.realpath(other.path)

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Take a reference; the first one creates the file and starts the threads."""
        await asyncio.to_thread(self._acquire)

    async def close(self) -> None:
        """Drop a reference; the last one finishes pending operations and closes the file."""
        await asyncio.to_thread(self._release)

    def _acquire(self) -> None:
        # A threading lock, not an asyncio one: the database may outlive one event loop.
        with self._refs_lock:
            if self._refs == 0:
                self._start()
            self._refs += 1

    @classmethod
    def given(
        cls,
        path: str | os.PathLike[str] | None,
        database: SQLiteDatabase | None,
        *,
        synchronous: Synchronous = "normal",
        busy_timeout: float = 5.0,
    ) -> SQLiteDatabase:
        """The engine a backend was given: ``database`` itself, or a new one on ``path``
        (exactly one of the two)."""
        if (path is None) == (database is None):
            raise TypeError("give exactly one of path= or database=")
        if database is not None:
            return database
        assert path is not None
        return cls(path, synchronous=synchronous, busy_timeout=busy_timeout)

    def _release(self) -> None:
        with self._refs_lock:
            if self._refs == 0:
                return
            self._refs -= 1
            if self._refs == 0:
                self._stop()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (the sqlite3 module's implicit
        # transactions would otherwise commit behind our savepoints).
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            # Checkpoints reuse the WAL file; this truncates it back after a burst.
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            mode = self._wal_mode(conn)
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"{self.path}: cannot use WAL mode ({mode})")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal_mode(self, conn: sqlite3.Connection) -> str:
        """Switch ``conn``'s file to WAL mode, retried until ``busy_timeout``: on a new file
        that another process is creating at the same moment (``wahost serve`` and ``wahost
        worker`` started together), SQLite refuses the switch at once with "database is
        locked" instead of waiting, to avoid a deadlock between the two. The first to switch
        makes it the file's mode for good, and the others then find it so."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == _SQLITE_BUSY
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _start(self) -> None:
        create_private_file(self.path)
        writer_conn = self._connect()
        try:
            reader_conn = self._connect()
            reader_conn.execute("PRAGMA query_only=ON")
        except BaseException:
            writer_conn.close()
            raise
        # Checkpoints (copying the WAL back into the database, with an fsync) run on their own
        # thread so that they do not stall a commit on the writer: p99 latency of ingress.
        # The writer still checkpoints by itself if the WAL grows past WRITER_CHECKPOINT_PAGES.
        writer_conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        name = self.path.name
        self._writer = _GroupThread(
            writer_conn,
            self._run_writes,
            f"wahost-sqlite-write:{name}",
            os_name=WRITER_THREAD,
            linger=WRITE_LINGER,
        )
        self._reader = _GroupThread(
            reader_conn, _run_reads, f"wahost-sqlite-read:{name}", os_name=READER_THREAD
        )
        self._checkpointer = _Checkpointer(self._connect, f"wahost-sqlite-checkpoint:{name}")

    def _stop(self) -> None:
        for thread in (self._writer, self._reader, self._checkpointer):
            if thread is not None:
                thread.stop()
        self._writer = self._reader = self._checkpointer = None

    # -- operations ----------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer thread inside a transaction; return once it is committed.

        ``fn`` runs as if in its own savepoint: if it raises, its changes are rolled back and the
        exception is raised here, while the other operations of the group still commit. If the
        transaction itself fails (lock timeout, disk full, I/O error), every operation of the
        group raises that :class:`sqlite3.Error` and nothing of them is stored. Cancelling
        the caller once ``fn`` has started does not undo it.
        """
        return await self.submit_write(fn)

    def submit_write(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """:meth:`write` without a coroutine: hand ``fn`` to the writer thread now and return
        the future it resolves once committed (or fails with the :class:`sqlite3.Error`)."""
        if self._writer is None:
            raise sqlite3.ProgrammingError(f"{self.path}: database is not open")
        return self._writer.submit(fn)

    async def check_writable(self) -> None:
        """Raise the storage error of the last write if it failed (cheap: no I/O), or, when no
        write was tried for :data:`PROBE_INTERVAL` seconds, probe with a one-row write.

        It answers whether a commit would succeed now, as far as the last
        :data:`PROBE_INTERVAL` seconds show: ``/readyz`` polled every second costs at most one
        tiny write per second on an idle host and nothing on a busy one.
        """
        at, error = self.last_write
        fresh = time.monotonic() - at < PROBE_INTERVAL
        if fresh and error is not None:
            raise error
        full = self.disk_full
        if full is not None:
            if time.monotonic() - self._room_checked_at < PROBE_INTERVAL:
                raise full
            self._room_checked_at = time.monotonic()
            if not await asyncio.to_thread(self._has_room):
                raise full
        elif fresh:
            return
        await self.write(_probe)  # raises the failure; the writer records the outcome
        if self.disk_full is full:
            self.disk_full = None

    def _has_room(self) -> bool:
        try:
            fs = os.statvfs(self.path.parent)
        except OSError:
            return True  # cannot tell: let the probe decide
        blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail  # root may use reserved ones
        return blocks * fs.f_frsize >= FREE_SPACE_MARGIN

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the reader connection in a read transaction (a consistent snapshot).

        It sees every write whose :meth:`write` has returned. ``fn`` must not write.
        """
        if self._reader is None:
            raise sqlite3.ProgrammingError(f"{self.path}: database is not open")
        return await self._reader.submit(fn)

    def _run_writes(self, conn: sqlite3.Connection, group: list[_Op]) -> list[tuple[Any, Any]]:
        changes = conn.total_changes
        outcomes = self._run_group_writes(conn, group)
        error = next(
            (e for _, e in outcomes if isinstance(e, sqlite3.Error) and is_storage_error(e)), None
        )
        if error is not None or conn.total_changes != changes:  # written, or failed to
            self.last_write = (time.monotonic(), error)
            if error is None and self._checkpointer is not None:
                self._checkpointer.notify()
        if error is not None and error.sqlite_errorcode & 0xFF == _SQLITE_FULL:
            self.disk_full = error
        return outcomes

    def _run_group_writes(
        self, conn: sqlite3.Connection, group: list[_Op]
    ) -> list[tuple[Any, Any]]:
        # Optimistic first: the whole group in one transaction without savepoints, two
        # statements fewer per operation on the ingress hot path. Only when an operation raises
        # is the group rolled back and run again with a savepoint each, so that the failing
        # operation alone is undone. Operations are plain SQL on ``conn``, so running one again
        # after a rollback is safe.
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(None, exc)] * len(group)
        outcomes: list[tuple[Any, Any]] = []
        for op in group:
            try:
                outcomes.append((op.fn(conn), None))
            except Exception:
                break
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                return [(None, exc)] * len(group)
            self.commits += 1
            self.write_ops += len(group)
            return outcomes
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        return self._run_writes_isolated(conn, group)

    def _run_writes_isolated(
        self, conn: sqlite3.Connection, group: list[_Op]
    ) -> list[tuple[Any, Any]]:
        outcomes: list[tuple[Any, Any]] = []
        failure: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(None, exc)] * len(group)
        for op in group:
            try:
                conn.execute("SAVEPOINT op")
                try:
                    value = op.fn(conn)
                except Exception as exc:
                    if not conn.in_transaction:
                        # SQLite rolled back the whole transaction (e.g. disk full): the
                        # earlier operations of the group are lost too.
                        failure = exc
                        break
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((value, None))
            except sqlite3.Error as exc:
                failure = exc
                break
        if failure is None:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                failure = exc
            else:
                self.commits += 1
                self.write_ops += len(group)
                return outcomes
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        return [(None, failure)] * len(group)


class _Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` after commits, at most every
    :data:`CHECKPOINT_INTERVAL` seconds; an idle database is never woken up.

    A passive checkpoint never waits for or blocks the writer or readers; it copies what it
    can. Errors (a busy database) are ignored: the next round tries again.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._connect = connect
        self._stopping = threading.Event()
        self._dirty = threading.Event()
        #: Checkpoints run so far (for tests and diagnostics).
        self.runs = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Something was committed: checkpoint soon (called by the writer, once a group)."""
        self._dirty.set()

    def _loop(self) -> None:
        _name_os_thread(CHECKPOINTER_THREAD)
        try:
            conn = self._connect()
        except sqlite3.Error:
            return  # the writer's own auto-checkpoint still bounds the WAL
        try:
            while True:
                self._dirty.wait()
                if self._stopping.is_set():
                    break
                self._dirty.clear()
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.runs += 1
                if self._stopping.wait(CHECKPOINT_INTERVAL):
                    break
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join()


def _run_reads(conn: sqlite3.Connection, group: list[_Op]) -> list[tuple[Any, Any]]:
    outcomes: list[tuple[Any, Any]] = []
    with contextlib.suppress(sqlite3.Error):  # a failed BEGIN: each read then runs alone
        conn.execute("BEGIN")
    for op in group:
        try:
            outcomes.append((op.fn(conn), None))
        except Exception as exc:
            outcomes.append((None, exc))
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("COMMIT")
    return outcomes
