"""Resumable uploads (reference/cloudapi.md §18.6) against the fake Graph API over loopback
HTTP: a handle for a file, and bad input refused before any request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wahost.account.uploads import upload_file, upload_handle
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config


@pytest.fixture
async def client(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[GraphClient]:
    config = make_config(tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "app_id": "42"}})
    graph_client = GraphClient(config)
    yield graph_client
    await graph_client.aclose()


async def test_a_file_becomes_a_handle(
    client: GraphClient, fake_graph: FakeGraph, tmp_path: Path
) -> None:
    pdf = tmp_path / "menu.pdf"
    pdf.write_bytes(b"%PDF-1.7 the menu")
    handle = await upload_file(client, client.app_id, pdf)
    uploaded = fake_graph.uploads[handle]
    assert (uploaded.name, uploaded.type, uploaded.data) == (
        "menu.pdf",
        "application/pdf",
        pdf.read_bytes(),
    )
    opened, stored = fake_graph.requests
    assert opened.path.endswith("/42/uploads") and stored.path.split("/")[-1].startswith("upload:")
    assert stored.headers["authorization"] == f"Bearer {client._token}"


@pytest.mark.parametrize(
    ("app_id", "data", "name", "kind", "error"),
    [
        ("42/../1", b"x", "a.png", "image/png", "app_id"),
        ("42", b"", "a.png", "image/png", "data: the file is empty"),
        ("42", b"x", "a.gif", "image/gif", "file_type: 'image/gif'"),
        ("42", b"x", "dir/a.png", "image/png", "file_name"),
    ],
)
async def test_bad_input_fails_before_any_request(
    client: GraphClient,
    fake_graph: FakeGraph,
    app_id: str,
    data: bytes,
    name: str,
    kind: str,
    error: str,
) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        await upload_handle(client, app_id, data, file_name=name, file_type=kind)
    assert fake_graph.requests == []


async def test_a_local_file_of_another_type_is_refused(client: GraphClient, tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="resumable upload takes"):
        await upload_file(client, "42", gif)
