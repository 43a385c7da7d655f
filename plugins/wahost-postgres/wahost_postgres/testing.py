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

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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

RECORDER = '''
"""Records every handling in a file of its process (a side effect: at least once) and the
seqs a conversation saw in ctx.state (committed with the ack: exactly once)."""
import asyncio, json, os, time
from wahost import hookimpl

_fd = None

def _write(record):
    global _fd
    if _fd is None:
        path = os.path.join(os.environ["RECORD_DIR"], f"{os.getpid()}.jsonl")
        _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(_fd, (json.dumps(record) + "\\n").encode())

@hookimpl
def wahost_startup(host):
    _write({"event": "ready", "pid": os.getpid(), "owner": str(host.queue.owner)})

@hookimpl
async def on_message(message, ctx):
    start = time.time()
    _write({"event": "started", "wamid": message.id, "pid": os.getpid()})
    await asyncio.sleep(float(os.environ.get("RECORD_DELAY", "0")))
    seq = int(message.text.body)
    ctx.state.update(seen=ctx.state.get("seen", []) + [seq])
    if os.environ.get("RECORD_REPLY"):
        await ctx.reply(f"{message.sender}:{seq}")
    _write({"event": "handled", "wamid": message.id, "user": message.sender, "seq": seq,
            "start": start, "end": time.time(), "attempt": ctx.attempt, "pid": os.getpid()})
    return True
'''


def install_plugin(site: Path, name: str, source: str) -> None:
    """Install module ``name`` (its ``source``) in ``site`` as distribution ``name`` with the
    entry point ``name = name`` in the ``wahost`` group (put ``site`` on ``PYTHONPATH``)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wahost]\n{name} = {name}\n")


def write_config(
    path: Path,
    url: str,
    schema: str,
    *,
    port: int = 8080,
    graph_url: str = "https://graph.facebook.com",
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A configuration with the queue and state store on ``url`` in ``schema``, the test
    secrets of :mod:`wahost.testing.harness` and warnings-only logs; ``sections`` adds or
    overrides keys (``{"worker": {"concurrency": 8}}``)."""
    from wahost.config import config_to_toml
    from wahost.testing.harness import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN

    data: dict[str, dict[str, Any]] = {
        "whatsapp": {
            "phone_number_id": TEST_PHONE_NUMBER_ID,
            "token": TEST_TOKEN,
            "app_secret": TEST_APP_SECRET,
            "verify_token": "postgres-test-verify",
            "graph_url": graph_url,
        },
        "server": {"port": port},
        "queue": {"backend": "postgres", "url": url},
        "state": {"backend": "postgres"},
        "plugins": {"postgres": {"schema": schema}},
        "logging": {"level": "warning"},
    }
    for name, values in (sections or {}).items():
        data.setdefault(name, {}).update(values)
    path.write_text(config_to_toml(data))
    return path


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
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    environ["WAHOST_PLUGINS"] = ",".join(["wahost-postgres", *plugins])
    environ.update(env or {})
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", command, "--config", str(config)],
            env=environ,
            stdout=out,
            stderr=out,
        )
    finally:
        if log is not None and not isinstance(out, int):
            out.close()


class Recorded:
    """Runs ``wahost`` processes with the recording plugin (:data:`RECORDER`) and reads what
    they recorded."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.site = directory / "site"
        self.records = directory / "records"
        self.records.mkdir(parents=True)
        install_plugin(self.site, "pg_recorder", RECORDER)
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(
        self, command: str, config: Path, *, delay: float = 0.0, reply: bool = False
    ) -> subprocess.Popen[bytes]:
        env = {"RECORD_DIR": str(self.records), "RECORD_DELAY": str(delay)}
        if reply:
            env["RECORD_REPLY"] = "1"
        process = spawn(
            command,
            config,
            site=self.site,
            plugins=["pg_recorder"],
            env=env,
            log=self.directory / f"{command}.log",
        )
        self.processes.append(process)
        return process

    def read(self, event: str = "handled") -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.records.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):  # a line cut by kill -9
                    record = json.loads(line)
                    if record["event"] == event:
                        found.append(record)
        return found

    def handled_keys(self) -> set[str]:
        return {record["wamid"] for record in self.read()}

    async def wait(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            for process in self.processes:
                if process.poll() not in (None, -signal.SIGKILL):
                    raise AssertionError(f"a wahost process exited: {self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; {self.logs()}")
            await asyncio.sleep(0.05)

    def logs(self) -> str:
        return " | ".join(p.read_text()[-3000:] for p in self.directory.glob("*.log"))

    def check_order(self, per_user: int) -> None:
        """Each user's units were handled in arrival order and never two at once (repeats of a
        unit whose handler died before its ack may follow it)."""
        by_user: dict[str, list[dict[str, Any]]] = {}
        for record in sorted(self.read(), key=lambda r: r["start"]):
            by_user.setdefault(record["user"], []).append(record)
        for user, records in by_user.items():
            seqs = [r["seq"] for r in records]
            assert seqs == sorted(seqs), f"{user} out of order: {seqs}"
            assert sorted(set(seqs)) == list(range(per_user)), f"{user}: {seqs}"
            for before, after in itertools.pairwise(records):
                assert before["end"] <= after["start"], f"{user}: two units at once"

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def post_in_order(
    url: str, users: Sequence[str], per_user: int, *, deadline: float, gap: float = 0.0
) -> tuple[set[str], int]:
    """Post each user's messages (their number as text) over HTTP in order, each until answered
    200, as Meta does, ``gap`` seconds apart; returns the wamids answered 200 and how many posts
    got a 503."""
    import httpx

    from wahost.testing.payloads import make_text, signed_webhook

    acked: set[str] = set()
    refused = 0
    async with httpx.AsyncClient(timeout=10) as http:
        for seq in range(per_user):
            for user in users:
                wamid = f"wamid.{user}.{seq}"
                body, headers = signed_webhook(make_text(str(seq), sender=user, wamid=wamid))
                while time.monotonic() < deadline:
                    try:
                        response = await http.post(url, content=body, headers=headers)
                    except httpx.TransportError:
                        response = None
                    if response is not None and response.status_code == 200:
                        acked.add(wamid)
                        break
                    if response is not None and response.status_code == 503:
                        refused += 1
                    await asyncio.sleep(0.05)
                await asyncio.sleep(gap)
    return acked, refused


async def wait_for_port(port: int, seconds: float = 30.0) -> None:
    """Wait until something listens on ``127.0.0.1:port``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


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
