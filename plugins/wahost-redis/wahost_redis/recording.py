"""Real ``wahost`` processes on Redis with a recording plugin, for crash tests and runs.

The plugin (``redis_recorder``) appends a line per handled message to a file of its process —
a side effect, so it shows at-least-once handling, repeats included — and appends the
message's number to the conversation's ``ctx.state["seen"]``, committed with the ack, which
shows what was applied exactly once. Messages carry their number as text (``"0"``, ``"1"``...).
:class:`Recorded` starts processes with it and checks order, exclusivity and state.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from wahost.testing.payloads import make_text, signed_webhook
from wahost_redis.testing import install_plugin, spawn

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
    _write({"event": "ready", "pid": os.getpid(), "consumer": host.queue.consumer})

@hookimpl
async def on_message(message, ctx):
    start = time.time()
    await asyncio.sleep(float(os.environ.get("RECORD_DELAY", "0")))
    seq = int(message.text.body)
    ctx.state.update(seen=ctx.state.get("seen", []) + [seq])
    _write({"event": "handled", "wamid": message.id, "user": message.sender, "seq": seq,
            "start": start, "end": time.time(), "attempt": ctx.attempt, "pid": os.getpid()})
    return True
'''


class Recorded:
    """Runs ``wahost`` processes with the recording plugin and reads what they recorded."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.site = directory / "site"
        self.records = directory / "records"
        self.records.mkdir(parents=True)
        install_plugin(self.site, "redis_recorder", RECORDER)
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, command: str, config: Path, *, delay: float = 0.0) -> subprocess.Popen[bytes]:
        env = {"RECORD_DIR": str(self.records), "RECORD_DELAY": str(delay)}
        process = spawn(
            command,
            config,
            site=self.site,
            plugins=["redis_recorder"],
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

    async def drained(self, url: str, seconds: float = 30) -> None:
        """Wait until the queue holds no unfinished unit (every ack committed)."""
        from wahost_redis import RedisQueue

        queue = RedisQueue(url)
        try:
            deadline = time.monotonic() + seconds
            while True:
                stats = await queue.stats()
                if stats.ready + stats.leased + stats.waiting_retry == 0:
                    return
                assert time.monotonic() < deadline, f"queue not drained: {stats}"
                await asyncio.sleep(0.05)
        finally:
            await queue.close()

    def logs(self) -> str:
        return " | ".join(p.read_text()[-2000:] for p in self.directory.glob("*.log"))

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

    async def seen(self, url: str, users: list[str]) -> dict[str, list[int] | None]:
        """The ``seen`` list of each user's ctx.state, read through the store."""
        from wahost.testing.harness import TEST_PHONE_NUMBER_ID
        from wahost_redis import RedisStateStore

        store = RedisStateStore(url)
        try:
            seen: dict[str, list[int] | None] = {}
            for user in users:
                state = await store.get(f"{TEST_PHONE_NUMBER_ID}:{user}")
                seen[user] = None if state is None else state.data.get("seen")
            return seen
        finally:
            await store.close()

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


class MetaClient:
    """Posts its users' messages (their number as text) in order, each until answered 200,
    as Meta does; with several URLs (web processes), the next one after a failure."""

    def __init__(self, url: str | list[str], users: list[str], per_user: int) -> None:
        self.urls = [url] if isinstance(url, str) else url
        self.users, self.per_user = users, per_user
        self.acked: set[str] = set()
        self.refused = 0
        self._turn = 0

    async def run(self, deadline: float) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            for seq in range(self.per_user):
                for user in self.users:
                    wamid = f"wamid.{user}.{seq}"
                    body, headers = signed_webhook(make_text(str(seq), sender=user, wamid=wamid))
                    while time.monotonic() < deadline:
                        # Spread over the web processes; after a failure, the next one.
                        url = self.urls[self._turn % len(self.urls)]
                        self._turn += 1
                        try:
                            response = await http.post(url, content=body, headers=headers)
                        except httpx.TransportError:
                            response = None
                        if response is not None and response.status_code == 200:
                            self.acked.add(wamid)
                            break
                        if response is not None and response.status_code == 503:
                            self.refused += 1
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.01)
