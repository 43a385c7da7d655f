"""Meta's media rules, the info answer, hashes and file names, without a server."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from wahost_media import LIMITS, MediaError, MediaInfo, MediaLimitError, check_upload
from wahost_media.download import content_name, digest_of
from wahost_media.limits import (
    extension_for,
    is_animated_webp,
    kind_of,
    mime_from_name,
    sniff_mime,
)

from wahost.testing.harness import FIXTURES

#: (kind, a MIME type of it, its limit in bytes) for every limit of reference/cloudapi.md §8.
CASES = [
    ("image", "image/jpeg", 5_000_000),
    ("image", "image/png", 5_000_000),
    ("audio", "audio/ogg; codecs=opus", 16_000_000),
    ("audio", "audio/mpeg", 16_000_000),
    ("video", "video/mp4", 16_000_000),
    ("video", "video/3gpp", 16_000_000),
    ("document", "application/pdf", 100_000_000),
    ("document", "text/plain", 100_000_000),
    ("sticker", "image/webp", 100_000),
]


def animated_webp_head() -> bytes:
    """The first bytes of an animated WebP: RIFF header, VP8X chunk with the animation flag."""
    return b"RIFF" + (1000).to_bytes(4, "little") + b"WEBP" + b"VP8X" + b"\x0a\0\0\0" + b"\x02"


@pytest.mark.parametrize(("kind", "mime", "limit"), CASES)
def test_limit_boundaries(kind: str, mime: str, limit: int) -> None:
    assert check_upload(mime, limit) == kind
    with pytest.raises(MediaLimitError) as caught:
        check_upload(mime, limit + 1)
    assert caught.value.limit == limit
    assert caught.value.kind == kind
    assert f"{limit:,} bytes" in str(caught.value)
    assert kind in str(caught.value)


def test_animated_sticker_has_its_own_limit() -> None:
    assert check_upload("image/webp", 500_000, animated=True) == "sticker"
    with pytest.raises(MediaLimitError, match=r"animated sticker.*500 KB"):
        check_upload("image/webp", 500_001, animated=True)
    with pytest.raises(MediaLimitError, match="100 KB"):
        check_upload("image/webp", 100_001)
    assert LIMITS["sticker (animated)"] == 500_000
    assert is_animated_webp(animated_webp_head())
    static = animated_webp_head()[:-1] + b"\x00"
    assert not is_animated_webp(static)
    assert not is_animated_webp(b"\x89PNG\r\n\x1a\n" + bytes(20))


@pytest.mark.parametrize("mime", ["image/gif", "application/zip", "video/webm", "audio/wav", ""])
def test_unsupported_types_are_refused(mime: str) -> None:
    with pytest.raises(MediaLimitError, match="not supported"):
        check_upload(mime, 10)


def test_kind_must_match_the_type() -> None:
    with pytest.raises(MediaLimitError, match="a sticker must be one of image/webp"):
        check_upload("image/png", 10, kind="sticker")
    assert kind_of("Audio/OGG; codecs=opus") == "audio"
    assert kind_of("audio/mp4") == "audio"
    assert kind_of("video/mp4") == "video"


def test_types_from_names_and_content() -> None:
    assert mime_from_name("Chart.PNG") == "image/png"
    assert mime_from_name("report.docx") == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert mime_from_name("archive.zip") is None
    assert mime_from_name("noextension") is None
    assert sniff_mime(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_mime(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_mime(b"%PDF-1.7") == "application/pdf"
    assert sniff_mime(b"OggS\x00") == "audio/ogg"
    assert sniff_mime(animated_webp_head()) == "image/webp"
    assert sniff_mime(b"\0\0\0\x18ftypmp42") == "video/mp4"
    assert sniff_mime(b"\0\0\0\x18ftyp3gp4") == "video/3gpp"
    assert sniff_mime(b"\0\0\0\x18ftypM4A ") == "audio/mp4"
    assert sniff_mime(b"hello") is None


def test_info_tolerates_file_size_as_number_or_string() -> None:
    data = json.loads((FIXTURES / "media_info.json").read_text())
    info = MediaInfo.from_json(data)
    assert info.file_size == 303833
    assert info.mime_type == "image/jpeg"
    assert info.sha256 == "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="
    assert info.url.startswith("https://lookaside.fbsbx.com/")
    assert MediaInfo.from_json({**data, "file_size": "303833"}).file_size == 303833
    assert MediaInfo.from_json({**data, "file_size": "<FILE_SIZE>"}).file_size is None
    del data["file_size"]
    assert MediaInfo.from_json(data).file_size is None


def test_sha256_in_base64_or_hex() -> None:
    digest = hashlib.sha256(b"content").digest()
    assert digest_of(base64.b64encode(digest).decode()) == digest
    assert digest_of(base64.urlsafe_b64encode(digest).decode().rstrip("=")) == digest
    assert digest_of(digest.hex()) == digest
    assert digest_of(digest.hex().upper()) == digest
    with pytest.raises(MediaError, match="cannot read the SHA-256"):
        digest_of("not a hash")
    with pytest.raises(MediaError):
        digest_of(base64.b64encode(b"short").decode())


def test_file_names_come_from_a_fixed_table() -> None:
    hex_digest = hashlib.sha256(b"x").hexdigest()
    assert content_name(hex_digest, "image/jpeg") == f"{hex_digest}.jpg"
    assert content_name(hex_digest, "audio/ogg; codecs=opus") == f"{hex_digest}.ogg"
    assert content_name(hex_digest, "../../etc/passwd") == f"{hex_digest}.bin"
    assert content_name(hex_digest, None) == f"{hex_digest}.bin"
    assert extension_for("application/pdf") == ".pdf"
