"""The errors of wahost-media.

Graph API failures keep their core types (:class:`wahost.errors.GraphError` and its families);
these are the failures this plugin detects itself.
"""

from __future__ import annotations

from wahost.errors import WahostError

__all__ = [
    "ChecksumMismatchError",
    "FlowsNotInstalledError",
    "MediaError",
    "MediaLimitError",
    "MediaTooLargeError",
]


class MediaError(WahostError):
    """Base class of wahost-media's own errors."""


class MediaLimitError(MediaError, ValueError):
    """A file Meta would refuse: a MIME type it does not support, or over its size limit.

    Raised *before* any request is made. ``kind`` is the media kind (``image``, ...) when
    known, ``limit`` the limit in bytes that was exceeded (``None`` for a type error).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.kind = kind
        self.mime_type = mime_type
        self.size = size
        self.limit = limit
        super().__init__(message)


class MediaTooLargeError(MediaError):
    """A download is larger than the ``max_bytes`` it was allowed; nothing was kept.

    ``size`` is the announced or counted size (the count stops just past the limit).
    """

    def __init__(self, message: str, *, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(message)


class ChecksumMismatchError(MediaError):
    """The downloaded bytes do not have the SHA-256 Meta gave; nothing was kept."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class FlowsNotInstalledError(MediaError, ImportError):
    """Flows media needs the ``wahost-flows`` plugin (``pip install wahost-media[flows]``)."""
