"""Real ``wahost serve`` / ``wahost worker`` processes, for a backend plugin's crash tests and
benchmarks (wahost-redis and wahost-postgres build theirs on it).

:func:`install_plugin` puts a plugin module in a directory as an installed distribution (an
entry point of the ``wahost`` group), :func:`write_backend_config` writes a configuration with
the queue and state store on a backend, :func:`spawn` starts the CLI with chosen plugins.

:class:`Recorded` runs processes with :data:`RECORDER`, a plugin that appends a line per
handled message to a file of its process — a side effect, so it shows at-least-once handling,
repeats included — and appends the message's number to the conversation's
``ctx.state["seen"]``, committed with the ack, which shows what was applied exactly once.
Messages carry their number as text (``"0"``, ``"1"``...); :class:`MetaClient` posts them in
order, each until answered 200, as Meta does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from wahost.testing.payloads import make_text, signed_webhook

__all__ = [
    "RECORDER",
    "MetaClient",
    "Recorded",
    "free_port",
    "install_plugin",
    "spawn",
    "wait_for_port",
    "write_backend_config",
]

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
    _write({"event": "ready", "pid": os.getpid(), "owner": str(host.queue.owner),
            "consumer": getattr(host.queue, "consumer", None)})

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


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def install_plugin(site: Path, name: str, source: str) -> None:
    """Install module ``name`` (its ``source``) in ``site`` as distribution ``name`` with the
    entry point ``name = name`` in the ``wahost`` group (put ``site`` on ``PYTHONPATH``)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wahost]\n{name} = {name}\n")


def write_backend_config(
    path: Path,
    *,
    backend: str,
    url: str,
    port: int = 8080,
    graph_url: str = "https://graph.facebook.com",
    plugins: Mapping[str, Mapping[str, Any]] | None = None,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A configuration with the queue and state store on ``backend`` at ``url``, the test
    secrets of :mod:`wahost.testing.harness` and warnings-only logs; ``plugins`` gives
    ``[plugins.<name>]`` tables, ``sections`` adds or overrides keys
    (``{"worker": {"concurrency": 8}}``)."""
    from wahost.config import config_to_toml
    from wahost.testing.harness import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN

    data: dict[str, dict[str, Any]] = {
        "whatsapp": {
            "phone_number_id": TEST_PHONE_NUMBER_ID,
            "token": TEST_TOKEN,
            "app_secret": TEST_APP_SECRET,
            "verify_token": f"{backend}-test-verify",
            "graph_url": graph_url,
        },
        "server": {"port": port},
        "queue": {"backend": backend, "url": url},
        "state": {"backend": backend},
        "logging": {"level": "warning"},
    }
    if plugins:
        data["plugins"] = {name: dict(values) for name, values in plugins.items()}
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
    """Start ``wahost <command> --config <config>`` with ``plugins`` enabled (the backend's
    among them; those installed in ``site`` are found there); output goes to ``log``."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    environ["WAHOST_PLUGINS"] = ",".join(plugins)
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
    """Runs ``wahost`` processes with the recording plugin (:data:`RECORDER`, installed as
    ``recorder``) and ``backend`` (the backend's plugin name), and reads what they recorded."""

    def __init__(self, directory: Path, *, backend: str, recorder: str = "recorder") -> None:
        self.directory = directory
        self.backend = backend
        self.recorder = recorder
        self.site = directory / "site"
        self.records = directory / "records"
        self.records.mkdir(parents=True)
        install_plugin(self.site, recorder, RECORDER)
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(
        self, command: str, config: Path, *, delay: float = 0.0, reply: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start ``wahost <command>``; each message takes ``delay`` seconds, and with
        ``reply`` is answered through ``ctx.reply``."""
        env = {"RECORD_DIR": str(self.records), "RECORD_DELAY": str(delay)}
        if reply:
            env["RECORD_REPLY"] = "1"
        process = spawn(
            command,
            config,
            site=self.site,
            plugins=[self.backend, self.recorder],
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


class MetaClient:
    """Posts its users' messages (their number as text) in order, each until answered 200,
    as Meta does, ``gap`` seconds apart; with several URLs (web processes), the next one after
    a failure. ``acked`` holds the wamids answered 200, ``refused`` counts the 503s."""

    def __init__(
        self,
        url: str | list[str],
        users: Sequence[str],
        per_user: int,
        *,
        gap: float = 0.01,
        timeout: float = 5.0,
    ) -> None:
        self.urls = [url] if isinstance(url, str) else url
        self.users, self.per_user = list(users), per_user
        self.gap, self.timeout = gap, timeout
        self.acked: set[str] = set()
        self.refused = 0
        self._turn = 0

    async def run(self, deadline: float) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as http:
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
                    await asyncio.sleep(self.gap)
