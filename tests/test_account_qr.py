"""QR codes (reference/cloudapi.md §18.2): wahost.account.QrCodesApi against the fake Graph
API over loopback HTTP (the commands: test_account_cli.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost.account import QrCodesApi
from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config

PNID = "106540352242922"


@pytest.fixture
async def qr(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[QrCodesApi]:
    config = make_config(
        tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}}
    )
    client = GraphClient(config)
    yield QrCodesApi(client)
    await client.aclose()


async def test_create_list_get_update_image_delete(qr: QrCodesApi, fake_graph: FakeGraph) -> None:
    created = await qr.create("I'd like a table for two", image_format="SVG")
    assert fake_graph.requests[-1].json == {
        "prefilled_message": "I'd like a table for two",
        "generate_qr_image": "SVG",
    }
    assert created.deep_link_url == f"https://wa.me/message/{created.code}"
    assert created.qr_image_url is not None and created.qr_image_url.endswith(".svg")

    assert [c.code for c in await qr.list()] == [created.code]
    one = await qr.get(created.code)  # Meta wraps it in data[]
    assert one.prefilled_message == "I'd like a table for two"

    updated = await qr.update(created.code, "A table for four")
    assert updated.code == created.code and updated.prefilled_message == "A table for four"
    assert (await qr.get(created.code)).prefilled_message == "A table for four"

    url = await qr.image_url(created.code, "PNG")
    assert url.endswith(f"/{created.code}.png")
    assert "qr_image_url.format(PNG)" in fake_graph.requests[-1].params["fields"]

    await qr.delete(created.code)
    assert fake_graph.qr_codes[PNID] == {}
    with pytest.raises(GraphError) as gone:
        await qr.get(created.code)
    assert gone.value.code == 100


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda q: q.create(""), "prefilled_message: must not be empty"),
        (lambda q: q.create("x" * 141), r"prefilled_message: at most 140 characters \(got 141\)"),
        (lambda q: q.create("hi", image_format="JPG"), "image_format: must be 'PNG' or 'SVG'"),
        (lambda q: q.update("ABC", "y" * 141), "prefilled_message: at most 140"),
        (lambda q: q.get("../x"), "code: '../x' is not a QR code's code"),
        (lambda q: q.delete(""), "code: '' is not"),
    ],
)
async def test_bad_input_fails_before_any_request(
    qr: QrCodesApi, fake_graph: FakeGraph, call: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await call(qr)
    assert fake_graph.requests == []
