"""Crash safety: ``kill -9`` a real ``wahost serve`` while clients post, and count what survived.

Several concurrent clients post signed webhooks (one message each, users spread over the
clients, each user's messages numbered) and, as Meta does, re-post whatever got no 200 until it
does. Meanwhile the server is killed with SIGKILL at random points of the run's progress and
restarted. A recording plugin (installed as a real entry point) writes every handled message
to its own SQLite file, with the value of a per-conversation counter kept in ``ctx.state``.

Afterwards it checks: every message answered 200 was handled (none lost); each user's messages
were handled in order; repeats only for units in flight at a kill (counted, and bounded by
kills x concurrency, and each repeat explained: a kill fell between the unit's two handlings);
the ``ctx.state`` counter equals the number of messages of each user (state applied exactly
once).

The queue and the state live in the queue's SQLite file by default; ``storage`` puts them
elsewhere and ``victim`` kills something else than the server (both used by
:mod:`bench.reliability.crash_redis`, which runs this scenario on Redis).

    python -m bench.crash --messages 10000 --kills 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wahost.state.base import StateStore
from wahost.state.sqlite import SQLiteStateStore
from wahost.testing.harness import TEST_APP_SECRET, sign
from wahost.testing.payloads import make_text

RECORDER = '''
"""A plugin recording every handled message in its own SQLite file (a side effect)."""
import os, sqlite3, time
import msgspec
from wahost import hookimpl


class Settings(msgspec.Struct):
    passphrase: str = ""


@hookimpl
def wahost_config_schema():
    return {"crash-recorder": Settings}

_db = None

def _conn():
    global _db
    if _db is None:
        _db = sqlite3.connect(os.environ["CRASH_RECORD_DB"], isolation_level=None, timeout=30)
        _db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (the runs kill processes, not the
        # machine) without an fsync per row, which would make the recorder the bottleneck.
        _db.execute("PRAGMA synchronous=NORMAL")
        _db.execute("CREATE TABLE IF NOT EXISTS handled (wamid TEXT, user TEXT, seq INTEGER,"
                    " counter INTEGER, attempt INTEGER, at REAL, started REAL)")
    return _db

@hookimpl
async def on_message(message, ctx):
    started = time.time()
    counter = ctx.state.get("count", 0) + 1
    ctx.state.update(count=counter)
    seq = int(message.text.body)
    _conn().execute("INSERT INTO handled VALUES (?, ?, ?, ?, ?, julianday('now'), ?)",
                    (message.id, message.sender, seq, counter, ctx.attempt, started))
    if seq == 0 and os.environ.get("CRASH_CANARY"):
        # A careless plugin logging secrets: the redactor must catch every one.
        ctx.log.warning("canary", leak=os.environ["CRASH_CANARY"])
    if os.environ.get("CRASH_REPLY"):
        await ctx.reply(f"{message.sender}:{seq}")
    return True
'''

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "{token}"
app_secret = "{secret}"
verify_token = "crash-verify"
{graph_url}

[server]
port = {port}

{storage}

[worker]
concurrency = {concurrency}
lease_seconds = 5.0

[graph]
timeout = 2.0
backoff_base = 0.05
backoff_cap = 0.5

[logging]
level = "{log_level}"
format = "json"

[plugins.crash-recorder]
passphrase = "{passphrase}"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Canary secrets (used with ``secrets=True``): none may appear in a log line or an answer.
CANARY_TOKEN = "EAAGcanaryTOKEN7d1e93b0c4"
CANARY_APP_SECRET = "canary-app-secret-5f2a90e1"
CANARY_PASSPHRASE = "canary passphrase horse-battery-7714"


def _webhook(user: str, seq: int) -> bytes:
    payload = make_text(str(seq), sender=user, wamid=f"wamid.crash.{user}.{seq}", name=user)
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class Storage:
    """Where the queue and ``ctx.state`` live: by default both in the queue's SQLite file."""

    #: The ``[queue]`` (and ``[state]``) sections; ``{db}`` is the queue's file in the workdir.
    sections: str = '[queue]\npath = "{db}"\n'
    #: Plugins to enable besides the recorder (a backend's plugin).
    plugins: tuple[str, ...] = ()
    #: Opens the state store the server used (to read the counters back); given the workdir.
    open_store: Callable[[Path], StateStore] = lambda tmp: SQLiteStateStore(str(tmp / "wahost.db"))


