"""Meta's media kinds: supported MIME types, size limits, file extensions.

From reference/cloudapi.md §8: audio (AAC, AMR, MP3, M4A, OGG with OPUS) 16 MB; documents
(txt, xls, xlsx, doc, docx, ppt, pptx, pdf) 100 MB; images (JPEG, PNG) 5 MB; stickers (WebP)
100 KB static, 500 KB animated; video (MP4, 3GPP) 16 MB.

Meta does not say whether its "MB" is 10**6 or 2**20 bytes. wahost reads it as 10**6 (and KB
as 10**3): the stricter reading, so a file accepted here is never refused by Meta for its
size; a file between the two readings gets a clear error here instead of a failed send.
"""

from __future__ import annotations

from typing import Literal

from wahost_media.errors import MediaLimitError

__all__ = [
    "KINDS",
    "LIMITS",
    "MIME_TYPES",
    "Kind",
    "base_type",
    "check_upload",
    "extension_for",
    "is_animated_webp",
    "kind_of",
    "mime_from_name",
    "size_limit",
    "sniff_mime",
]

Kind = Literal["image", "audio", "video", "document", "sticker"]
KINDS: tuple[Kind, ...] = ("image", "audio", "video", "document", "sticker")

KB = 1000
MB = 1000 * KB

#: The MIME types Meta accepts for each kind (parameters such as ``; codecs=opus`` aside).
MIME_TYPES: dict[Kind, frozenset[str]] = {
    "image": frozenset({"image/jpeg", "image/png"}),
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "document": frozenset(
        {
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
    "sticker": frozenset({"image/webp"}),
}

#: Size limits in bytes; stickers have two (static, animated).
LIMITS: dict[str, int] = {
    "image": 5 * MB,
    "audio": 16 * MB,
    "video": 16 * MB,
    "document": 100 * MB,
    "sticker": 100 * KB,
    "sticker (animated)": 500 * KB,
}

_KIND_OF: dict[str, Kind] = {mime: kind for kind, mimes in MIME_TYPES.items() for mime in mimes}

#: File name extensions, both ways. Names we write are built from this table only, never from
#: a name that came over the network.
_BY_EXTENSION: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".aac": "audio/aac",
    ".amr": "audio/amr",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp4": "video/mp4",
    ".3gp": "video/3gpp",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_EXTENSION_OF: dict[str, str] = {}
for _ext, _mime in _BY_EXTENSION.items():
    _EXTENSION_OF.setdefault(_mime, _ext)


def base_type(mime_type: str) -> str:
    """``"audio/ogg; codecs=opus"`` -> ``"audio/ogg"`` (lower case, parameters dropped)."""
    return mime_type.split(";", 1)[0].strip().lower()


def kind_of(mime_type: str) -> Kind:
    """The media kind a MIME type is sent as; :class:`MediaLimitError` if Meta does not
    support it."""
    kind = _KIND_OF.get(base_type(mime_type))
    if kind is None:
        supported = ", ".join(sorted(_KIND_OF))
        raise MediaLimitError(
            f"MIME type {mime_type!r} is not supported by WhatsApp (supported: {supported})",
            mime_type=mime_type,
        )
    return kind


def size_limit(kind: Kind, *, animated: bool = False) -> int:
    """Meta's size limit in bytes for ``kind`` (an animated sticker has its own)."""
    if kind == "sticker" and animated:
        return LIMITS["sticker (animated)"]
    return LIMITS[kind]


def check_upload(
    mime_type: str, size: int, *, kind: Kind | None = None, animated: bool = False
) -> Kind:
    """Check a file against Meta's rules before uploading it; returns its kind.

    ``kind``, when given, must be the kind of ``mime_type``. Raises :class:`MediaLimitError`
    naming the limit.
    """
    actual = kind_of(mime_type)
    if kind is not None and kind != actual:
        allowed = ", ".join(sorted(MIME_TYPES[kind])) if kind in MIME_TYPES else "none"
        raise MediaLimitError(
            f"a {kind} must be one of {allowed}, not {mime_type!r}",
            kind=kind,
            mime_type=mime_type,
        )
    limit = size_limit(actual, animated=animated)
    if size > limit:
        label = "animated sticker" if actual == "sticker" and animated else actual
        raise MediaLimitError(
            f"{label} is {size:,} bytes; WhatsApp accepts at most {_human(limit)} "
            f"({limit:,} bytes) for a {label}",
            kind=actual,
            mime_type=mime_type,
            size=size,
            limit=limit,
        )
    return actual


def _human(size: int) -> str:
    return f"{size // MB} MB" if size >= MB else f"{size // KB} KB"


def mime_from_name(name: str) -> str | None:
    """The MIME type of a file name's extension, among the types Meta supports."""
    dot = name.rfind(".")
    return _BY_EXTENSION.get(name[dot:].lower()) if dot >= 0 else None


def extension_for(mime_type: str | None) -> str:
    """The extension for files of ``mime_type`` (``".bin"`` when unknown)."""
    return _EXTENSION_OF.get(base_type(mime_type or ""), ".bin")


def is_animated_webp(head: bytes) -> bool:
    """Whether the first bytes of a WebP file announce an animation (``VP8X`` chunk with the
    animation flag)."""
    return (
        len(head) >= 21
        and head[:4] == b"RIFF"
        and head[8:12] == b"WEBP"
        and head[12:16] == b"VP8X"
        and bool(head[20] & 0x02)
    )


def sniff_mime(head: bytes) -> str | None:
    """The MIME type told by a file's first bytes, for the formats Meta supports that have a
    signature (not text or the Office formats)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    return None
