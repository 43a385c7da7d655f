"""Crash safety: ``kill -9`` a real ``wahost serve`` while clients post, and count what survived.

Several concurrent clients post signed webhooks (one message each, users spread over the
clients, each user's messages numbered) and, as Meta does, re-post whatever got no 200 until it
does. Meanwhile the server is killed with SIGKILL at random moments and restarted. A recording
plugin (installed as a real entry point) writes every handled message to its own SQLite file,
with the value of a per-conversation counter kept in ``ctx.state``.

Afterwards it checks: every message answered 200 was handled (none lost); each user's messages
were handled in order; repeats only for units in flight at a kill (counted, and bounded by
kills x concurrency); the ``ctx.state`` counter equals the number of messages of each user
(state applied exactly once).

    python -m bench.crash --messages 10000 --kills 50
"""

from __future__ import annotations

import argparse
import asyncio
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wahost.state.sqlite import SQLiteStateStore
from wahost.testing.harness import TEST_APP_SECRET, sign
from wahost.testing.payloads import make_text

RECORDER = '''
"""A plugin recording every handled message in its own SQLite file (a side effect)."""
import os, sqlite3
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
        _db.execute("CREATE TABLE IF NOT EXISTS handled (wamid TEXT, user TEXT, seq INTEGER,"
                    " counter INTEGER, attempt INTEGER, at REAL)")
    return _db

@hookimpl
async def on_message(message, ctx):
    counter = ctx.state.get("count", 0) + 1
    ctx.state.update(count=counter)
    seq = int(message.text.body)
    _conn().execute("INSERT INTO handled VALUES (?, ?, ?, ?, ?, julianday('now'))",
                    (message.id, message.sender, seq, counter, ctx.attempt))
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

[queue]
path = "{db}"

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
class Outcome:
    messages: int
    kills: int
    acked: int = 0
    handled_distinct: int = 0
    lost: list[str] = field(default_factory=list)
    repeats: int = 0
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
            and self.acked == self.messages
            and not self.replies_missing
            and not self.replies_unexplained
            and not self.leaked
        )

    def report(self) -> str:
        return (
            f"messages={self.messages} kills={self.kills} posts={self.posts} "
            f"acked={self.acked} handled={self.handled_distinct} lost={len(self.lost)} "
            f"repeats={self.repeats} (bound {self.repeat_bound}) "
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
                        if response.status_code == 200:
                            acked.add(f"wamid.crash.{user}.{seq}")
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)


async def _killer(server: Server, kills: int, stop: asyncio.Event, rng: random.Random) -> int:
    done = 0
    while done < kills and not stop.is_set():
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        if stop.is_set():
            break
        server.kill()
        done += 1
        server.start()
    return done


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
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
) -> Outcome:
    """Run the crash scenario and return what was observed.

    ``replies``: the recording plugin also replies to each message through ``ctx.reply``, to a
    fake Graph API running in this process; each unit's reply must arrive, and a repeated one
    only for a unit handled more than once (in flight at a kill: the outbox cannot know about
    a reply Meta accepted just before the process died). ``secrets``: canary token, app
    secret and passphrase in the configuration, info-level logging and a plugin logging all
    three; none may appear in the server's log or in any answer.
    """
    if replies or secrets:
        graph = _ThreadedGraph(CANARY_TOKEN if secrets else "crash-token-0123456789")
        try:
            return _run(
                messages, kills, clients, concurrency, seed, workdir, timeout, secrets, graph
            )
        finally:
            graph.close()
    return _run(messages, kills, clients, concurrency, seed, workdir, timeout, secrets, None)


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
) -> Outcome:
    rng = random.Random(seed)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="wahost-crash-"))
    env, record_db = recorder_env(tmp)
    port = _free_port()
    app_secret = CANARY_APP_SECRET if secrets else TEST_APP_SECRET
    (tmp / "wahost.toml").write_text(
        CONFIG.format(
            secret=app_secret,
            port=port,
            db=tmp / "wahost.db",
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
        counters = {"posts": 0}
        stop = asyncio.Event()
        deadline = time.monotonic() + timeout
        killer = asyncio.create_task(_killer(server, kills, stop, rng))
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
        stop.set()
        outcome.kills = await killer
        outcome.acked = len(acked)
        outcome.posts = counters["posts"]

    try:
        asyncio.run(drive())
        _wait_ready(url)
        _wait_drained(record_db, outcome.acked, timeout=60)
        if graph is not None:
            _wait_replies(graph, outcome.acked, timeout=60)
    finally:
        server.stop()
    outcome.seconds = time.monotonic() - started
    _check(outcome, record_db, tmp / "wahost.db", users, per_user, concurrency)
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


def _wait_drained(record_db: Path, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if record_db.exists():
            with sqlite3.connect(record_db, timeout=30) as db:
                try:
                    (count,) = db.execute("SELECT COUNT(DISTINCT wamid) FROM handled").fetchone()
                except sqlite3.OperationalError:
                    count = 0
            if count >= expected:
                return
        time.sleep(0.1)


def _wait_replies(graph: _ThreadedGraph, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(set(graph.sent_bodies())) >= expected:
            return
        time.sleep(0.1)


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
    outcome: Outcome,
    record_db: Path,
    wahost_db: Path,
    users: list[str],
    per_user: int,
    concurrency: int,
) -> None:
    with sqlite3.connect(record_db, timeout=30) as db:
        rows = db.execute("SELECT wamid, user, seq, counter FROM handled ORDER BY rowid").fetchall()
    seen: dict[str, int] = {}
    per_user_seqs: dict[str, list[int]] = {}
    for wamid, user, seq, _counter in rows:
        seen[wamid] = seen.get(wamid, 0) + 1
        if seen[wamid] == 1:
            per_user_seqs.setdefault(user, []).append(seq)
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
    for user, count in asyncio.run(_counters(wahost_db, users)).items():
        if count != per_user:
            outcome.wrong_counters.append(f"{user}: {count} != {per_user}")


async def _counters(wahost_db: Path, users: list[str]) -> dict[str, int | None]:
    """The ``ctx.state`` counter of each user, read through the state store."""
    store = SQLiteStateStore(str(wahost_db))
    await store.open()
    try:
        counters: dict[str, int | None] = {}
        for user in users:
            state = await store.get(f"106540352242922:{user}")
            counters[user] = state.data.get("count") if state else None
        return counters
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replies", action="store_true", help="the plugin replies via ctx.reply")
    parser.add_argument("--secrets", action="store_true", help="canary secrets must not leak")
    args = parser.parse_args()
    outcome = run_crash(
        messages=args.messages,
        kills=args.kills,
        clients=args.clients,
        concurrency=args.concurrency,
        seed=args.seed,
        timeout=3600,
        replies=args.replies,
        secrets=args.secrets,
    )
    print(outcome.report())
    if outcome.lost[:5]:
        print("lost:", outcome.lost[:5])
    print("OK" if outcome.ok() else "FAILED")
    sys.exit(0 if outcome.ok() else 1)


if __name__ == "__main__":
    main()
