"""One PostgreSQL database of one bot: the connection pool, the schema and its upgrades.

The queue and the state store of a process share one :class:`PostgresDatabase` when they use
the same URL and schema (the plugin pairs them), hence one pool, sized by ``[plugins.postgres]``.
Connections are in autocommit: each operation of the queue is one statement calling one of the
schema's functions (:mod:`wahost_postgres.schema`), its own transaction, one round trip.

Failures: every error of the server or the network is raised as the caller's ``error`` class
(:class:`~wahost.queue.base.QueueUnavailable` for the queue). A statement that failed because
its pooled connection was dead (the server restarted, a failover moved the address) is tried
once more on a new connection when it cannot have been run: the failure came before any
answer, on a connection the pool had kept idle. The first failure after a success logs one
line, ``postgres unavailable``, and the first success after it ``postgres available again``;
the callers (ingress, worker) answer 503 or back off without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wahost.errors import StartupError
from wahost_postgres import schema as ddl

T = TypeVar("T")

log = structlog.get_logger("wahost.postgres")

# The pool logs a warning per failed connection attempt (a dozen a second during an outage);
# this module logs the outage once. Left alone when the application set a level of its own.
if logging.getLogger("psycopg.pool").level == logging.NOTSET:
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

#: Advisory lock key (with the schema's name) taken while a schema is created or upgraded, so
#: that processes starting together do it once.
_MIGRATION_LOCK = 0x7761686F


def describe(url: str) -> str:
    """``host:port/dbname`` of a URL or conninfo string, for messages (never the password)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparsable url)"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"postgresql://{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


def check_url(url: str) -> str | None:
    """Why ``url`` is not a libpq connection string or URL, or None when it is one."""
    if not url:
        return "no url given"
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):
        return f"{url.split('://')[0]}:// is not a PostgreSQL URL"
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        return str(exc).strip().splitlines()[0]
    ports = str(params.get("port") or "5432").split(",")
    if not all(port.strip().isdigit() for port in ports):
        return f"port {params.get('port')!r} is not a number"
    return None


class SchemaTooNew(StartupError):
    """The schema's version is not this release's (newer, or older without ``auto_upgrade``):
    a start stops with this one line."""


