"""Commerce settings (reference/cloudapi.md §18.7): wahost.account.CommerceApi against the fake
Graph API over loopback HTTP, and ``wahost commerce`` in test_account_cli.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wahost.account import CommerceApi
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config

PNID = "106540352242922"


@pytest.fixture
async def commerce(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[CommerceApi]:
    config = make_config(
        tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}}
    )
    client = GraphClient(config)
    yield CommerceApi(client)
    await client.aclose()


async def test_show_and_set(commerce: CommerceApi, fake_graph: FakeGraph) -> None:
    before = await commerce.get()
    assert (before.is_cart_enabled, before.is_catalog_visible) == (True, False)  # Meta's defaults
    await commerce.set(catalog_visible=True)
    assert fake_graph.requests[-1].params == {"is_catalog_visible": "true"}
    await commerce.set(cart_enabled=False)
    after = await commerce.get()
    assert (after.is_cart_enabled, after.is_catalog_visible) == (False, True)


async def test_bad_input_fails_before_any_request(
    commerce: CommerceApi, fake_graph: FakeGraph
) -> None:
    with pytest.raises(ValueError, match="give cart_enabled or catalog_visible"):
        await commerce.set()
    with pytest.raises(ValueError, match="is_cart_enabled: must be True or False"):
        await commerce.set(cart_enabled="yes")  # type: ignore[arg-type]
    assert fake_graph.requests == []
