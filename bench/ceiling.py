"""The ceiling for the ingress benchmark: a bare ASGI app that checks the signature and decodes
and splits the webhook exactly as wahost's ingress does, then answers 200 storing nothing."""

from __future__ import annotations

from typing import Any

from wahost.testing.harness import TEST_APP_SECRET
from wahost.units import split
from wahost.webhook import SignatureChecker

_checker = SignatureChecker([TEST_APP_SECRET])
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    status = 200
    if scope["path"] == "/webhook":
        signature = dict(scope["headers"]).get(b"x-hub-signature-256")
        status = _checker.status(signature, body)
        if status == 200:
            split(body)
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b""})