#: Kills what the run kills (then restarts it); given the wahost server. Default: the server.
Victim = Callable[["Server"], Awaitable[None]]

#: A repeat is explained by a kill at most this long before its first handling started (a
#: unit leased just before a Redis kill starts its handler just after) and before the next.
KILL_MARGIN = 0.5


@dataclass
class Outcome:
    messages: int
    kills: int
    acked: int = 0
    handled_distinct: int = 0
    lost: list[str] = field(default_factory=list)
    repeats: int = 0
    #: Units handled again with no kill between their handlings (must stay empty).
    repeats_unexplained: list[str] = field(default_factory=list)
    #: Answers >= 500 (a Redis outage: 503 until it is back; the clients post again).
    errors_5xx: int = 0
    #: Wall-clock times of the kills.
    kill_times: list[float] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    wrong_counters: list[str] = field(default_factory=list)
    repeat_bound: int = 0
    seconds: float = 0.0
    posts: int = 0
    #: With replies: per unit, how many times the fake Graph API accepted its reply.
    replies_missing: list[str] = field(default_factory=list)
    replies_duplicated: list[str] = field(default_factory=list)
    replies_unexplained: list[str] = field(default_factory=list)
    #: Secrets found in the server's log or in an answer (must stay empty).
    leaked: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return (
            not self.lost
            and not self.out_of_order
            and not self.wrong_counters
            and self.repeats <= self.repeat_bound
            and not self.repeats_unexplained
            and self.acked == self.messages
            and not self.replies_missing
            and not self.replies_unexplained
            and not self.leaked
        )

    def report(self) -> str:
        return (
            f"messages={self.messages} kills={self.kills} posts={self.posts} "
            f"acked={self.acked} handled={self.handled_distinct} lost={len(self.lost)} "
            f"repeats={self.repeats} (bound {self.repeat_bound}, unexplained "
            f"{len(self.repeats_unexplained)}) 5xx={self.errors_5xx} "
            f"out_of_order={len(self.out_of_order)} wrong_counters={len(self.wrong_counters)} "
            f"replies_missing={len(self.replies_missing)} "
            f"replies_duplicated={len(self.replies_duplicated)} "
            f"(unexplained {len(self.replies_unexplained)}) leaked={len(self.leaked)} "
            f"seconds={self.seconds:.1f}"
        )


class Server:
    def __init__(self, workdir: Path, port: int, env: dict[str, str]) -> None:
        self.workdir, self.port, self.env = workdir, port, env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = open(workdir / "server.log", "ab")  # noqa: SIM115

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wahost.cli",
                "serve",
                "--config",
                str(self.workdir / "wahost.toml"),
            ],
            cwd=self.workdir,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _install_recorder(site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "crash_recorder.py").write_text(textwrap.dedent(RECORDER))
    info = site / "crash_recorder-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crash-recorder\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wahost]\ncrash-recorder = crash_recorder\n")


def recorder_env(tmp: Path) -> tuple[dict[str, str], Path]:
    """Install the recording plugin under ``tmp/site`` and return the environment for a
    ``wahost serve`` subprocess that loads it (and nothing else), with its record file."""
    site = tmp / "site"
    _install_recorder(site)
    record_db = tmp / "record.db"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    env["CRASH_RECORD_DB"] = str(record_db)
    env["WAHOST_PLUGINS"] = "crash-recorder"
    return env, record_db


async def _client(
    url: str,
    users: list[str],
    per_user: int,
    acked: set[str],
    counters: dict[str, int],
    deadline: float,
    secret: str = TEST_APP_SECRET,
    answers: list[bytes] | None = None,
) -> None:
    """Posts each user's messages in order; re-posts until 200 like Meta."""
    async with httpx.AsyncClient(timeout=5) as http:
        for seq in range(per_user):
            for user in users:
                body = _webhook(user, seq)
                headers = {
                    "content-type": "application/json",
                    "x-hub-signature-256": sign(body, secret),
                }
                while time.monotonic() < deadline:
                    counters["posts"] += 1
                    try:
                        response = await http.post(url, content=body, headers=headers)
                        if answers is not None and response.content:
                            answers.append(response.content)
                        if response.status_code >= 500:
                            counters["5xx"] += 1
                        if response.status_code == 200:
                            acked.add(f"wamid.crash.{user}.{seq}")
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)


