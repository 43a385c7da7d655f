"""Local files in ``ctx.reply`` / ``ctx.send``: ``image=Path("chart.png")`` or ``image=b"..."``
is uploaded first, then sent by its media id.

Uploading is wahost-media's (a plugin, not a dependency of the core), imported by name when a
file is sent: without it the send raises :class:`MediaPluginMissing` before any request. The
upload goes through wahost-media's upload cache (``[plugins.media] upload_cache``, on by
default), so a unit handled again, or a dialogue's handler run again, finds the same media id
instead of uploading the file again. A ``str`` stays what it was (a media id or an https link):
a string that looks like a file's path is refused as before, saying to pass a ``Path``.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from wahost.errors import MediaPluginMissing as MediaPluginMissing

if TYPE_CHECKING:
    from wahost.host import Wahost

__all__ = ["MEDIA_KEYWORDS", "MediaPluginMissing", "is_local", "resolve"]

MEDIA_KEYWORDS = ("image", "video", "audio", "document", "sticker")
#: The keywords that go with a media keyword, handed to the upload's message.
_OPTIONS = ("caption", "filename", "voice")


def is_local(value: object) -> bool:
    """Whether ``value`` is a file to upload: a path object or bytes (a ``str`` is an id or a
    link)."""
    return isinstance(value, os.PathLike | bytes | bytearray | memoryview)


async def resolve(
    host: Wahost, message: Any, kwargs: dict[str, Any], phone_number_id: str
) -> tuple[Any, dict[str, Any]]:
    """``(message, kwargs)`` with a local file of a media keyword uploaded and replaced by the
    media message that sends it; unchanged when there is none."""
    if message is not None:
        return message, kwargs
    # Runs before every send: look only at the media keywords that were given.
    local = [key for key in MEDIA_KEYWORDS if key in kwargs and is_local(kwargs[key])]
    if not local:
        return message, kwargs
    kind = local[0]
    rest = dict(kwargs)
    source = rest.pop(kind)
    try:
        wahost_media = importlib.import_module("wahost_media")
    except ImportError:
        raise MediaPluginMissing(
            f"{kind}= is a local file: sending it needs wahost-media to upload it "
            "(pip install wahost-media; from a checkout: pip install -e plugins/wahost-media), "
            "or give a media id or an https link"
        ) from None
    options = {name: rest.pop(name) for name in _OPTIONS if name in rest}
    built = await wahost_media.media_message(
        host, source, kind=kind, phone_number_id=phone_number_id, **options
    )
    return built, rest
