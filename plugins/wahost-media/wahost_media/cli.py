"""``wahost media ...``: upload, download, inspect and delete media from the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from wahost.cli_options import config_option
from wahost.config import ConfigError, load_config
from wahost.logs import configure_logging
from wahost_media.api import Media, for_host

__all__ = ["media_group"]

T = TypeVar("T")


def _with_media(config_path: Path, action: Callable[[Media], Awaitable[T]]) -> T:
    """Run ``action`` with the media API of a started host of ``config_path``; errors are
    printed as one line, not a traceback."""
    from wahost.host import Wahost

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(
        level=config.logging.level, format=config.logging.format, secrets=config.secrets()
    )

    async def run() -> T:
        async with Wahost(config) as host:
            return await action(for_host(host))

    try:
        return asyncio.run(run())
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


@click.group("media")
def media_group() -> None:
    """Upload, download, inspect and delete WhatsApp media (wahost-media)."""


@media_group.command("upload")
@config_option
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mime-type", default=None, help="The MIME type (default: from the file).")
@click.option("--filename", default=None, help="The name sent with the file.")
def upload(config_path: Path, path: Path, mime_type: str | None, filename: str | None) -> None:
    """Upload the file at PATH and print its media id (valid 30 days)."""
    media_id = _with_media(config_path, lambda media: media.upload(path, mime_type, filename))
    click.echo(media_id)


@media_group.command("download")
@config_option
@click.argument("media_id")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--max-bytes", type=click.IntRange(min=1), default=None, help="Refuse larger files.")
def download(config_path: Path, media_id: str, out: Path, max_bytes: int | None) -> None:
    """Download MEDIA_ID to OUT (a file, or a directory for a name by content hash), checking
    its SHA-256; print the path written."""
    path = _with_media(
        config_path, lambda media: media.download(media_id, out, max_bytes=max_bytes)
    )
    click.echo(str(path))


@media_group.command("info")
@config_option
@click.argument("media_id")
def info(config_path: Path, media_id: str) -> None:
    """Print the URL (valid 5 minutes), MIME type, SHA-256 and size of MEDIA_ID as JSON."""
    result = _with_media(config_path, lambda media: media.info(media_id))
    fields = ("id", "url", "mime_type", "sha256", "file_size")
    click.echo(json.dumps({name: getattr(result, name) for name in fields}, indent=2))


@media_group.command("delete")
@config_option
@click.argument("media_id")
def delete(config_path: Path, media_id: str) -> None:
    """Delete uploaded media MEDIA_ID."""
    _with_media(config_path, lambda media: media.delete(media_id))
    click.echo(f"deleted {media_id}")
