"""Fixtures of wahost-flows' tests: the generated vectors, their key, a bot with the plugin."""

from __future__ import annotations

import json
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import wahost_flows
from wahost_flows import FlowRouter

from wahost.testing import BotHarness, sign

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """``flow_crypto_vectors_generated.json``."""
    data: dict[str, Any] = _load("flow_crypto_vectors_generated.json")
    return data


@pytest.fixture(scope="session")
def cases(vectors: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The vectors' cases by name (ping, init, data_exchange, error_notification)."""
    return {case["name"]: case for case in vectors["cases"]}


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    return _load


@pytest.fixture
def key_file(tmp_path: Path, vectors: dict[str, Any]) -> Path:
    """The vectors' private key (PKCS#8, unencrypted) in a file."""
    path = tmp_path / "flows.pem"
    path.write_text(vectors["private_key_pem_pkcs8_unencrypted"])
    return path


def router_plugin(router: FlowRouter, name: str = "booking") -> types.ModuleType:
    """A plugin module whose ``on_flow_request`` is ``router``'s, as the README shows."""
    module = types.ModuleType(name)
    module.on_flow_request = router.on_flow_request  # type: ignore[attr-defined]
    return module


@pytest.fixture
def make_router_plugin() -> Callable[..., types.ModuleType]:
    return router_plugin


class FlowsBot:
    """A :class:`BotHarness` with wahost-flows, and a way to post to its endpoints."""

    def __init__(self, harness: BotHarness) -> None:
        self.harness = harness
        self.host = harness.host

    async def post(
        self,
        body: bytes | dict[str, Any],
        *,
        path: str = "/flows",
        secret: str | None = "test-app-secret-0123456789",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` to an endpoint, signed with ``secret`` (``None``: unsigned)."""
        assert self.harness.http is not None
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": "application/json"}
        if secret is not None:
            sent["x-hub-signature-256"] = sign(raw, secret)
        sent.update(headers or {})
        return await self.harness.http.post(self.harness.url + path, content=raw, headers=sent)


@pytest.fixture
def flows_bot(tmp_path: Path, key_file: Path) -> Callable[..., Any]:
    """``async with flows_bot(plugins=[...], flows={...}) as bot``: a running host with
    wahost-flows; ``flows`` is ``[plugins.flows]`` (default: one endpoint on /flows with the
    vectors' key)."""

    @asynccontextmanager
    async def make(
        *,
        plugins: list[object] | tuple[object, ...] = (),
        flows: dict[str, Any] | None = None,
        config: dict[str, dict[str, Any]] | None = None,
        graph: Any = None,
    ) -> AsyncIterator[FlowsBot]:
        settings = flows if flows is not None else {"endpoints": [{"key_file": str(key_file)}]}
        merged: dict[str, dict[str, Any]] = {**(config or {}), "plugins": {"flows": settings}}
        harness = BotHarness(
            tmp_path,
            plugins=[wahost_flows, *plugins],
            config=merged,
            worker=False,
            graph=graph,
        )
        async with harness:
            yield FlowsBot(harness)

    return make
