"""Ingress: Meta's webhook, verified, split and durably enqueued before the 200.

The hottest path of the product, so it is a small ASGI handler in front of the Quart app
(which serves the routes plugins add): no routing table, no request object, the body read once
and hashed as raw bytes. On uvicorn the webhook's POST skips ASGI altogether:
:mod:`wahost.webhook_protocol` answers it in the HTTP protocol, through :meth:`Ingress.accept`.

Answers (reference/cloudapi.md §1, §2, §5):

* ``GET  <webhook_path>``: ``hub.mode=subscribe`` and the right ``hub.verify_token`` → 200 with
  ``hub.challenge`` as text/plain; anything else → 403.
* ``POST <webhook_path>``: body over ``max_body_bytes`` → 413 (refused on ``Content-Length``
  before reading, or as soon as the stream passes the limit); no ``X-Hub-Signature-256`` → 401;
  a wrong or malformed one → 403; signed but not a decodable envelope → quarantined, 200 (Meta
  would resend the same bytes forever); otherwise the units are enqueued in one transaction and
  only then 200. If the queue cannot commit → 503, so Meta retries. Never 200 before durable.
* ``GET /healthz``: the process is up. ``GET /readyz``: the queue and state store answer and
  can commit (not while the disk is full): this instance can take webhooks durably.
  ``GET /healthz/graph``: whether sending works now (the Graph API client's circuit is closed);
  a Graph outage does not make an instance unready, since it still takes webhooks and its
  units wait for the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import structlog

from wahost.models import DecodeError
from wahost.queue.base import QueueUnavailable
from wahost.unit_stamp import stamper
from wahost.units import Unit, split

if TYPE_CHECKING:
    from wahost.host import Wahost
    from wahost.metrics import HostMetrics
    from wahost.tracing import Tracing

Scope = MutableMapping[str, Any]

#: Whether sending works (the Graph API client's circuit): apart from ``/readyz`` on purpose.
GRAPH_HEALTH_PATH = "/healthz/graph"
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_SIGNATURE_HEADER = b"x-hub-signature-256"
_PREFIX = b"sha256="

log = structlog.get_logger("wahost.webhook")


async def metrics_page(host: Wahost, metrics: HostMetrics, scope: Scope, send: Send) -> None:
    """The scrape (:func:`wahost.metrics.metrics_page`), imported only when metrics are on."""
    from wahost.metrics import metrics_page as page

    await page(host, metrics, scope, send)


class _TooLarge(Exception):
    pass


async def _respond(send: Send, status: int, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": _TEXT})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def webhook_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes | None, int]:
    """The ``X-Hub-Signature-256`` value (``None`` when absent) and the declared
    ``Content-Length`` (-1 when absent) of a webhook POST's headers, names in lower case (as
    ASGI and uvicorn's parser give them). Raises :class:`ValueError` for a length that is not a
    number."""
    signature: bytes | None = None
    declared = -1
    for name, value in headers:
        if name == _SIGNATURE_HEADER:
            signature = value
        elif name == b"content-length":
            declared = int(value)
    return signature, declared


class SignatureChecker:
    """Checks ``X-Hub-Signature-256`` against one or more app secrets (rotation)."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [secret.encode() for secret in secrets]

    def status(self, header: bytes | None, body: bytes) -> int:
        """200 when valid, 401 when missing, 403 when wrong or malformed."""
        if header is None:
            return 401
        if not header.startswith(_PREFIX):
            return 403
        try:
            expected = bytes.fromhex(header[len(_PREFIX) :].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return 403
        ok = False
        for secret in self._secrets:
            digest = hmac.new(secret, body, hashlib.sha256).digest()
            # No early exit: every secret is checked, in constant time each.
            ok |= hmac.compare_digest(digest, expected)
        return 200 if ok else 403


class Ingress:
    """The ASGI application of a host: the webhook and health checks, then ``fallback``."""

    def __init__(self, host: Wahost, fallback: ASGIApp) -> None:
        self.host = host
        self.fallback = fallback
        server = host.config.server
        self.path = server.webhook_path
        self.limit = server.max_body_bytes
        self.checker = SignatureChecker(host.config.whatsapp.all_app_secrets())
        self.verify_token = host.config.whatsapp.verify_token
        #: Counts every answer to a webhook POST; ``None`` when ``[metrics]`` is off.
        self.metrics = host.metrics
        #: Where this listener serves the scrape (not when ``[metrics] port`` has its own).
        self.metrics_path = (
            host.config.metrics.path
            if host.metrics is not None and host.config.metrics.port == 0
            else None
        )
        #: What the ingress adds to each unit's body (arrival time, trace context), or None.
        self.stamp = stamper(host)
        self.tracing = host.tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == self.path:
                method = scope["method"]
                if method == "POST":
                    return await self.post(scope, receive, send)
                if method in ("GET", "HEAD"):
                    return await self.verify(scope, send)
                return await _respond(send, 405)
            if path == "/healthz":
                return await _respond(send, 200, b"ok")
            if path == "/readyz":
                return await self.ready(send)
            if path == GRAPH_HEALTH_PATH:
                return await self.graph_health(send)
            if path == self.metrics_path and self.metrics is not None:
                return await metrics_page(self.host, self.metrics, scope, send)
        await self.fallback(scope, receive, send)

    async def verify(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        mode = query.get("hub.mode", [""])[0]
        token = query.get("hub.verify_token", [""])[0]
        challenge = query.get("hub.challenge", [""])[0]
        if mode == "subscribe" and hmac.compare_digest(token.encode(), self.verify_token.encode()):
            return await _respond(send, 200, challenge.encode())
        log.warning("webhook verification refused", mode=mode)
        await _respond(send, 403)

    async def post(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            signature, declared = webhook_headers(scope["headers"])
        except ValueError:
            return await self._answer(send, 400)
        if declared > self.limit:
            return await self._answer(send, 413)
        try:
            body = await _read_body(receive, self.limit)
        except _TooLarge:
            return await self._answer(send, 413)
        except ConnectionError:
            return
        outcome = self.accept(signature, body)
        status = outcome if isinstance(outcome, int) else await outcome
        await self._answer(send, status)

    async def _answer(self, send: Send, status: int) -> None:
        if self.metrics is not None:
            self.metrics.webhook(status)
        await _respond(send, status)

    def accept(self, signature: bytes | None, body: bytes) -> int | Awaitable[int]:
        """The answer to a webhook POST of ``body``: a status when it is known at once (a
        refused signature; nothing to store), else an awaitable of the status, resolved once
        the units are durable (200) or could not be stored (503). Shared by the ASGI path and
        :mod:`wahost.webhook_protocol`."""
        if self.tracing is not None:
            return self._traced(signature, body, self.tracing)
        return self._accept(signature, body)

    def _accept(
        self, signature: bytes | None, body: bytes, traceparent: str = ""
    ) -> int | Awaitable[int]:
        status = self.checker.status(signature, body)
        if status != 200:
            log.warning("webhook signature refused", status=status, bytes=len(body))
            return status
        try:
            units = split(body)
        except DecodeError as exc:
            return self._quarantine(body, str(exc))
        if not units:
            return 200
        if self.stamp is not None:
            units = self.stamp(units, traceparent)
        return self._enqueue(units)

    def _traced(
        self, signature: bytes | None, body: bytes, tracing: Tracing
    ) -> int | Awaitable[int]:
        """:meth:`accept` inside the webhook's span, whose context goes with the units."""
        span = tracing.webhook_span(len(body))
        try:
            outcome = self._accept(signature, body, tracing.traceparent(span))
        except BaseException:
            tracing.end_webhook(span, 500)
            raise
        if isinstance(outcome, int):
            tracing.end_webhook(span, outcome)
            return outcome

        async def answered() -> int:
            status = 503
            try:
                status = await outcome
            finally:
                tracing.end_webhook(span, status)
            return status

        return answered()

    async def _quarantine(self, body: bytes, reason: str) -> int:
        try:
            await self.host.queue.quarantine(body, reason)
        except QueueUnavailable as exc:
            log.error("quarantine failed", error=str(exc))
            return 503
        log.warning("undecodable webhook quarantined", reason=reason, bytes=len(body))
        return 200

    def _enqueue(self, units: list[Unit]) -> asyncio.Future[int]:
        """A future of the answer: 200 once the units are durable, 503 if they cannot be."""
        try:
            stored = self.host.queue.enqueue_soon(units)
        except Exception as exc:
            stored = asyncio.get_running_loop().create_future()
            stored.set_exception(exc)
        answer: asyncio.Future[int] = stored.get_loop().create_future()
        stored.add_done_callback(partial(self._stored, answer, units))
        return answer

    def _stored(
        self, answer: asyncio.Future[int], units: list[Unit], stored: asyncio.Future[int]
    ) -> None:
        if stored.cancelled():
            status = 503
        elif (exc := stored.exception()) is not None:  # any failure to commit: Meta must retry
            log.error("enqueue failed", error=str(exc), units=len(units))
            status = 503
        else:
            self.host.wakeup.set()
            if self.metrics is not None:
                self.metrics.units_enqueued(units)
            status = 200
        if not answer.done():  # the ASGI request may have been cancelled meanwhile
            answer.set_result(status)

    async def ready(self, send: Send) -> None:
        """``/readyz``: 200 when this instance can take webhooks now, else 503 with the reason.

        Ready means the queue and the state store answer *and can commit*: a backend whose
        last write failed to store (disk full, Redis out of memory) is not ready until a write
        succeeds again — the SQLite backend re-probes with a one-row write at most once a
        second while nothing else writes. It never touches the ingress path; polling it every
        second costs at most that probe. The Graph API's health is not part of it: an instance
        that cannot send still takes webhooks durably (see :meth:`graph_health`).
        """
        try:
            await self.host.queue.ping()
            await self.host.state.ping()
        except Exception as exc:
            log.warning("not ready", error=str(exc))
            return await _respond(send, 503, b"not ready: store unavailable")
        await _respond(send, 200, b"ready")

    async def graph_health(self, send: Send) -> None:
        """``/healthz/graph``: 200 while sending works, 503 while the Graph API client's circuit
        is open (sends in units wait meanwhile), with the seconds until the next try."""
        client = self.host.client
        if client is not None and client.breaker.is_open:
            retry_in = client.breaker.retry_in
            body = f"sending paused: Graph API failing; next try in {retry_in:.1f}s"
            return await _respond(send, 503, body.encode())
        await _respond(send, 200, b"sending")
