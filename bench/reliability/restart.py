"""Restart after ``kill -9``: how soon do the conversations that were in flight move again?

A real ``wahost serve`` with the default ``[worker] lease_seconds`` (60 s) takes one webhook
each from N users, then a second one each; a plugin (installed as a real entry point) holds the
first message of every user, so N units are in flight and each user's second message waits
behind its first. The server is killed with SIGKILL and started again, without the hold. The
run measures, per round, the time from the restart (the new process spawned) to the moment the
last interrupted conversation's unit starts again, and the time the process took to answer
``/healthz`` (Python and wahost starting, not waiting for anything). Before wahost released the
leases of a dead worker, the interrupted conversations waited for the whole lease: 60 s.

Checked: every message handled, each user's in order, the interrupted unit on its second
attempt, every conversation moving again within :data:`GOAL` seconds of the restart.

    python -m bench.reliability.restart --backend sqlite --rounds 5 --users 32
    python -m bench.reliability.restart --backend redis
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from bench.crash import Server, _free_port, _wait_ready
from bench.reliability import Row
from wahost.testing.harness import TEST_APP_SECRET, sign
from wahost.testing.payloads import make_text

Backend = Literal["sqlite", "redis"]

#: Seconds within which every interrupted conversation must move again after the restart.
GOAL = 5.0

RECORDER = '''
"""Appends a JSON line per handling (start and end) to $RESTART_RECORD; with
$RESTART_HOLD set, holds every message whose text is "0" until the process is killed."""
import asyncio, json, os, time
from wahost import hookimpl

def _write(record):
    fd = os.open(os.environ["RESTART_RECORD"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, (json.dumps(record) + "\\n").encode())
    finally:
        os.close(fd)

@hookimpl
async def on_message(message, ctx):
    record = {"user": message.sender, "seq": int(message.text.body), "attempt": ctx.attempt,
              "pid": os.getpid()}
    _write({**record, "event": "start", "at": time.time()})
    if os.environ.get("RESTART_HOLD") and message.text.body == "0":
        await asyncio.sleep(3600)
    _write({**record, "event": "end", "at": time.time()})
    return True
'''

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "restart-token-0123456789"
app_secret = "{secret}"
verify_token = "restart-verify"

[server]
port = {port}

{storage}

[worker]
concurrency = {concurrency}

[logging]
level = "warning"
format = "json"
"""

SQLITE = '[queue]\npath = "{db}"\n'
REDIS = '[queue]\nbackend = "redis"\nurl = "{url}"\n\n[state]\nbackend = "redis"\n'


@dataclass
class Round:
    #: Seconds from the restart to the last interrupted conversation's unit starting again.
    moved: float
    #: Seconds from the restart until ``/healthz`` answered.
    ready: float


@dataclass
class Outcome:
    backend: Backend
    users: int
    rounds: list[Round] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    wrong_attempts: list[str] = field(default_factory=list)
    slow: list[float] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.lost or self.out_of_order or self.wrong_attempts or self.slow)

    def row(self) -> Row:
        name = "SQLite" if self.backend == "sqlite" else "Redis"
        row = Row(
            f"restart after kill -9 with units in flight ({name})",
            f"{len(self.rounds)} x kill -9 with {self.users} conversations in flight, "
            "lease_seconds 60",
            lost=len(self.lost),
            ok=self.ok(),
        )
        moved = [r.moved for r in self.rounds]
        ready = [r.ready for r in self.rounds]
        if moved:
            row.notes.append(
                f"in-flight conversations moving again {statistics.median(moved):.2f} s "
                f"(max {max(moved):.2f} s) after the restart, goal {GOAL:.0f} s; /healthz "
                f"answering after {statistics.median(ready):.2f} s (max {max(ready):.2f} s)"
            )
        for what, items in (
            ("out of order", self.out_of_order),
            ("not on their 2nd attempt", self.wrong_attempts),
        ):
            if items:
                row.notes.append(f"{len(items)} {what}")
        return row


