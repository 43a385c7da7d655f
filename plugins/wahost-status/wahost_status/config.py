"""``[plugins.status]``: the plugin's settings."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["StatusConfig"]

#: Thirty days, in seconds.
DEFAULT_RETENTION = 30 * 86400.0


class StatusConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins.status]``::

    [plugins.status]
    retention = 2592000                 # seconds a record is kept after its last change
    api_token = "${STATUS_API_TOKEN}"   # enables GET /-/status/<wamid>
    """

    retention: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a message's record (and each statistics event) is kept after "
            "it was last written; the store prunes older ones.",
        ),
    ] = DEFAULT_RETENTION
    api_token: Annotated[
        str | None,
        Meta(
            description="Bearer token of the JSON route GET /-/status/<wamid>; unset means the "
            'route is not served. A secret: write "${STATUS_API_TOKEN}".',
            extra={"secret": True},
        ),
    ] = None
