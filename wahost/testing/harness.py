"""A bot under test: a real host on a real loopback HTTP server, fed signed webhooks.

Used by wahost's own tests and shipped for plugin authors (see ``docs/testing-plugins.md``)::

    async with BotHarness(tmp_path, plugins=[my_plugin]) as bot:
        response = await bot.post_fixture("inbound_text.json")
        assert response.status_code == 200
        await bot.idle()
        assert my_plugin.seen == ["wamid.…"]
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from wahost.config import Config, config_to_toml, parse_config
from wahost.host import Wahost
from wahost.server import listening_socket, run_http
from wahost.testing.loopback import loopback_client
from wahost.worker import Worker

FIXTURES = Path(__file__).parent / "fixtures"

#: Values of the test configuration; the secrets are test values, never real ones.
TEST_APP_SECRET = "test-app-secret-0123456789"
TEST_TOKEN = "test-token-EAAG0123456789"
TEST_VERIFY_TOKEN = "test-verify-token"
TEST_PHONE_NUMBER_ID = "106540352242922"


def sign(body: bytes, secret: str = TEST_APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header value Meta would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def load_fixture(name: str) -> bytes:
    """A fixture webhook from ``wahost.testing.fixtures`` as compact JSON bytes, the way Meta
    sends it (non-ASCII escaped as ``\\uXXXX``)."""
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return json.dumps(data, separators=(",", ":")).encode()


def fixture_names() -> list[str]:
    """Names of every shipped fixture."""
    return sorted(p.name for p in FIXTURES.glob("*.json"))


def make_config(tmp_path: Path, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """A valid configuration for tests: SQLite in ``tmp_path``, test secrets, fast worker."""
    data: dict[str, dict[str, Any]] = {
        "whatsapp": {
            "phone_number_id": TEST_PHONE_NUMBER_ID,
            "token": TEST_TOKEN,
            "app_secret": TEST_APP_SECRET,
            "verify_token": TEST_VERIFY_TOKEN,
        },
        "queue": {"path": str(tmp_path / "wahost.db")},
        "worker": {"backoff_base": 0.01, "backoff_cap": 0.05, "poll_interval": 0.02},
    }
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    return parse_config(config_to_toml(data), source="<test>", base_dir=tmp_path)


class BotHarness:
    """Runs a host with its worker and HTTP server on loopback for the length of a test."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        plugins: Iterable[object] = (),
        config: Mapping[str, Mapping[str, Any]] | None = None,
        load_entrypoints: bool = False,
        worker: bool = True,
        graph: Any = None,
        bots: Iterable[Any] = (),
    ) -> None:
        if graph is not None:  # a FakeGraph: send to it
            config = dict(config or {})
            config["whatsapp"] = {**config.get("whatsapp", {}), "graph_url": graph.url}
        #: The fake Graph API the host sends to, when one was given.
        self.graph = graph
        self.config = make_config(tmp_path, config)
        # The bot (``bots``, and ``[bot] modules`` of ``config`` resolved against tmp_path)
        # is registered after ``plugins``, so it is tried first, as under ``wahost serve``.
        self.host = Wahost(
            self.config, plugins=plugins, bots=bots, load_entrypoints=load_entrypoints
        )
        self.worker: Worker | None = Worker(self.host) if worker else None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.url = ""
        self.http: httpx.AsyncClient | None = None

    @property
    def webhook_url(self) -> str:
        return self.url + self.config.server.webhook_path

    async def __aenter__(self) -> BotHarness:
        await self.host.start()
        sock = listening_socket()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._sock = sock
        self._tasks.append(
            asyncio.create_task(
                run_http(
                    self.host.asgi(),
                    "",
                    0,
                    self._stop,
                    sock=sock,
                    engine=self.config.server.engine,
                    fast_path=self.config.server.webhook_fast_path,
                    config=self.config.server,
                )
            )
        )
        if self.worker is not None:
            self._tasks.append(asyncio.create_task(self.worker.run()))
        self.http = loopback_client(timeout=10)
        await self._wait_listening()
        return self

    async def _wait_listening(self) -> None:
        assert self.http is not None
        deadline = time.monotonic() + 10
        while True:
            try:
                if (await self.http.get(self.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.01)

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.worker is not None:
            await self.worker.stop(grace=5)
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sock.close()
        await self.host.stop()

    async def post(
        self,
        body: bytes | Mapping[str, Any],
        *,
        secret: str | None = TEST_APP_SECRET,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST a webhook body, signed with ``secret`` (``None``: no signature header)."""
        assert self.http is not None
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": "application/json"}
        if secret is not None:
            sent["x-hub-signature-256"] = sign(raw, secret)
        sent.update(headers or {})
        return await self.http.post(self.webhook_url, content=raw, headers=sent)

    async def post_fixture(self, name: str) -> httpx.Response:
        """POST a shipped fixture, signed."""
        return await self.post(load_fixture(name))

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every stored unit is finished (done or dead) and nothing is in flight."""
        deadline = time.monotonic() + timeout
        # A unit is usually handled within a few milliseconds: look again soon, then less
        # often (a fixed 10 ms made most tests wait longer than their units took).
        pause = 0.001
        while True:
            stats = await self.host.queue.stats()
            busy = stats.ready + stats.leased + stats.waiting_retry
            in_flight = self.worker.in_flight if self.worker else 0
            if busy == 0 and in_flight == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue not idle after {timeout}s: {stats}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.01)