class PostgresDatabase:
    """A pool of connections to one database and the bot's schema in it (see the module
    docstring). :meth:`open` creates or upgrades the schema; ``upgrade=False`` refuses a schema
    that needs an upgrade instead (for a command that only reads)."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "wahost",
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        pool_timeout: float = 5.0,
        statement_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.schema = schema
        self.min_connections = min_connections
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.statement_timeout = statement_timeout
        #: The schema's name quoted as an identifier, for the statements' ``{s}``.
        self.quoted = sql.Identifier(schema).as_string()
        #: The LISTEN/NOTIFY channel on which enqueues wake the workers.
        self.channel = f"{schema}.units"
        self.where = describe(url)
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] | None = None
        self._users = 0
        self._opening: asyncio.Lock | None = None
        self._failing = False
        #: ``time.monotonic()`` since when calls have succeeded without a failure (None:
        #: failing now); the queue trusts expired liveness records only after a while of it.
        self.healthy_since: float | None = None

    def same_as(self, other: PostgresDatabase) -> bool:
        return self is other or (self.url, self.schema) == (other.url, other.schema)

    def statement(self, text: str) -> bytes:
        """``text`` with ``{s}`` as the quoted schema."""
        return text.replace("{s}", self.quoted).encode()

    def connect_kwargs(self) -> dict[str, Any]:
        options = (
            f"-c statement_timeout={int(self.statement_timeout * 1000)}"
            # Every statement is a lookup by key whose best plan does not depend on the
            # values: plan once per connection, not at every call (a custom plan for an
            # array parameter was estimated cheaper and re-planned each time).
            " -c plan_cache_mode=force_generic_plan"
        )
        return {
            "autocommit": True,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "options": options,
            "application_name": "wahost",
        }

    async def connect(self) -> AsyncConnection[tuple[Any, ...]]:
        """A connection of its own (the LISTEN connection, maintenance), in autocommit."""
        return await AsyncConnection.connect(self.url, **self.connect_kwargs())

    async def open(self, error: Callable[[str], Exception], *, upgrade: bool = True) -> None:
        """Open the pool (shared: counted, closed by the last :meth:`close`) and create or
        upgrade the schema. Raises ``error`` when the server cannot be reached."""
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            self._users += 1
            if self._pool is not None:
                return
            try:
                await self._migrate(upgrade=upgrade)
            except psycopg.Error as exc:
                self._users -= 1
                raise error(self._message(exc)) from exc
            except BaseException:
                self._users -= 1
                raise
            self._pool = AsyncConnectionPool(
                self.url,
                kwargs=self.connect_kwargs(),
                min_size=self.min_connections,
                max_size=self.max_connections,
                timeout=self.pool_timeout,
                # No background retries with growing pauses: each call that needs a connection
                # tries one, so the first call after an outage finds the server at once.
                reconnect_timeout=0,
                open=False,
                name=f"wahost-{self.schema}",
            )
            # Not waiting for min_size: the schema's connection just proved the server answers.
            await self._pool.open(wait=False)
            self.healthy_since = time.monotonic()

    async def close(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _migrate(self, *, upgrade: bool) -> None:
        async with await self.connect() as conn:
            # The lock is held by this session until it closes.
            await conn.execute(
                "SELECT pg_advisory_lock(%s, hashtext(%s))", (_MIGRATION_LOCK, self.schema)
            )
            found = await self.version(conn)
            if found > ddl.SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.where} schema {self.schema}: its tables are of version {found},"
                    f" newer than this wahost-postgres's ({ddl.SCHEMA_VERSION}): upgrade"
                    " wahost-postgres, or restore a backup taken before"
                )
            if not upgrade and found != ddl.SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.where} schema {self.schema} is of version {found}, this release"
                    f" uses {ddl.SCHEMA_VERSION}: run `wahost postgres upgrade`"
                )
            functions = zlib.crc32(ddl.FUNCTIONS.encode())
            if found == ddl.SCHEMA_VERSION and await self._functions(conn) == functions:
                # Nothing to do, and no DDL: statements such as CREATE INDEX IF NOT EXISTS lock
                # the tables, and deadlock with the traffic of the processes already running.
                return
            async with conn.transaction():
                version = found
                while 0 < version < ddl.SCHEMA_VERSION:
                    await conn.execute(self.statement(ddl.MIGRATIONS[version]))
                    log.warning(
                        "postgres schema upgraded",
                        schema=self.schema,
                        version=version + 1,
                    )
                    version += 1
                await conn.execute(self.statement(ddl.TABLES))
                await conn.execute(
                    self.statement(
                        "INSERT INTO {s}.meta (name, value) VALUES ('schema', %s)"
                        " ON CONFLICT (name) DO NOTHING"
                    ),
                    (ddl.SCHEMA_VERSION,),
                )
                await conn.execute(self.statement(ddl.FUNCTIONS))
                await conn.execute(
                    self.statement(
                        "INSERT INTO {s}.meta (name, value) VALUES ('functions', %s)"
                        " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                    ),
                    (functions,),
                )

    async def _functions(self, conn: AsyncConnection[tuple[Any, ...]]) -> int | None:
        """The checksum of the functions the schema holds (None: unknown)."""
        cur = await conn.execute(
            self.statement("SELECT value FROM {s}.meta WHERE name = 'functions'")
        )
        row = await cur.fetchone()
        return None if row is None else int(row[0])

    async def version(self, conn: AsyncConnection[tuple[Any, ...]] | None = None) -> int:
        """The version of the schema's tables: 0 when there are none."""
        if conn is None:
            async with await self.connect() as own:
                return await self.version(own)
        cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{self.quoted}.meta",))
        row = await cur.fetchone()
        if row is None or not row[0]:
            return 0
        cur = await conn.execute(self.statement("SELECT value FROM {s}.meta WHERE name = 'schema'"))
        row = await cur.fetchone()
        return 1 if row is None else int(row[0])

    async def upgrade(self) -> tuple[int, int]:
        """Create or move the schema forward now; returns the versions before and after."""
        async with await self.connect() as conn:
            before = await self.version(conn)
        await self._migrate(upgrade=True)
        return before, ddl.SCHEMA_VERSION

    @contextlib.asynccontextmanager
    async def connection(
        self, error: Callable[[str], Exception]
    ) -> AsyncIterator[AsyncConnection[tuple[Any, ...]]]:
        """A pooled connection; failures become ``error`` (no retry: see :meth:`run`)."""
        if self._pool is None:
            raise error(f"{self.where}: not open")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            self._failed(exc)
            raise error(self._message(exc)) from exc
        self._succeeded()

    async def run(
        self,
        fn: Callable[[AsyncConnection[tuple[Any, ...]]], Awaitable[T]],
        error: Callable[[str], Exception],
        *,
        retry: bool = True,
    ) -> T:
        """``fn(conn)`` on a pooled connection; failures become ``error``. With ``retry``,
        tried once more when the pooled connection was found dead (after the pool dropped its
        other dead ones): ``fn`` must be safe to run twice, since a server that died after
        committing it cannot have answered."""
        if self._pool is None:
            raise error(f"{self.where}: not open")
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as conn:
                    try:
                        result = await fn(conn)
                    except psycopg.OperationalError:
                        if retry and attempt == 1 and conn.broken:
                            raise _Stale() from None
                        raise
            except _Stale:
                await self._pool.check()  # the server restarted: its other connections died too
                continue
            except (psycopg.Error, PoolTimeout) as exc:
                self._failed(exc)
                raise error(self._message(exc)) from exc
            self._succeeded()
            return result
        raise AssertionError("unreachable")

    def _message(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{self.where}: {type(exc).__name__}: {text}"

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.OperationalError | PoolTimeout):
            self.healthy_since = None
            if not self._failing:
                self._failing = True
                log.error("postgres unavailable", where=self.where, error=self._message(exc))

    def _succeeded(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("postgres available again", where=self.where)
        if self.healthy_since is None:
            self.healthy_since = time.monotonic()


class _Stale(Exception):
    """A pooled connection was found dead before the statement could run."""
