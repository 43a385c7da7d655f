"""What can be uploaded: bytes, a path, or a binary file-like object.

:func:`open_source` turns any of them into an :class:`UploadSource`: a seekable binary file
with its size and first bytes known, without reading a path or a seekable file into memory.
A file that cannot seek (a pipe) is spooled to a temporary file, reading at most one byte past
the largest size that could be accepted. Everything here blocks: call it in a thread.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias

__all__ = ["Source", "UploadSource", "open_source"]

#: Bytes, a path, or a binary file-like object (read from its start when it can seek).
Source: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]"

_HEAD = 64
_CHUNK = 1024 * 1024


@dataclass
class UploadSource:
    """An opened source: ``file`` is seekable and read from offset 0."""

    file: IO[bytes]
    size: int
    head: bytes
    #: A name for the multipart part: the given one, else the path's or file's base name.
    name: str | None
    #: Whether :meth:`close` closes ``file`` (we opened it).
    owned: bool = True
    _sha256: str | None = field(default=None, repr=False)

    def sha256(self) -> str:
        """The hex SHA-256 of the content, read in chunks (computed once)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            self.file.seek(0)
            while chunk := self.file.read(_CHUNK):
                digest.update(chunk)
            self.file.seek(0)
            self._sha256 = digest.hexdigest()
        return self._sha256

    def close(self) -> None:
        if self.owned:
            self.file.close()


def _base_name(name: Any) -> str | None:
    if not isinstance(name, str | os.PathLike):
        return None
    base = Path(os.fspath(name)).name
    return base or None


def open_source(source: Any, *, spool_limit: int) -> UploadSource:
    """Open ``source`` for uploading; ``spool_limit`` bounds what is read from a file that
    cannot seek (reading stops one byte past it, so the size check still fails)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return UploadSource(io.BytesIO(data), len(data), data[:_HEAD], None)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        file = path.open("rb")
        try:
            size = os.fstat(file.fileno()).st_size
            head = file.read(_HEAD)
            file.seek(0)
        except BaseException:
            file.close()
            raise
        return UploadSource(file, size, head, path.name)
    if not hasattr(source, "read"):
        raise TypeError(
            f"media to upload must be bytes, a path or a binary file, not {type(source).__name__}"
        )
    name = _base_name(getattr(source, "name", None))
    seekable = getattr(source, "seekable", None)
    if callable(seekable) and seekable():
        source.seek(0, io.SEEK_END)
        size = source.tell()
        source.seek(0)
        head = source.read(_HEAD)
        if not isinstance(head, bytes):
            raise TypeError("media to upload must be a binary file (opened with 'rb')")
        source.seek(0)
        return UploadSource(source, size, head, name, owned=False)
    spool = tempfile.SpooledTemporaryFile(max_size=_CHUNK)  # noqa: SIM115 (returned open)
    try:
        size = 0
        while size <= spool_limit:
            chunk = source.read(min(_CHUNK, spool_limit + 1 - size))
            if not chunk:
                break
            if not isinstance(chunk, bytes | bytearray):
                raise TypeError("media to upload must be a binary file (opened with 'rb')")
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        head = spool.read(_HEAD)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return UploadSource(spool, size, head, name)
