"""Inbound media: downloaded before the other plugins see the message.

With ``[plugins.media] auto_download = ["image", ...]``, the ``before_message`` implementation
of this plugin downloads the media of those message types into ``dir`` and puts the path in
``ctx.extras["media.path"]`` (read it with :func:`local_path`) before any ``on_message``
implementation runs. Files are named by the SHA-256 of their content, so a redelivered message
finds its file and downloads nothing. A failed download raises: the core retries the unit.
Media over ``max_bytes`` is not downloaded; that is logged and
``ctx.extras["media.skipped"]`` says ``"too_large"``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost_media.api import for_host
from wahost_media.download import content_name, digest_of
from wahost_media.errors import MediaError, MediaTooLargeError

if TYPE_CHECKING:
    from wahost import Context, Message, Wahost
    from wahost_media.config import MediaConfig

__all__ = ["PATH_KEY", "SKIPPED_KEY", "fetch_inbound", "local_path", "media_object"]

#: ``ctx.extras`` keys this plugin sets.
PATH_KEY = "media.path"
SKIPPED_KEY = "media.skipped"

_MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def local_path(ctx: Context) -> Path | None:
    """The path of the downloaded media of the message being handled, or ``None`` (not a
    media message, its type not in ``auto_download``, or over ``max_bytes``)."""
    path = ctx.extras.get(PATH_KEY)
    return path if isinstance(path, Path) else None


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
        ctx.extras[PATH_KEY] = existing
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
        ctx.extras[SKIPPED_KEY] = "too_large"
        return None
    ctx.log.info(
        "inbound media downloaded",
        media_id=obj.id,
        media_type=message.type,
        path=str(downloaded.path),
        size=downloaded.size,
    )
    ctx.extras[PATH_KEY] = downloaded.path
    return downloaded.path
