"""Flows media: wahost-media writes to disk what wahost-flows downloads and decrypts."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wahost_media
from wahost_media import FlowsNotInstalledError

from wahost import Wahost
from wahost.testing import make_config


def flows_media() -> Any:
    """``wahost_flows.media``; the test is skipped when wahost-flows is not installed."""
    return pytest.importorskip(
        "wahost_flows.media",
        reason="Flows media needs wahost-flows (pip install wahost-media[flows])",
    )


PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 100
CDN_URL = "https://mmg.whatsapp.net/v/t62/photo.enc"


@pytest.fixture
async def cdn(tmp_path: Path) -> AsyncIterator[tuple[Wahost, dict[str, Any], list[httpx.Request]]]:
    """A host whose HTTP client reaches a CDN holding one encrypted photo; yields the host,
    the picker item of that photo and the requests the CDN received."""
    cdn_file, metadata = flows_media().encrypt_flow_media(PHOTO)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if str(request.url) == CDN_URL:
            return httpx.Response(200, content=cdn_file)
        return httpx.Response(404)

    item = {
        "media_id": "790aba14-5f4a-4dbd-aa9e-0d75401da14b",
        "cdn_url": CDN_URL,
        "file_name": "../IMG_5237.JPG",
        "encryption_metadata": {
            name: getattr(metadata, name)
            for name in ("encrypted_hash", "iv", "encryption_key", "hmac_key", "plaintext_hash")
        },
    }
    config = make_config(tmp_path)
    transport = httpx.MockTransport(answer)
    async with Wahost(
        config, plugins=[wahost_media], load_entrypoints=False, graph_transport=transport
    ) as host:
        yield host, item, seen


async def test_flow_media_is_decrypted_to_disk(
    cdn: tuple[Wahost, dict[str, Any], list[httpx.Request]], tmp_path: Path
) -> None:
    host, item, seen = cdn
    media = wahost_media.for_host(host)
    out = tmp_path / "flows"
    out.mkdir()
    path = await media.download_flow_media(item, out)
    assert path == out / f"{hashlib.sha256(PHOTO).hexdigest()}.jpg"  # not the item's name
    assert path.read_bytes() == PHOTO
    assert "authorization" not in seen[0].headers  # the Graph token stays home
    named = await media.download_flow_media(item, tmp_path / "photo.jpg")
    assert named.read_bytes() == PHOTO
    assert sorted(p.name for p in out.iterdir()) == [path.name]


async def test_flow_media_checks_fail_loudly(
    cdn: tuple[Wahost, dict[str, Any], list[httpx.Request]], tmp_path: Path
) -> None:
    host, item, _ = cdn
    media = wahost_media.for_host(host)
    tampered = {**item, "encryption_metadata": {**item["encryption_metadata"]}}
    tampered["encryption_metadata"]["plaintext_hash"] = item["encryption_metadata"][
        "encrypted_hash"
    ]
    with pytest.raises(flows_media().FlowMediaError):
        await media.download_flow_media(tampered, tmp_path / "x.jpg")
    with pytest.raises(flows_media().FlowMediaError):
        await media.download_flow_media(item, tmp_path / "y.jpg", max_bytes=100)
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "y.jpg").exists()


async def test_without_wahost_flows_the_error_says_what_to_install(
    media: wahost_media.Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wahost_flows.media", None)  # as if not installed
    with pytest.raises(FlowsNotInstalledError, match=r"pip install 'wahost-media\[flows\]'"):
        await media.download_flow_media({"cdn_url": CDN_URL}, tmp_path / "x.jpg")
