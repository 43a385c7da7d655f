"""``[plugins.media]``: inbound auto-download and the upload cache."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from wahost_media.cache import DEFAULT_TTL, MEDIA_LIFETIME

__all__ = ["MediaConfig"]


class MediaConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.media]``."""

    auto_download: Annotated[
        list[Literal["image", "audio", "video", "document", "sticker"]],
        Meta(
            description="Inbound media types downloaded before other plugins see the "
            "message; the path is then wahost_media.local_path(ctx). Empty: none."
        ),
    ] = []
    dir: Annotated[
        str,
        Meta(
            min_length=1,
            description="Directory of downloaded inbound media, files named by their SHA-256. "
            "A relative path is relative to the working directory of the process.",
        ),
    ] = "var/media"
    max_bytes: Annotated[
        Annotated[int, Meta(gt=0)] | None,
        Meta(
            description="Inbound media larger than this is not downloaded (logged); unset "
            "means no limit of our own (Meta's is 100 MB)."
        ),
    ] = None
    upload_cache: Annotated[
        bool,
        Meta(description="Reuse the media id of content already uploaded (reply_media)."),
    ] = True
    upload_cache_ttl: Annotated[
        float,
        Meta(
            gt=0,
            le=MEDIA_LIFETIME,
            description="Seconds a cached media id is reused; Meta keeps uploaded media 30 days.",
        ),
    ] = DEFAULT_TTL
