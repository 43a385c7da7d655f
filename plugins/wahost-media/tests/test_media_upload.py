"""Uploading to the fake Graph API (multipart, real bytes), the limits checked before any
request, info and delete."""

from __future__ import annotations

import contextlib
import io
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
import wahost_media
from wahost_media import MediaError, MediaLimitError

from wahost.errors import GraphError
from wahost.testing import TEST_PHONE_NUMBER_ID
from wahost.testing.fake_graph import FakeGraph

from .test_media_limits import animated_webp_head

RNG = random.Random(11)


def payload(head: bytes, size: int) -> bytes:
    return head + RNG.randbytes(size - len(head))


#: One file of every kind, with the bytes its format starts with.
FILES = {
    "image/jpeg": payload(b"\xff\xd8\xff\xe0", 40_000),
    "image/png": payload(b"\x89PNG\r\n\x1a\n", 30_000),
    "audio/ogg": payload(b"OggS\x00\x02", 20_000),
    "audio/mpeg": payload(b"ID3\x04", 20_000),
    "video/mp4": payload(b"\0\0\0\x18ftypmp42", 60_000),
    "application/pdf": payload(b"%PDF-1.7\n", 25_000),
    "image/webp": payload(b"RIFF\x00\x10\x00\x00WEBPVP8 ", 50_000),
}


@pytest.mark.parametrize("mime", sorted(FILES))
async def test_upload_each_kind(
    media: wahost_media.Media, fake_graph: FakeGraph, mime: str
) -> None:
    data = FILES[mime]
    media_id = await media.upload(data, mime)
    held = fake_graph.media[media_id]
    assert held.data == data
    assert held.mime_type == mime
    [request] = fake_graph.requests
    assert request.method == "POST"
    assert request.path == f"/v24.0/{TEST_PHONE_NUMBER_ID}/media"
    assert request.form == {"messaging_product": "whatsapp", "type": mime}
    assert request.files["file"].content_type == mime
    assert request.headers["content-type"].startswith("multipart/form-data")


async def test_upload_from_a_path_a_file_and_a_pipe(
    media: wahost_media.Media, fake_graph: FakeGraph, tmp_path: Path
) -> None:
    data = FILES["application/pdf"]
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    from_path = await media.upload(path, "application/pdf")
    assert fake_graph.requests[-1].files["file"].filename == "report.pdf"

    with path.open("rb") as file:
        file.seek(100)  # a file object is read from its start
        from_file = await media.upload(file, "application/pdf", filename="renamed.pdf")
        assert not file.closed  # not ours to close
    assert fake_graph.requests[-1].files["file"].filename == "renamed.pdf"

    with pipe_of(data) as pipe:
        assert not pipe.seekable()
        from_pipe = await media.upload(pipe, "application/pdf")
    for media_id in (from_path, from_file, from_pipe):
        assert fake_graph.media[media_id].data == data