def _install_recorder(site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "restart_recorder.py").write_text(textwrap.dedent(RECORDER))
    info = site / "restart_recorder-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: restart-recorder\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wahost]\nrestart-recorder = restart_recorder\n")


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _post(http: httpx.Client, url: str, user: str, seq: int) -> None:
    payload = make_text(str(seq), sender=user, wamid=f"wamid.restart.{user}.{seq}", name=user)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(body)}
    response = http.post(url + "/webhook", content=body, headers=headers)
    response.raise_for_status()


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether ``condition`` held within ``timeout`` seconds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_restart(
    *,
    backend: Backend = "sqlite",
    users: int = 8,
    rounds: int = 1,
    workdir: Path | None = None,
    wait: float = 20.0,
) -> Outcome:
    """Run the scenario; ``wait``: seconds to wait for the interrupted conversations after a
    restart before giving up on the round (well under the 60 s lease, so that a host that
    waits for its dead predecessor's leases fails rather than passes late). Raises
    ``FileNotFoundError`` for ``backend="redis"`` without ``redis-server``."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix=f"wahost-restart-{backend}-"))
    site, record = tmp / "site", tmp / "records.jsonl"
    _install_recorder(site)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    env["RESTART_RECORD"] = str(record)
    redis_server = None
    if backend == "redis":
        from wahost_redis.testing import RedisServer

        redis_server = RedisServer(tmp / "redis")
        redis_server.start()
        storage = REDIS.format(url=redis_server.url)
        env["WAHOST_PLUGINS"] = "wahost-redis,restart-recorder"
    else:
        storage = SQLITE.format(db=tmp / "wahost.db")
        env["WAHOST_PLUGINS"] = "restart-recorder"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp / "wahost.toml").write_text(
        CONFIG.format(secret=TEST_APP_SECRET, port=port, storage=storage, concurrency=users)
    )
    outcome = Outcome(backend, users)
    server = Server(tmp, port, env)
    try:
        for n in range(rounds):
            names = [f"1650888{n:02d}{u:03d}" for u in range(users)]
            _round(server, url, names, record, outcome, wait)
    finally:
        server.stop()
        if redis_server is not None:
            redis_server.stop()
    return outcome


def _round(
    server: Server, url: str, names: list[str], record: Path, outcome: Outcome, wait: float
) -> None:
    def started(seq: int, attempt: int | None = None) -> set[str]:
        return {
            str(r["user"])
            for r in _records(record)
            if r["event"] == "start"
            and r["user"] in names
            and r["seq"] == seq
            and (attempt is None or r["attempt"] == attempt)
        }

    server.env["RESTART_HOLD"] = "1"
    server.start()
    _wait_ready(url)
    with httpx.Client(timeout=10) as http:
        for user in names:
            _post(http, url, user, 0)
        if not _until(lambda: len(started(0)) == len(names), 30):
            raise TimeoutError("the first messages were not all taken in flight")
        for user in names:
            _post(http, url, user, 1)  # waits behind the first, held
    server.kill()
    del server.env["RESTART_HOLD"]
    restarted = time.time()
    server.start()
    _wait_ready(url)
    ready = time.time() - restarted
    _until(lambda: len(started(0, attempt=2)) == len(names), wait)
    again = [
        r
        for r in _records(record)
        if r["event"] == "start" and r["user"] in names and r["seq"] == 0
    ]
    moved_at = [float(r["at"]) for r in again if r["attempt"] == 2]
    moved = (max(moved_at) if len(moved_at) == len(names) else float("inf")) - restarted
    outcome.rounds.append(Round(moved, ready))
    if moved > GOAL:
        outcome.slow.append(moved)

    def ended() -> dict[str, list[int]]:
        seqs: dict[str, list[int]] = {}
        for r in _records(record):
            if r["event"] == "end" and r["user"] in names:
                seqs.setdefault(str(r["user"]), []).append(int(r["seq"]))
        return seqs

    _until(lambda: sum(len(s) for s in ended().values()) >= 2 * len(names), wait)
    handled = ended()
    for user in names:
        seqs = handled.get(user, [])
        outcome.lost += [f"{user}:{seq}" for seq in (0, 1) if seq not in seqs]
        if seqs != sorted(seqs):
            outcome.out_of_order.append(user)
    attempts = {
        str(r["user"]): r["attempt"]
        for r in _records(record)
        if r["event"] == "end" and r["user"] in names and r["seq"] == 0
    }
    outcome.wrong_attempts += [user for user, attempt in attempts.items() if attempt != 2]
    server.kill()  # holding nothing now: the next round starts afresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    outcome = run_restart(backend=args.backend, users=args.users, rounds=args.rounds)
    row = outcome.row()
    print(row.scenario, row.result)


if __name__ == "__main__":
    main()
