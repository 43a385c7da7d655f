"""A PostgreSQL for tests and benchmarks: a database of a run's own on a given server, or a
throwaway cluster of its own (``initdb``/``pg_ctl``) to stop and start.

    with scratch_database("postgresql://127.0.0.1:5432/test") as url:
        queue = PostgresQueue(url, schema="t1")

    cluster = Cluster()              # needs the server binaries (initdb, pg_ctl, postgres)
    cluster.start(); cluster.stop(); cluster.start()

The server for tests is ``WAHOST_TEST_POSTGRES`` (default ``postgresql://127.0.0.1:5432/test``,
trust authentication as on this project's machines and CI).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from wahost.testing import processes
from wahost.testing.processes import RECORDER as RECORDER
from wahost.testing.processes import MetaClient, write_backend_config
from wahost.testing.processes import free_port as free_port
from wahost.testing.processes import install_plugin as install_plugin
from wahost.testing.processes import spawn as spawn_process
from wahost.testing.processes import wait_for_port as wait_for_port

DEFAULT_SERVER = "postgresql://127.0.0.1:5432/test"
#: Where the server binaries are looked for when ``initdb`` is not on ``PATH`` (Debian).
BINARY_DIRS = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


def server_url() -> str:
    return os.environ.get("WAHOST_TEST_POSTGRES", DEFAULT_SERVER)


def server_answers(url: str) -> str | None:
    """None when the server at ``url`` answers, else why not (one line)."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def with_dbname(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new database on the server of ``url`` for the block, dropped after it; yields its
    connection string."""
    name = f"wahost_test_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def find_binaries() -> Path | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for directory in BINARY_DIRS:
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


class Cluster:
    """A PostgreSQL cluster of its own in a new directory under ``/tmp`` on a free loopback
    port, trust authentication, for tests that stop the server (see the module docstring). As
    root it runs as the ``postgres`` user, which owns the directory (a test's ``tmp_path`` is
    private to root). :meth:`remove` stops it and deletes the directory."""

    def __init__(self, *, binaries: Path | None = None, fsync: bool = False) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise FileNotFoundError("initdb is not installed (apt-get install postgresql)")
        self.binaries = found
        self.directory = Path(tempfile.mkdtemp(prefix="wahost-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        #: Tests need no crash safety of the disk; a benchmark of durability does.
        self.fsync = fsync
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.directory, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            self.init()
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=100"
        )
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
            str(self.directory / "server.log"), "-o", options, "-w", "-t", str(int(timeout)),
            "start",
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while server_answers(self.url) is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster in {self.directory} does not answer")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop it (``immediate``: as a crash would, no checkpoint)."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children (for CPU accounting)."""
        try:
            main = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        found = [main]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == main:
                    found.append(int(stat.parent.name))
        return found

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


# -- wahost processes on PostgreSQL ----------------------------------------------------------


def write_config(
    path: Path,
    url: str,
    schema: str,
    *,
    port: int = 8080,
    graph_url: str = "https://graph.facebook.com",
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A configuration with the queue and state store on ``url`` in ``schema`` (see
    :func:`wahost.testing.processes.write_backend_config`)."""
    return write_backend_config(
        path,
        backend="postgres",
        url=url,
        port=port,
        graph_url=graph_url,
        plugins={"postgres": {"schema": schema}},
        sections=sections,
    )


def spawn(
    command: str,
    config: Path,
    *,
    site: Path,
    plugins: Sequence[str],
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``wahost <command> --config <config>`` with the plugins installed in ``site``
    (and ``wahost-postgres``) enabled; output goes to ``log``."""
    return spawn_process(
        command, config, site=site, plugins=["wahost-postgres", *plugins], env=env, log=log
    )


class Recorded(processes.Recorded):
    """:class:`wahost.testing.processes.Recorded` on PostgreSQL."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, backend="wahost-postgres", recorder="pg_recorder")


async def post_in_order(
    url: str, users: Sequence[str], per_user: int, *, deadline: float, gap: float = 0.0
) -> tuple[set[str], int]:
    """Post each user's messages (their number as text) over HTTP in order, each until answered
    200, as Meta does, ``gap`` seconds apart; returns the wamids answered 200 and how many posts
    got a 503 (:class:`wahost.testing.processes.MetaClient`)."""
    client = MetaClient(url, users, per_user, gap=gap, timeout=10)
    await client.run(deadline)
    return client.acked, client.refused


async def seen(url: str, schema: str, users: Sequence[str]) -> dict[str, list[int] | None]:
    """The ``seen`` list of each user's ctx.state, read through the store."""
    from wahost.testing.harness import TEST_PHONE_NUMBER_ID
    from wahost_postgres.state import PostgresStateStore

    store = PostgresStateStore(url, schema=schema)
    await store.open()
    try:
        found: dict[str, list[int] | None] = {}
        for user in users:
            state = await store.get(f"{TEST_PHONE_NUMBER_ID}:{user}")
            found[user] = None if state is None else state.data.get("seen")
        return found
    finally:
        await store.close()
