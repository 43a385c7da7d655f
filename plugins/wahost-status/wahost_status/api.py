"""The JSON route ``GET /-/status/<wamid>``, behind a bearer token.

The token is ``[plugins.status] api_token`` (a secret: never logged, compared in constant
time). Without a token the route is not served at all. Answers: 200 with the record
(:func:`wahost_status.views.record_data`), 401 without the right ``Authorization: Bearer``
header, 404 for a wamid with no record (never sent by this host, or pruned).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import msgspec

from wahost import Route
from wahost_status.store import load_record
from wahost_status.views import record_data

if TYPE_CHECKING:
    from quart import Response

    from wahost import Wahost

__all__ = ["routes"]

PATH = "/-/status/<path:wamid>"  # base64 wamids may contain "/"


def _json(data: object, status: int, headers: dict[str, str] | None = None) -> Response:
    from quart import Response

    return Response(
        msgspec.json.encode(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _authorized(header: str, token: bytes) -> bool:
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token)


def routes(host: Wahost, token: str | None) -> list[Route]:
    """The route, or none when no token is configured."""
    if not token:
        return []
    secret = token.encode()

    async def message_status(wamid: str) -> Response:
        from quart import request

        if not _authorized(request.headers.get("Authorization", ""), secret):
            return _json(
                {"error": "unauthorized"},
                401,
                {"WWW-Authenticate": 'Bearer realm="wahost-status"'},
            )
        record = await load_record(host.state.kv_get, wamid)
        if record is None:
            return _json({"error": "no record of this message", "wamid": wamid}, 404)
        return _json(record_data(record), 200)

    return [Route(PATH, message_status, methods=["GET"], name="wahost_status.message_status")]
