"""Local checks of the account plane's inputs: a bad value raises ``ValueError`` naming the
argument before any request, as the outbound builders do (:mod:`wahost.outbound.base`)."""

from __future__ import annotations

from collections.abc import Sequence


def text(value: str, name: str, limit: int, *, allow_empty: bool = False) -> str:
    """``value`` trimmed (Meta trims subjects), checked for type, emptiness and length."""
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be a string (got {type(value).__name__})")
    trimmed = value.strip()
    if not trimmed and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    if len(trimmed) > limit:
        raise ValueError(f"{name}: at most {limit} characters (got {len(trimmed)})")
    return trimmed


def ids(values: Sequence[str], name: str, limit: int) -> list[str]:
    """A non-empty list of at most ``limit`` non-empty strings, without duplicates."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name}: must be a list of strings")
    items = [str(v).strip() for v in values]
    if not items:
        raise ValueError(f"{name}: at least 1 needed (got 0)")
    if len(items) > limit:
        raise ValueError(f"{name}: at most {limit} per request (got {len(items)})")
    for index, item in enumerate(items):
        if not item:
            raise ValueError(f"{name}[{index}]: must not be empty")
    duplicates = sorted({i for i in items if items.count(i) > 1})
    if duplicates:
        raise ValueError(f"{name}: listed twice: {', '.join(duplicates)}")
    return items


def page_limit(limit: int, name: str, high: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= high:
        raise ValueError(f"{name}: must be 1 to {high} (got {limit!r})")
    return limit


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The ``(width, height)`` of a JPEG from its frame header, ``None`` when ``data`` is
    not a JPEG whose header can be read."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        # SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        at += 2 + length
    return None
