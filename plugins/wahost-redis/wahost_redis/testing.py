"""A throwaway ``redis-server`` for tests and benchmarks: a free loopback port, its own directory.

    server = RedisServer(tmp_path)
    server.start()
    queue = RedisQueue(server.url)
    ...
    server.kill()      # SIGKILL: what a crash keeps is what the AOF had
    server.start()     # same port, same directory: the AOF is loaded again
    server.stop()

Persistence is AOF with ``appendfsync always`` (every acknowledged write is on disk before the
reply) and no RDB snapshots, the settings the no-loss promise needs.

For runs of real ``wahost serve`` / ``wahost worker`` processes (the kit of
:mod:`wahost.testing.processes`): :func:`install_plugin` puts a plugin module on a directory as
an installed distribution, :func:`write_config` writes a configuration on Redis,
:func:`spawn` starts the CLI with wahost-redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError

from wahost.testing.processes import free_port as free_port
from wahost.testing.processes import install_plugin as install_plugin
from wahost.testing.processes import spawn as spawn_process
from wahost.testing.processes import write_backend_config

#: Where the binary is looked for when it is not on ``PATH``.
FALLBACK_BINARY = "/usr/bin/redis-server"


def find_redis_server() -> str | None:
    """The path of ``redis-server``, or ``None`` when it is not installed.

    ``WAHOST_REDIS_SERVER`` names another binary (empty: act as if none were installed).
    """
    configured = os.environ.get("WAHOST_REDIS_SERVER")
    if configured is not None:
        return configured or None
    found = shutil.which("redis-server")
    if found is None and Path(FALLBACK_BINARY).exists():
        found = FALLBACK_BINARY
    return found


class RedisServer:
    """A ``redis-server`` child process on ``127.0.0.1`` (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        binary: str | None = None,
        port: int | None = None,
        appendfsync: str = "always",
        extra: tuple[str, ...] = (),
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise FileNotFoundError("redis-server is not installed")
        self.binary = found
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A synchronous client (for set-up and checks in tests)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, timeout: float = 20.0) -> None:
        """Start (or start again) and wait until it answers, its AOF loaded."""
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--logfile", str(self.directory / "redis.log"),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                try:
                    client.ping()
                    return
                except (RedisConnectionError, BusyLoadingError):
                    if self.process.poll() is not None:
                        stderr = self.process.stderr.read() if self.process.stderr else b""
                        raise RuntimeError(f"redis-server exited: {stderr!r}") from None
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


# -- wahost processes on Redis ---------------------------------------------------------------


def write_config(
    path: Path,
    url: str,
    *,
    port: int = 8080,
    graph_url: str = "https://graph.facebook.com",
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A configuration with the queue and state store on ``url`` (see
    :func:`wahost.testing.processes.write_backend_config`)."""
    return write_backend_config(
        path, backend="redis", url=url, port=port, graph_url=graph_url, sections=sections
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
    (and ``wahost-redis``) enabled; output goes to ``log``."""
    return spawn_process(
        command, config, site=site, plugins=["wahost-redis", *plugins], env=env, log=log
    )
