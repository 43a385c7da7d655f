"""The pytest plugin wahost installs (``pytest11`` entry point): fixtures for plugin tests.

* ``wahost_bot`` — a factory: ``async with wahost_bot(plugins=[my_plugin]) as bot:`` runs a
  real host (SQLite in the test's ``tmp_path``) behind a real loopback HTTP server; see
  :class:`wahost.testing.BotHarness`. ``bots=[mybot]`` runs a bot module (its routers and
  ``@hookimpl`` functions) before every plugin, as ``wahost serve --bot mybot`` does.
* ``fake_graph`` — a running :class:`wahost.testing.FakeGraph` (the Graph API on loopback).
* ``wahost_app`` — like ``wahost_bot``, with the host sending to ``fake_graph``:
  ``async with wahost_app(plugins=[p]) as bot: ...; bot.graph.sent``.
* ``signed_webhook`` — ``signed_webhook(payload)`` gives ``(body, headers)`` as Meta sends them.
* ``wahost_fixture`` — ``wahost_fixture("inbound_text.json")`` returns a shipped webhook body as
  Meta sends it (compact JSON bytes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest


def _factory(tmp_path: Path, graph: Any = None) -> Callable[..., Any]:
    from wahost.testing.harness import BotHarness

    def make(
        *,
        plugins: Iterable[object] = (),
        config: Mapping[str, Mapping[str, Any]] | None = None,
        load_entrypoints: bool = False,
        worker: bool = True,
        bots: Iterable[Any] = (),
    ) -> BotHarness:
        return BotHarness(
            tmp_path,
            plugins=plugins,
            bots=bots,
            config=config,
            load_entrypoints=load_entrypoints,
            worker=worker,
            graph=graph,
        )

    return make


@pytest.fixture
def wahost_bot(tmp_path: Path) -> Callable[..., Any]:
    """Factory of :class:`wahost.testing.BotHarness` bound to this test's ``tmp_path``."""
    return _factory(tmp_path)


@pytest.fixture
async def fake_graph() -> AsyncIterator[Any]:
    """A fake Graph API on loopback, expecting the test token."""
    from wahost.testing.fake_graph import FakeGraph

    async with FakeGraph() as graph:
        yield graph


@pytest.fixture
def wahost_app(tmp_path: Path, fake_graph: Any) -> Callable[..., Any]:
    """Factory of :class:`wahost.testing.BotHarness` whose host sends to ``fake_graph``."""
    return _factory(tmp_path, fake_graph)


@pytest.fixture
def signed_webhook() -> Callable[..., tuple[bytes, dict[str, str]]]:
    """``signed_webhook(payload, secret=TEST_APP_SECRET) -> (body, headers)``."""
    from wahost.testing.payloads import signed_webhook as sign_payload

    return sign_payload


@pytest.fixture
def wahost_fixture() -> Callable[[str], bytes]:
    """Loader of the webhook fixtures shipped with wahost."""
    from wahost.testing.harness import load_fixture

    return load_fixture
