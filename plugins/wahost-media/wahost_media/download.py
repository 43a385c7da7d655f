"""Streaming a media URL to disk: chunk by chunk, checked, renamed into place atomically.

The body is written to a temporary file next to its destination while its SHA-256 is
computed; only when the hash matches the one Meta gave (and the size stayed within the
allowed maximum) is the file flushed and renamed to its final name. A failure leaves nothing
behind. Memory use stays at about one write buffer (:data:`WRITE_BUFFER`) whatever the size.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import httpx

from wahost.errors import TransportError
from wahost_media.errors import ChecksumMismatchError, MediaError, MediaTooLargeError
from wahost_media.limits import extension_for

if TYPE_CHECKING:
    from wahost.graph import GraphClient

__all__ = ["WRITE_BUFFER", "Downloaded", "content_name", "digest_of", "stream_to_file"]

#: Bytes gathered before one write to disk (written in a thread, off the event loop).
WRITE_BUFFER = 1024 * 1024

_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Downloaded:
    """A file written by a download: where, how big, its hashes and announced type."""

    path: Path
    size: int
    #: SHA-256 of the content, hex.
    sha256_hex: str
    mime_type: str | None

    @property
    def sha256(self) -> str:
        """SHA-256 of the content in base64, as Meta writes it."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


def digest_of(sha256: str) -> bytes:
    """The 32 raw bytes of a SHA-256 given in base64 (Meta's form) or in hex."""
    text = sha256.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    standard = text.replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise MediaError(f"cannot read the SHA-256 {sha256!r} (expected base64 or hex)")
    return raw


def content_name(sha256_hex: str, mime_type: str | None) -> str:
    """The file name of content-addressed media: its hex SHA-256 and an extension from a
    fixed table (never a name from the network)."""
    return f"{sha256_hex.lower()}{extension_for(mime_type)}"


def _open_temp(directory: Path) -> tuple[BinaryIO, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".wahost-media-", suffix=".part")
    return os.fdopen(fd, "wb"), Path(name)


def _finish(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


def _discard(file: BinaryIO, path: Path) -> None:
    file.close()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _check_announced(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise MediaTooLargeError(
            f"media is {size:,} bytes, over the limit of {max_bytes:,}", size=size, limit=max_bytes
        )


async def _write_body(
    response: httpx.Response, file: BinaryIO, max_bytes: int | None
) -> tuple[int, bytes]:
    """Write the body to ``file`` in :data:`WRITE_BUFFER` pieces; ``(size, sha256 digest)``."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise MediaTooLargeError(
                f"media is over the limit of {max_bytes:,} bytes", size=size, limit=max_bytes
            )
        digest.update(chunk)
        buffer += chunk
        if len(buffer) >= WRITE_BUFFER:
            await asyncio.to_thread(file.write, buffer)
            buffer.clear()
    if buffer:
        await asyncio.to_thread(file.write, buffer)
    return size, digest.digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def stream_to_file(
    client: GraphClient,
    url: str,
    dest: Path,
    *,
    content_addressed: bool = False,
    sha256: str | None = None,
    max_bytes: int | None = None,
    mime_type: str | None = None,
) -> Downloaded:
    """Download ``url`` (an authenticated GET, redirects followed) to ``dest``.

    ``dest`` is the file to write, or with ``content_addressed=True`` the directory to write
    ``<sha256 hex><extension>`` into. ``sha256`` (base64 or hex) is checked when given:
    :class:`ChecksumMismatchError` on a mismatch. More than ``max_bytes`` (announced in
    ``Content-Length`` or counted) raises :class:`MediaTooLargeError`. An error status raises
    the core's :class:`~wahost.errors.GraphError` (see
    :meth:`wahost.graph.GraphClient.stream`), a network failure its
    :class:`~wahost.errors.TransportError`. A URL whose host may not get the access token
    raises :class:`~wahost.graph_guard.TokenHostError` before any request; a redirect to such
    a host is followed without the token.
    """
    expected = digest_of(sha256) if sha256 is not None else None
    try:
        response = await client.stream(url, follow_redirects=True)
    except httpx.TransportError as exc:
        raise _transport_error(exc) from exc
    except httpx.TooManyRedirects as exc:
        raise MediaError(f"downloading media failed: {exc}") from None
    try:
        announced = response.headers.get("content-length")
        if announced is not None and announced.isdigit():
            _check_announced(int(announced), max_bytes)
        mime = mime_type or response.headers.get("content-type")
        directory = dest if content_addressed else dest.parent
        file, temp = await asyncio.to_thread(_open_temp, directory)
        try:
            try:
                size, actual = await _write_body(response, file, max_bytes)
            except httpx.TransportError as exc:
                raise _transport_error(exc) from exc
            if expected is not None and actual != expected:
                raise ChecksumMismatchError(
                    f"downloaded media has SHA-256 {_b64(actual)}, Meta gave {_b64(expected)}",
                    expected=_b64(expected),
                    actual=_b64(actual),
                )
            await asyncio.to_thread(_finish, file)
            final = directory / content_name(actual.hex(), mime) if content_addressed else dest
            await asyncio.to_thread(os.replace, temp, final)
        except BaseException:
            await asyncio.to_thread(_discard, file, temp)
            raise
    finally:
        await response.aclose()
    return Downloaded(final, size, actual.hex(), mime)


def _transport_error(exc: httpx.TransportError) -> TransportError:
    # A GET changes nothing at Meta: never ambiguous.
    detail = f": {exc}" if str(exc) else ""
    return TransportError(
        f"downloading media failed: {type(exc).__name__}{detail}", ambiguous=False
    )