async def kill_server(server: Server) -> None:
    """The default victim: SIGKILL the wahost server, start it again at once and wait until it
    answers (so that the next kill lands on a running server, not on one still starting)."""
    server.kill()
    server.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)


async def _killer(
    server: Server,
    kills: int,
    stop: asyncio.Event,
    rng: random.Random,
    victim: Victim,
    times: list[float],
    progress: Callable[[], float],
) -> None:
    """Kill at random points of the run's progress (0 at the start, 1 when every message is
    answered 200 and handled), not at random times: on a fast machine, timed kills came after
    the load had finished, and on a slow one they all fell on ingress. Kill ``i`` of ``n`` falls
    somewhere in the ``i``-th of ``n`` equal slices, so that kills hit both the taking of
    webhooks (early) and the handling (late), even where ingress far outruns the worker."""
    low, high = 0.02, 0.95
    width = (high - low) / max(kills, 1)
    marks = [low + width * (i + rng.random()) for i in range(kills)]
    for mark in marks:
        while progress() < mark:
            if stop.is_set():
                return
            await asyncio.sleep(0.02)
        times.append(time.time())
        await victim(server)


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    # One client for all the polls: each new one loads the CA bundle (~25 ms of CPU, taken
    # from the server that is starting on the same cores).
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            try:
                if http.get(url + "/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise TimeoutError("server did not start")


def run_crash(
    *,
    messages: int = 300,
    kills: int = 3,
    clients: int = 8,
    concurrency: int = 16,
    seed: int = 1,
    workdir: Path | None = None,
    timeout: float = 300,
    replies: bool = False,
    secrets: bool = False,
    storage: Storage | None = None,
    victim: Victim = kill_server,
) -> Outcome:
    """Run the crash scenario and return what was observed.

    ``replies``: the recording plugin also replies to each message through ``ctx.reply``, to a
    fake Graph API running in this process; each unit's reply must arrive, and a repeated one
    only for a unit handled more than once (in flight at a kill: the outbox cannot know about
    a reply Meta accepted just before the process died). ``secrets``: canary token, app
    secret and passphrase in the configuration, info-level logging and a plugin logging all
    three; none may appear in the server's log or in any answer. ``storage``: where the queue
    and the state live (default: SQLite); ``victim``: what each kill kills and restarts
    (default: the server).
    """
    args = (messages, kills, clients, concurrency, seed, workdir, timeout, secrets)
    setup = (storage or Storage(), victim)
    if replies or secrets:
        graph = _ThreadedGraph(CANARY_TOKEN if secrets else "crash-token-0123456789")
        try:
            return _run(*args, graph, *setup)
        finally:
            graph.close()
    return _run(*args, None, *setup)


class _ThreadedGraph:
    """A FakeGraph serving from its own event loop in a thread (the crash run is blocking)."""

    def __init__(self, token: str) -> None:
        from wahost.testing.fake_graph import FakeGraph

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeGraph(token=token)
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(30)

    def sent_bodies(self) -> list[str]:
        async def bodies() -> list[str]:
            return [str(accepted["text"]["body"]) for accepted in self.fake.sent]

        return asyncio.run_coroutine_threadsafe(bodies(), self.loop).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(None, None, None), self.loop).result(
            30
        )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _run(
    messages: int,
    kills: int,
    clients: int,
    concurrency: int,
    seed: int,
    workdir: Path | None,
    timeout: float,
    secrets: bool,
    graph: _ThreadedGraph | None,
    storage: Storage,
    victim: Victim,
) -> Outcome:
    rng = random.Random(seed)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="wahost-crash-"))
    env, record_db = recorder_env(tmp)
    env["WAHOST_PLUGINS"] = ",".join([*storage.plugins, env["WAHOST_PLUGINS"]])
    port = _free_port()
    app_secret = CANARY_APP_SECRET if secrets else TEST_APP_SECRET
    (tmp / "wahost.toml").write_text(
        CONFIG.format(
            secret=app_secret,
            port=port,
            storage=storage.sections.format(db=tmp / "wahost.db"),
            concurrency=concurrency,
            token=CANARY_TOKEN if secrets else "crash-token-0123456789",
            passphrase=CANARY_PASSPHRASE if secrets else "",
            log_level="info" if secrets else "warning",
            graph_url=f'graph_url = "{graph.fake.url}"' if graph is not None else "",
        )
    )
    if graph is not None:
        env["CRASH_REPLY"] = "1"
    if secrets:
        env["CRASH_CANARY"] = f"{CANARY_TOKEN} {CANARY_APP_SECRET} {CANARY_PASSPHRASE}"
    answers: list[bytes] = []
    url = f"http://127.0.0.1:{port}"
    users_total = max(clients * 2, 4)
    per_user = max(1, messages // users_total)
    users = [f"1650555{n:04d}" for n in range(users_total)]
    outcome = Outcome(messages=per_user * users_total, kills=kills)
    server = Server(tmp, port, env)
    started = time.monotonic()
    server.start()
    _wait_ready(url)

    async def drive() -> None:
        acked: set[str] = set()
        counters = {"posts": 0, "5xx": 0}
        stop = asyncio.Event()
        deadline = time.monotonic() + timeout
        total = outcome.messages

        def progress() -> float:
            return (len(acked) + _handled(record_db)) / (2 * total)

        killer = asyncio.create_task(
            _killer(server, kills, stop, rng, victim, outcome.kill_times, progress)
        )
        await asyncio.gather(
            *(
                _client(
                    url + "/webhook",
                    users[i::clients],
                    per_user,
                    acked,
                    counters,
                    deadline,
                    app_secret,
                    answers,
                )
                for i in range(clients)
            )
        )
        # Kills go on while the worker catches up (on Redis, ingress outruns it).
        while not killer.done() and time.monotonic() < deadline:
            if _handled(record_db) >= len(acked):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await killer
        outcome.kills = len(outcome.kill_times)
        outcome.acked = len(acked)
        outcome.posts = counters["posts"]
        outcome.errors_5xx = counters["5xx"]

    try:
        asyncio.run(drive())
        _wait_ready(url)
        _wait_drained(record_db, outcome.acked, timeout=60)
        if graph is not None:
            _wait_replies(graph, outcome.acked, timeout=60)
    finally:
        server.stop()
    outcome.seconds = time.monotonic() - started
    _check(outcome, record_db, users, per_user, concurrency)
    outcome.wrong_counters += asyncio.run(_wrong_counters(storage.open_store(tmp), users, per_user))
    if graph is not None:
        _check_replies(outcome, graph.sent_bodies(), record_db, users, per_user)
    if secrets:
        seen = (tmp / "server.log").read_bytes() + b"\n".join(answers)
        for name, canary in (
            ("token", CANARY_TOKEN),
            ("app secret", CANARY_APP_SECRET),
            ("passphrase", CANARY_PASSPHRASE),
        ):
            if canary.encode() in seen:
                outcome.leaked.append(name)
        if b"canary" not in seen:  # the plugin's line must be there, redacted
            outcome.leaked.append("(the plugin's canary line is missing: check not exercised)")
    return outcome


def _handled(record_db: Path) -> int:
    """How many distinct messages the recorder has seen handled."""
    if not record_db.exists():
        return 0
    with sqlite3.connect(record_db, timeout=30) as db:
        try:
            (count,) = db.execute("SELECT COUNT(DISTINCT wamid) FROM handled").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(count)


def _wait_drained(record_db: Path, expected: int, timeout: float) -> None:
    """Wait until ``expected`` messages were handled, or ``timeout`` seconds pass without
    one more (with replies the worker goes at the Graph API's 80/s: 10,000 take minutes)."""
    _wait_progress(lambda: _handled(record_db), expected, timeout)


def _wait_progress(count: Callable[[], int], expected: int, timeout: float) -> None:
    done, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = count()
        if now >= expected:
            return
        if now > done:
            done, deadline = now, time.monotonic() + timeout
        time.sleep(0.1)


def _wait_replies(graph: _ThreadedGraph, expected: int, timeout: float) -> None:
    _wait_progress(lambda: len(set(graph.sent_bodies())), expected, timeout)


def _check_replies(
    outcome: Outcome, bodies: list[str], record_db: Path, users: list[str], per_user: int
) -> None:
    with sqlite3.connect(record_db, timeout=30) as db:
        rows = db.execute("SELECT user, seq, COUNT(*) FROM handled GROUP BY user, seq").fetchall()
    handled_times = {f"{user}:{seq}": count for user, seq, count in rows}
    counts: dict[str, int] = {}
    for body in bodies:
        counts[body] = counts.get(body, 0) + 1
    for user in users:
        for seq in range(per_user):
            unit = f"{user}:{seq}"
            got = counts.get(unit, 0)
            if got == 0:
                outcome.replies_missing.append(unit)
            elif got > 1:
                outcome.replies_duplicated.append(unit)
                if handled_times.get(unit, 0) < got:
                    outcome.replies_unexplained.append(unit)


def _check(
    outcome: Outcome, record_db: Path, users: list[str], per_user: int, concurrency: int
) -> None:
    with sqlite3.connect(record_db, timeout=30) as db:
        rows = db.execute("SELECT wamid, user, seq, started FROM handled ORDER BY rowid").fetchall()
    seen: dict[str, int] = {}
    starts: dict[str, list[float]] = {}
    per_user_seqs: dict[str, list[int]] = {}
    for wamid, user, seq, started in rows:
        seen[wamid] = seen.get(wamid, 0) + 1
        starts.setdefault(wamid, []).append(started)
        if seen[wamid] == 1:
            per_user_seqs.setdefault(user, []).append(seq)
    for wamid, times in starts.items():
        # Each handling after the first needs a kill since the previous one started.
        for before, after in itertools.pairwise(times):
            if not any(before - KILL_MARGIN <= k <= after for k in outcome.kill_times):
                outcome.repeats_unexplained.append(wamid)
                break
    outcome.handled_distinct = len(seen)
    outcome.repeats = sum(count - 1 for count in seen.values())
    outcome.repeat_bound = outcome.kills * concurrency
    for user in users:
        for seq in range(per_user):
            if f"wamid.crash.{user}.{seq}" not in seen:
                outcome.lost.append(f"wamid.crash.{user}.{seq}")
        seqs = per_user_seqs.get(user, [])
        if seqs != sorted(seqs):
            outcome.out_of_order.append(user)


async def _wrong_counters(store: StateStore, users: list[str], per_user: int) -> list[str]:
    """Users whose ``ctx.state`` counter, read through the store, is not ``per_user``."""
    await store.open()
    try:
        wrong: list[str] = []
        for user in users:
            state = await store.get(f"106540352242922:{user}")
            count = state.data.get("count") if state else None
            if count != per_user:
                wrong.append(f"{user}: {count} != {per_user}")
        return wrong
    finally:
        await store.close()


def arguments(description: str) -> argparse.ArgumentParser:
    """The command line of a crash run (:func:`main`, :mod:`bench.reliability.crash_redis`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replies", action="store_true", help="the plugin replies via ctx.reply")
    parser.add_argument("--secrets", action="store_true", help="canary secrets must not leak")
    return parser


def finish(outcome: Outcome) -> None:
    """Print the outcome and exit with its status."""
    print(outcome.report())
    if outcome.lost[:5]:
        print("lost:", outcome.lost[:5])
    if outcome.repeats_unexplained[:5]:
        print("repeated without a kill between:", outcome.repeats_unexplained[:5])
    print("OK" if outcome.ok() else "FAILED")
    sys.exit(0 if outcome.ok() else 1)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`run_crash` given on the command line."""
    names = ("messages", "kills", "clients", "concurrency", "seed", "replies", "secrets")
    return {"timeout": 3600, **{name: getattr(args, name) for name in names}}


def main() -> None:
    finish(run_crash(**options(arguments(__doc__.splitlines()[0]).parse_args())))


if __name__ == "__main__":
    main()
