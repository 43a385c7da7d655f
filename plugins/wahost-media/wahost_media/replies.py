"""Sending a file from a handler: upload it (once per content), then send it by media id.

::

    @hookimpl
    async def on_message(message, ctx):
        if message.type == "text" and message.text.body == "chart":
            await wahost_media.reply_media(ctx, "var/chart.png", caption="Today")
            return True

The same content is uploaded once per media lifetime (the upload cache, see
:mod:`wahost_media.cache`). Sends go through ``ctx.reply`` / ``ctx.send``, so the reply outbox
applies: a unit handled again after a crash finds the media id in the cache and the send in
the outbox, and neither is made twice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost import outbound
from wahost.errors import GraphError
from wahost_media.api import for_host
from wahost_media.limits import Kind, kind_of, mime_from_name
from wahost_media.source import Source

if TYPE_CHECKING:
    from wahost import Context, Wahost
    from wahost.graph import SentMessage

__all__ = ["media_message", "reply_media", "send_media"]

#: Send errors after which a cached media id is not reused (Meta no longer knows the id, or
#: refuses the file): the retried unit uploads the content again.
_STALE_ID_CODES = frozenset({100, 131053})


def _source_name(source: Any) -> str | None:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else None


def _build(
    kind: Kind,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None,
    filename: str | None,
    voice: bool,
) -> outbound.Media:
    if caption is not None and kind in ("audio", "sticker"):
        raise ValueError(f"a {kind} takes no caption")
    if kind == "image":
        return outbound.Image(id=media_id, link=link, caption=caption)
    if kind == "video":
        return outbound.Video(id=media_id, link=link, caption=caption)
    if kind == "audio":
        return outbound.Audio(id=media_id, link=link, voice=voice)
    if kind == "sticker":
        return outbound.Sticker(id=media_id, link=link)
    return outbound.Document(id=media_id, link=link, caption=caption, filename=filename)


async def media_message(
    host: Wahost,
    source: Source,
    *,
    kind: Kind | None = None,
    caption: str | None = None,
    mime_type: str | None = None,
    filename: str | None = None,
    voice: bool = False,
    phone_number_id: str | None = None,
) -> outbound.Media:
    """An outbound media message for ``source``: bytes, a path or a binary file is uploaded
    (reusing the cached id of the same content when ``[plugins.media] upload_cache`` is on);
    an ``https://`` URL is sent as a link (Meta fetches it). ``kind`` defaults to the kind of
    the MIME type (``image/webp`` is a sticker); a document's ``filename`` defaults to the
    path's name."""
    media = for_host(host)
    name = filename or _source_name(source)
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        guessed = mime_type or mime_from_name(source.split("?", 1)[0])
        if kind is None and guessed is None:
            raise ValueError(f"cannot tell the kind of media at {source!r}; pass kind=")
        chosen = kind or kind_of(guessed or "")
        return _build(chosen, link=source, caption=caption, filename=filename, voice=voice)
    uploaded = await media.upload_file(
        source,
        mime_type,
        filename,
        kind=kind,
        reuse=media.settings.upload_cache,
        phone_number_id=phone_number_id,
    )
    return _build(
        uploaded.kind,
        media_id=uploaded.media_id,
        caption=caption,
        filename=filename or name or uploaded.filename,
        voice=voice,
    )


async def send_media(
    ctx: Context,
    to: str,
    source: Source,
    kind: Kind | None = None,
    caption: str | None = None,
    mime_type: str | None = None,
    filename: str | None = None,
    *,
    voice: bool = False,
    reply_to: str | None = None,
    tracker: Any = None,
) -> SentMessage:
    """Upload ``source`` and send it to ``to`` with ``ctx.send`` (any user, from the unit's
    phone number). See :func:`media_message` for the options."""
    message = await media_message(
        ctx.host,
        source,
        kind=kind,
        caption=caption,
        mime_type=mime_type,
        filename=filename,
        voice=voice,
        phone_number_id=ctx.phone_number_id,
    )
    return await _sent(ctx, message, ctx.send(to, message, reply_to=reply_to, tracker=tracker))


async def reply_media(
    ctx: Context,
    source: Source,
    kind: Kind | None = None,
    caption: str | None = None,
    mime_type: str | None = None,
    filename: str | None = None,
    *,
    voice: bool = False,
    quote: bool = False,
    tracker: Any = None,
) -> SentMessage:
    """Upload ``source`` (a path, bytes or a binary file; an https URL is sent as a link) and
    reply with it to the unit's user. ``quote=True`` shows it as a reply to the inbound
    message. See :func:`media_message`."""
    message = await media_message(
        ctx.host,
        source,
        kind=kind,
        caption=caption,
        mime_type=mime_type,
        filename=filename,
        voice=voice,
        phone_number_id=ctx.phone_number_id,
    )
    return await _sent(ctx, message, ctx.reply(message, quote=quote, tracker=tracker))


async def _sent(ctx: Context, message: outbound.Media, sending: Any) -> SentMessage:
    try:
        sent: SentMessage = await sending
    except GraphError as exc:
        if message.id is not None and exc.code in _STALE_ID_CODES:
            await for_host(ctx.host).forget(message.id)
        raise
    return sent
