"""Inbound media: downloaded before the other plugins see the message.

With ``[plugins.media] auto_download = ["image", ...]``, the ``before_message`` implementation
of this plugin downloads the media of those message types into ``dir`` and puts the path in
the slot :data:`MEDIA_PATH` of ``ctx.slots`` (read it with :func:`local_path`) before any
``on_message`` implementation runs. Files are named by the SHA-256 of their content, so a
redelivered message finds its file and downloads nothing. A failed download raises: the core
retries the unit. Media over ``max_bytes`` is not downloaded; that is logged and the slot
:data:`MEDIA_SKIPPED` says ``"too_large"``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost.deprecation import moved_names
from wahost.slots import SlotKey
from wahost_media.api import for_host
from wahost_media.download import content_name, digest_of
from wahost_media.errors import MediaError, MediaTooLargeError

if TYPE_CHECKING:
    from wahost import Context, Message, Wahost
    from wahost_media.config import MediaConfig

__all__ = ["MEDIA_PATH", "MEDIA_SKIPPED", "fetch_inbound", "local_path", "media_object"]

#: The slot of ``ctx.slots`` holding the path of the message's downloaded media.
MEDIA_PATH: SlotKey[Path] = SlotKey("media.path")
#: The slot of ``ctx.slots`` saying why the message's media was not downloaded
#: (``"too_large"``).
MEDIA_SKIPPED: SlotKey[str] = SlotKey("media.skipped")

#: ``PATH_KEY`` and ``SKIPPED_KEY`` until the next minor release.
__getattr__ = moved_names(
    __name__,
    {
        "PATH_KEY": "wahost_media.inbound.MEDIA_PATH",
        "SKIPPED_KEY": "wahost_media.inbound.MEDIA_SKIPPED",
    },
)

_MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def local_path(ctx: Context) -> Path | None:
    """The path of the downloaded media of the message being handled, or ``None`` (not a
    media message, its type not in ``auto_download``, or over ``max_bytes``)."""
    return ctx.slots.get(MEDIA_PATH)


def media_object(message: Message) -> Any:
    """The media object (``message.image``, ...) of a media message, else ``None``."""
    if message.type not in _MEDIA_TYPES:
        return None
    return getattr(message, message.type, None)


def _existing(directory: Path, sha256: str | None, mime_type: str | None) -> Path | None:
    if not sha256:
        return None
    try:
        name = content_name(digest_of(sha256).hex(), mime_type)
    except MediaError:
        return None
    path = directory / name
    return path if path.is_file() else None


async def fetch_inbound(
    host: Wahost, message: Message, ctx: Context, settings: MediaConfig
) -> Path | None:
    """Download the media of ``message`` if its type is in ``auto_download``; see the module
    documentation."""
    if message.type not in settings.auto_download:
        return None
    obj = media_object(message)
    if obj is None or not obj.id:
        return None
    directory = Path(settings.dir)
    existing = await asyncio.to_thread(_existing, directory, obj.sha256, obj.mime_type)
    if existing is not None:
        ctx.log.debug("inbound media already downloaded", path=str(existing))
        ctx.slots[MEDIA_PATH] = existing
        return existing
    try:
        downloaded = await for_host(host).fetch(
            obj.id,
            directory,
            content_addressed=True,
            url=obj.url,
            sha256=obj.sha256,
            max_bytes=settings.max_bytes,
            mime_type=obj.mime_type,
        )
    except MediaTooLargeError as exc:
        ctx.log.warning(
            "inbound media not downloaded: over max_bytes",
            media_id=obj.id,
            media_type=message.type,
            size=exc.size,
            max_bytes=exc.limit,
        )
        ctx.slots[MEDIA_SKIPPED] = "too_large"
        return None
    ctx.log.info(
        "inbound media downloaded",
        media_id=obj.id,
        media_type=message.type,
        path=str(downloaded.path),
        size=downloaded.size,
    )
    ctx.slots[MEDIA_PATH] = downloaded.path
    return downloaded.path
