"""The pytest plugin wahost installs (``pytest11`` entry point): fixtures for plugin tests.

* ``wahost_bot`` — a factory: ``async with wahost_bot(plugins=[my_plugin]) as bot:`` runs a
  real host (SQLite in the test's ``tmp_path``) behind a real loopback HTTP server; see
  :class:`wahost.testing.BotHarness`.
* ``wahost_fixture`` — ``wahost_fixture("inbound_text.json")`` returns a shipped webhook body as
  Meta sends it (compact JSON bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def wahost_bot(tmp_path: Path) -> Callable[..., Any]:
    """Factory of :class:`wahost.testing.BotHarness` bound to this test's ``tmp_path``."""
    from wahost.testing.harness import BotHarness

    def make(
        *,
        plugins: Iterable[object] = (),
        config: Mapping[str, Mapping[str, Any]] | None = None,
        load_entrypoints: bool = False,
        worker: bool = True,
    ) -> BotHarness:
        return BotHarness(
            tmp_path,
            plugins=plugins,
            config=config,
            load_entrypoints=load_entrypoints,
            worker=worker,
        )

    return make


@pytest.fixture
def wahost_fixture() -> Callable[[str], bytes]:
    """Loader of the webhook fixtures shipped with wahost."""
    from wahost.testing.harness import load_fixture

    return load_fixture
