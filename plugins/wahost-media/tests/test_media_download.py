"""Downloading from the fake Graph API: streamed to disk, SHA-256 checked, expired URLs
fetched again once, size limits, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
import wahost_media
from wahost_media import ChecksumMismatchError, MediaTooLargeError

from wahost.errors import AuthError, GraphError, TransportError
from wahost.testing.fake_graph import FakeGraph

DATA = random.Random(5).randbytes(300_000)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory for downloads (the host's database is in ``tmp_path``)."""
    directory = tmp_path / "downloads"
    directory.mkdir()
    return directory


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def attachments(fake_graph: FakeGraph) -> list[tuple[str, int | None]]:
    """``(what, status)`` of every request: ``download``, ``info`` or the path."""
    seen = []
    for r in fake_graph.requests:
        what = "download" if "/whatsapp_business/attachments" in r.path else f"{r.method} {r.path}"
        seen.append((what, r.status))
    return seen


async def test_download_by_id_to_a_file(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    dest = out / "out" / "photo.jpg"
    path = await media.download(media_id, dest)
    assert path == dest
    assert dest.read_bytes() == DATA
    assert leftovers(dest.parent) == ["photo.jpg"]
    assert attachments(fake_graph) == [(f"GET /v24.0/{media_id}", 200), ("download", 200)]
    download = fake_graph.requests[-1]
    assert download.authorized  # the URL needs the token (reference/cloudapi.md §8)


async def test_download_into_a_directory_names_the_file_by_content(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "application/pdf", filename="../../evil.sh")
    path = await media.download(media_id, out)
    assert path == out / f"{hashlib.sha256(DATA).hexdigest()}.pdf"
    assert path.read_bytes() == DATA
    info = await media.info(media_id)
    result = await media.fetch(info, out, content_addressed=True)
    assert result.path == path and result.size == len(DATA)
    assert result.sha256 == info.sha256
    assert result.mime_type == "application/pdf"


async def test_sha256_mismatch_is_detected_and_nothing_is_kept(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "image/png")
    info = await media.info(media_id)
    fake_graph.media[media_id].data = DATA[:-1] + b"\x00"  # altered after Meta hashed it
    with pytest.raises(ChecksumMismatchError) as caught:
        await media.download(info, out / "photo.png")
    assert caught.value.expected == info.sha256
    assert leftovers(out) == []
    # A hash given by the caller is checked too, in hex or base64.
    with pytest.raises(ChecksumMismatchError):
        await media.download(media_id, out / "x", sha256=hashlib.sha256(DATA).hexdigest())
    good = hashlib.sha256(DATA[:-1] + b"\x00").hexdigest()
    assert (await media.download(media_id, out / "x", sha256=good)).exists()


async def test_expired_url_is_fetched_again(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "video/mp4")
    fake_graph.media_url_ttl = -60  # URLs handed out now are already expired
    info = await media.info(media_id)
    fake_graph.media_url_ttl = 300
    fake_graph.requests.clear()
    path = await media.download(info, out / "clip.mp4")
    assert path.read_bytes() == DATA
    assert attachments(fake_graph) == [
        ("download", 404),
        (f"GET /v24.0/{media_id}", 200),
        ("download", 200),
    ]
    # The same with a URL given next to the id (as inbound webhooks carry one).
    fake_graph.requests.clear()
    fake_graph.media_url_ttl = -60
    stale = fake_graph.media_url(media_id)
    fake_graph.media_url_ttl = 300
    await media.download(media_id, out / "again.mp4", url=stale)
    assert [status for _, status in attachments(fake_graph)] == [404, 200, 200]


@pytest.mark.parametrize(("code", "status"), [(190, 401), (10, 403)])
async def test_refused_url_is_fetched_again_once(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path, code: int, status: int
) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    fake_graph.fail_next(1, code=code, http_status=status, path_contains="/attachments")
    await media.download(media_id, out / "a.jpg")
    assert [s for _, s in attachments(fake_graph)] == [200, status, 200, 200]
    # Refused again after the fresh URL: the error is raised, not retried forever.
    fake_graph.requests.clear()
    fake_graph.fail_next(2, code=code, http_status=status, path_contains="/attachments")
    with pytest.raises(GraphError) as caught:
        await media.download(media_id, out / "b.jpg")
    assert caught.value.http_status == status
    if code == 190:
        assert isinstance(caught.value, AuthError)
    assert [s for _, s in attachments(fake_graph)] == [200, status, 200, status]
    assert not (out / "b.jpg").exists()


async def test_server_errors_are_not_taken_for_expiry(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    fake_graph.fail_next(1, code=None, http_status=500, path_contains="/attachments")
    with pytest.raises(GraphError) as caught:
        await media.download(media_id, out / "a.jpg")
    assert caught.value.http_status == 500
    assert len(fake_graph.requests) == 2  # info, download: no refresh


async def test_bare_url_downloads_without_a_refresh(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    url = fake_graph.media_url(media_id)
    assert (await media.download(url, out / "a.jpg")).read_bytes() == DATA
    fake_graph.media_url_ttl = -60
    with pytest.raises(GraphError):
        await media.download(fake_graph.media_url(media_id), out / "b.jpg")
    assert leftovers(out) == ["a.jpg"]


async def test_max_bytes(media: wahost_media.Media, fake_graph: FakeGraph, out: Path) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    # Known from the info answer: not even requested.
    with pytest.raises(MediaTooLargeError) as caught:
        await media.download(media_id, out / "a.jpg", max_bytes=len(DATA) - 1)
    assert caught.value.size == len(DATA)
    assert attachments(fake_graph)[-1][0].startswith("GET /v24.0/")
    # Known from Content-Length only (a URL given): the body is not read.
    url = fake_graph.media_url(media_id)
    with pytest.raises(MediaTooLargeError):
        await media.download(media_id, out / "a.jpg", url=url, max_bytes=1000)
    assert leftovers(out) == []
    assert (await media.download(media_id, out / "a.jpg", max_bytes=len(DATA))).exists()


async def test_network_failure_is_the_cores_transport_error(
    media: wahost_media.Media, fake_graph: FakeGraph, out: Path
) -> None:
    media_id = fake_graph.add_media(DATA, "image/jpeg")
    fake_graph.fail_next(1, drop=True, path_contains="/attachments")
    with pytest.raises(TransportError, match="downloading media failed") as caught:
        await media.download(media_id, out / "a.jpg")
    assert not caught.value.ambiguous
    assert leftovers(out) == []
    assert (await media.download(media_id, out / "a.jpg")).read_bytes() == DATA