async def test_mime_type_guessed_from_the_name_or_the_bytes(
    media: wahost_media.Media, fake_graph: FakeGraph, tmp_path: Path
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(FILES["image/jpeg"])
    assert fake_graph.media[await media.upload(path)].mime_type == "image/jpeg"
    assert fake_graph.media[await media.upload(FILES["image/png"])].mime_type == "image/png"
    uploaded = await media.upload_file(FILES["video/mp4"])
    assert (uploaded.mime_type, uploaded.kind, uploaded.filename) == (
        "video/mp4",
        "video",
        "upload.mp4",
    )
    with pytest.raises(MediaError, match="pass mime_type="):
        await media.upload(b"plain bytes of no known format")


@contextlib.contextmanager
def pipe_of(data: bytes) -> Iterator[BinaryIO]:
    """The read end of a pipe that a thread fills with ``data`` (a file that cannot seek)."""
    read_end, write_end = os.pipe()

    def fill() -> None:
        with os.fdopen(write_end, "wb") as writer, contextlib.suppress(BrokenPipeError):
            writer.write(data)

    thread = threading.Thread(target=fill)
    thread.start()
    with os.fdopen(read_end, "rb") as reader:
        yield reader
    thread.join(5)


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space or memory to make."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


@pytest.mark.parametrize(
    ("mime", "size", "limit"),
    [
        ("image/jpeg", 5_000_001, "5 MB"),
        ("image/png", 5_000_001, "5 MB"),
        ("audio/mpeg", 16_000_001, "16 MB"),
        ("video/mp4", 16_000_001, "16 MB"),
        ("application/pdf", 100_000_001, "100 MB"),
        ("image/webp", 100_001, "100 KB"),
    ],
)
async def test_limits_refused_before_any_request(
    media: wahost_media.Media,
    fake_graph: FakeGraph,
    tmp_path: Path,
    mime: str,
    size: int,
    limit: str,
) -> None:
    path = sparse_file(tmp_path / "big", size)
    with pytest.raises(MediaLimitError, match=f"at most {limit}") as caught:
        await media.upload(path, mime)
    assert caught.value.size == size
    assert fake_graph.requests == []


async def test_animated_sticker_limit_and_unsupported_types_refused_before_any_request(
    media: wahost_media.Media, fake_graph: FakeGraph
) -> None:
    animated = animated_webp_head() + bytes(300_000)
    media_id = await media.upload(animated, "image/webp")  # under 500 KB: accepted
    assert fake_graph.media[media_id].data == animated
    fake_graph.requests.clear()
    with pytest.raises(MediaLimitError, match=r"animated sticker .* 500 KB"):
        await media.upload(animated + bytes(200_001), "image/webp")
    with pytest.raises(MediaLimitError, match="not supported"):
        await media.upload(b"GIF89a", "image/gif")
    with pytest.raises(MediaLimitError, match="a sticker must be one of"):
        await media.upload(FILES["image/png"], "image/png", kind="sticker")
    with pipe_of(bytes(600_000)) as pipe, pytest.raises(MediaLimitError, match="100 KB"):
        await media.upload(pipe, "image/webp")  # read one byte past the limit, no further
    assert fake_graph.requests == []


async def test_not_a_file(media: wahost_media.Media) -> None:
    with pytest.raises(TypeError, match="bytes, a path or a binary file"):
        await media.upload(12345, "image/png")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary file"):
        await media.upload(io.StringIO("text"), "text/plain")  # type: ignore[arg-type]


async def test_info_and_delete(media: wahost_media.Media, fake_graph: FakeGraph) -> None:
    data = FILES["image/png"]
    media_id = await media.upload(data, "image/png")
    info = await media.info(media_id)
    assert info.id == media_id
    assert info.mime_type == "image/png"
    assert info.file_size == len(data)
    assert info.sha256 == fake_graph.media[media_id].sha256
    assert info.url.startswith(fake_graph.url)
    await media.delete(media_id)
    assert media_id in fake_graph.deleted_media
    with pytest.raises(GraphError) as caught:
        await media.info(media_id)
    assert caught.value.code == 100
    with pytest.raises(GraphError):
        await media.delete(media_id)


async def test_reuse_uploads_the_same_content_once(
    media: wahost_media.Media, fake_graph: FakeGraph
) -> None:
    data = FILES["image/jpeg"]
    first = await media.upload(data, "image/jpeg", reuse=True)
    again = await media.upload_file(io.BytesIO(data), "image/jpeg", reuse=True)
    assert again.media_id == first and again.reused
    assert len(fake_graph.media) == 1
    # Other content, or the same bytes as another type, is another upload.
    assert await media.upload(data[:-1] + b"!", "image/jpeg", reuse=True) != first
    assert await media.upload(data, "image/jpeg") != first  # reuse is opt-in
    # A deleted id is forgotten.
    await media.delete(first)
    assert await media.upload(data, "image/jpeg", reuse=True) != first
