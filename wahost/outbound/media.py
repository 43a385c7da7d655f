"""Media messages: image, video, audio, document and sticker.

Each is sent either by the id of media uploaded to Meta (``POST /<PHONE_NUMBER_ID>/media``) or by
a public http(s) link that Meta downloads; exactly one of the two (reference/cloudapi.md §6).
Meta recommends ids: a link is fetched again for each send.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from wahost.outbound.base import (
    Outbound,
    check_optional_text,
    check_text,
    check_url,
    compact,
)

__all__ = ["Audio", "Document", "Image", "Media", "Sticker", "Video"]

CAPTION_MAX = 1024
"""Captions of images, videos and documents (reference/cloudapi.md §6)."""


#: A name ending like a file's (``cat.jpg``, ``report.pdf``); Meta's media ids are digits.
_FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{1,4}$")


def looks_like_file(value: str) -> bool:
    """Whether a would-be media id is a local file's path (``photos/cat.jpg``), which Meta
    would refuse after the send was reported as made."""
    return "/" in value or "\\" in value or bool(_FILE_SUFFIX.search(value))


class Media(Outbound, frozen=True, kw_only=True):
    """The part all media messages share: ``id`` or ``link``, exactly one.

    Fields are keyword-only so that a link is never taken for an id by position.
    """

    type: ClassVar[str] = ""

    id: str | None = None
    """The id of uploaded media."""

    link: str | None = None
    """An http(s) URL of the file on a public server."""

    def _check(self, path: str) -> None:
        if (self.id is None) == (self.link is None):
            got = "both" if self.id is not None else "neither"
            raise ValueError(f"{path}: exactly one of id or link is required (got {got})")
        if self.id is not None:
            check_text(f"{path}.id", self.id)
            if "://" in self.id:
                raise ValueError(f"{path}.id: is a URL; pass it as link= (got {self.id!r})")
            if looks_like_file(self.id):
                raise ValueError(
                    f"{path}.id: {self.id!r} is a file's path, not a media id: upload the file "
                    "first and send the id it returns (wahost_media.for_host(host).upload(path) "
                    "with wahost-media), or give an https link"
                )
        else:
            check_url(f"{path}.link", self.link)

    def content(self) -> dict[str, Any]:
        return compact(id=self.id, link=self.link)


class Image(Media, frozen=True, kw_only=True):
    """An image (JPEG or PNG) with an optional caption."""

    type: ClassVar[str] = "image"

    caption: str | None = None
    """Up to 1024 characters."""

    def _check(self, path: str) -> None:
        super()._check(path)
        check_optional_text(f"{path}.caption", self.caption, CAPTION_MAX)

    def content(self) -> dict[str, Any]:
        return compact(**super().content(), caption=self.caption)


class Video(Media, frozen=True, kw_only=True):
    """A video (MP4 or 3GPP) with an optional caption."""

    type: ClassVar[str] = "video"

    caption: str | None = None
    """Up to 1024 characters."""

    def _check(self, path: str) -> None:
        super()._check(path)
        check_optional_text(f"{path}.caption", self.caption, CAPTION_MAX)

    def content(self) -> dict[str, Any]:
        return compact(**super().content(), caption=self.caption)


class Audio(Media, frozen=True, kw_only=True):
    """An audio file; audio takes no caption.

    ``voice=True`` sends it as a voice message (profile picture, microphone icon, transcript).
    Meta requires an OGG file encoded with OPUS for that; wahost cannot see the file behind an id
    or a link and does not check it. ``voice`` is sent only when true: Meta says to "set to false
    or omit" it for a basic audio message (reference/cloudapi.md §6).
    """

    type: ClassVar[str] = "audio"

    voice: bool = False
    """Send as a voice message (OGG/OPUS only)."""

    def _check(self, path: str) -> None:
        super()._check(path)
        if not isinstance(self.voice, bool):
            raise ValueError(f"{path}.voice: must be a bool (got {type(self.voice).__name__})")

    def content(self) -> dict[str, Any]:
        body = super().content()
        if self.voice:
            body["voice"] = True
        return body


class Document(Media, frozen=True, kw_only=True):
    """A document with an optional caption and file name."""

    type: ClassVar[str] = "document"

    caption: str | None = None
    """Up to 1024 characters."""

    filename: str | None = None
    """The name shown to the user; its extension picks the icon WhatsApp shows."""

    def _check(self, path: str) -> None:
        super()._check(path)
        check_optional_text(f"{path}.caption", self.caption, CAPTION_MAX)
        check_optional_text(f"{path}.filename", self.filename)

    def content(self) -> dict[str, Any]:
        return compact(**super().content(), caption=self.caption, filename=self.filename)


class Sticker(Media, frozen=True, kw_only=True):
    """A sticker (WebP); stickers take no caption."""

    type: ClassVar[str] = "sticker"
