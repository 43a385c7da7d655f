"""wahost-media: WhatsApp media for wahost bots.

* :class:`Media` / :func:`for_host` — ``upload``, ``info``, ``download`` (streamed to disk,
  SHA-256 checked, expired URLs fetched again), ``delete``, ``download_flow_media``.
* :func:`reply_media` / :func:`send_media` — send a path or bytes from a handler: uploaded
  once per content and media lifetime, then sent by id.
* Inbound auto-download (``[plugins.media] auto_download``) before other plugins see the
  message; :func:`local_path` gives the file.
* ``wahost media upload|download|info|delete``.

This module is the plugin: its hook implementations are below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wahost import hookimpl
from wahost_media.api import Media, MediaInfo, Uploaded, for_host
from wahost_media.config import MediaConfig
from wahost_media.download import Downloaded
from wahost_media.errors import (
    ChecksumMismatchError,
    FlowsNotInstalledError,
    MediaError,
    MediaLimitError,
    MediaTooLargeError,
)
from wahost_media.inbound import fetch_inbound, local_path
from wahost_media.limits import LIMITS, MIME_TYPES, check_upload
from wahost_media.replies import media_message, reply_media, send_media

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from pathlib import Path

    import click

    from wahost import Context, Message, Wahost

__all__ = [
    "LIMITS",
    "MIME_TYPES",
    "ChecksumMismatchError",
    "Downloaded",
    "FlowsNotInstalledError",
    "Media",
    "MediaConfig",
    "MediaError",
    "MediaInfo",
    "MediaLimitError",
    "MediaTooLargeError",
    "Uploaded",
    "check_upload",
    "for_host",
    "local_path",
    "media_message",
    "reply_media",
    "send_media",
]


@hookimpl
def wahost_config_schema() -> dict[str, Any]:
    return {"media": MediaConfig}


@hookimpl
async def wahost_startup(host: Wahost) -> None:
    import asyncio
    from pathlib import Path

    settings = host.plugin_config("media", MediaConfig)
    if settings.auto_download:
        # Fail at start-up, not on the first image, when the directory cannot be created.
        await asyncio.to_thread(Path(settings.dir).mkdir, parents=True, exist_ok=True)
    else:
        host.dispatch.skip(before_message)  # no type is downloaded: nothing to do a message


@hookimpl
def before_message(
    host: Wahost, message: Message, ctx: Context
) -> Coroutine[Any, Any, Path | None] | None:
    # Middleware: the handlers of on_message find the downloaded file's path. A plain
    # function, returning the download's coroutine only for a type that is downloaded:
    # every other message (a text) then costs no coroutine at all.
    settings = host.plugin_config("media", MediaConfig)
    if message.type not in settings.auto_download:
        return None
    return fetch_inbound(host, message, ctx, settings)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_media.cli import media_group

    cli.add_command(media_group)
