"""A PostgreSQL for tests and benchmarks: a database of a run's own on a given server, or a
throwaway cluster of its own (``initdb``/``pg_ctl``) to stop and start.

    with scratch_database("postgresql://127.0.0.1:5432/test") as url:
        queue = PostgresQueue(url, schema="t1")

    cluster = Cluster(tmp_path)      # needs the server binaries (initdb, pg_ctl, postgres)
    cluster.start(); cluster.stop(); cluster.start()

The server for tests is ``WAHOST_TEST_POSTGRES`` (default ``postgresql://127.0.0.1:5432/test``,
trust authentication as on this project's machines and CI).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of its own in ``directory`` on a free loopback port, trust
    authentication, for tests that stop the server (see the module docstring). As root it
    runs as the ``postgres`` user, which owns the directory."""

    def __init__(self, directory: Path, *, binaries: Path | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise FileNotFoundError("initdb is not installed (apt-get install postgresql)")
        self.binaries = found
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            self.init()
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=100"
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

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()
