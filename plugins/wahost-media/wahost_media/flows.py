"""Flows media (PhotoPicker, DocumentPicker): fetched and decrypted by wahost-flows, written
to disk here.

The CDN file of a Flow's media is encrypted (AES-256-CBC with an HMAC-SHA256 tag,
reference/cloudapi.md §10). That code belongs to ``wahost-flows``
(``wahost_flows.media``); this module imports it lazily, so wahost-media works without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from wahost_media.errors import FlowsNotInstalledError
from wahost_media.limits import extension_for, mime_from_name

if TYPE_CHECKING:
    from wahost import Wahost

__all__ = ["download_flow_media", "flows_media"]


def flows_media() -> ModuleType:
    """``wahost_flows.media``, or :class:`FlowsNotInstalledError`."""
    try:
        return importlib.import_module("wahost_flows.media")
    except ImportError as exc:
        raise FlowsNotInstalledError(
            "Flows media needs the wahost-flows plugin: pip install 'wahost-media[flows]'"
        ) from exc


def _file_name(item: Any) -> str | None:
    name = item.get("file_name") if isinstance(item, dict) else getattr(item, "file_name", None)
    return name if isinstance(name, str) else None


def _write(data: bytes, dest: Path, extension: str) -> Path:
    directory = dest if dest.is_dir() else dest.parent
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{hashlib.sha256(data).hexdigest()}{extension}" if dest.is_dir() else dest
    fd, name = tempfile.mkstemp(dir=directory, prefix=".wahost-media-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, final)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return final


async def download_flow_media(host: Wahost, item: Any, dest: Path, **options: Any) -> Path:
    """Fetch, verify and decrypt one picker item with wahost-flows
    (``wahost_flows.media.download_flow_media(host, item, **options)``: ``max_bytes``,
    ``require_https``), then write the plaintext to ``dest`` (a file, or a directory: named by
    its SHA-256 and the extension of the item's ``file_name`` when it is a supported type).
    Errors of wahost-flows (``FlowMediaError``) propagate."""
    module = flows_media()
    data = await module.download_flow_media(host, item, **options)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"wahost_flows.media.download_flow_media returned {type(data).__name__}")
    name = _file_name(item)
    extension = extension_for(mime_from_name(name)) if name else ".bin"
    return await asyncio.to_thread(_write, bytes(data), dest, extension)
