"""The Graph API client: how a bot talks back.

One :class:`GraphClient` per host. Sends, mark-reads and typing indicators (JSON ``POST``s)
go over a :class:`wahost.post_pool.PostPool`; every other call over one ``httpx.AsyncClient``
whose transport is a :class:`wahost.http_pool.PoolTransport`. Both keep HTTP/1.1 connections
alive, at most ``[graph] max_connections`` each. The token travels only in the
``Authorization`` header, never in a URL or a log.

Every request is retried on the errors Meta calls temporary and on transport failures (not on
the rest: reference/cloudapi.md §7), with capped exponential backoff and full jitter, honouring
``Retry-After``. A 130429 pauses the whole phone number; a 131056 pauses only that recipient.
A request that failed after it may have reached Meta (a read timeout, a dropped connection) is
*ambiguous*: it is retried, and the result says it may have been delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import structlog

from wahost import outbound, receipts
from wahost.errors import (
    CircuitOpenError,
    GraphError,
    PairRateLimitError,
    ServerError,
    ThrottlingError,
    TransportError,
    error_from_response,
)
from wahost.graph_guard import TokenPolicy, graph_path_id, guarded_get
from wahost.http_pool import PoolTransport
from wahost.outbound.parse import PREVIEW_CHARS as PREVIEW_CHARS
from wahost.outbound.parse import parse_message_body
from wahost.pacing import LocalPacer, SendPacer, Slot
from wahost.post_pool import PostAnswer, PostPool
from wahost.ratelimit import CircuitBreaker
from wahost.retry import backoff_delay

if TYPE_CHECKING:
    from wahost.account import (
        BlockingApi,
        CallsApi,
        CommerceApi,
        GroupsApi,
        PhoneNumbersApi,
        QrCodesApi,
    )
    from wahost.config import Config
    from wahost.metrics import HostMetrics
    from wahost.tracing import Tracing

log = structlog.get_logger("wahost.graph")

#: A plugin's check of a message about to be sent to ``to``: raises to refuse it
#: (``wahost_send_checks``).
SendCheck = Callable[[str, "outbound.Outbound"], None]

#: Meta's limit for ``biz_opaque_callback_data`` (reference/cloudapi.md §6).
CALLBACK_DATA_LIMIT = 512


class SentMessage(msgspec.Struct, kw_only=True):
    """What Meta answered to a send: accepted, not yet delivered (statuses tell the rest)."""

    #: The wamid of the sent message.
    id: str
    to: str
    phone_number_id: str
    #: The user's WhatsApp id as Meta resolved ``to``.
    wa_id: str | None = None
    #: ``accepted`` / ``held_for_quality_assessment`` for paced templates, else ``None``.
    message_status: str | None = None
    #: ``biz_opaque_callback_data`` sent with it (the tracker, encoded).
    callback_data: str | None = None
    #: How many requests it took.
    attempts: int = 1
    #: True when an earlier attempt may have reached Meta too: the user may see it twice.
    ambiguous: bool = False
    sent_at: float = 0.0
    #: The message type (``text``, ``image``, ``interactive``...) and a short preview of it
    #: (a text's first characters, a caption, a template's name), for histories and logs.
    type: str | None = None
    preview: str | None = None


def preview(body: Mapping[str, Any]) -> str:
    """A short, human preview of a send request body (what a history shows)."""
    message = parse_message_body(body)
    return "" if message is None else message.preview()


class _SendContact(msgspec.Struct):
    input: str | None = None
    wa_id: str | None = None


class _SendMessage(msgspec.Struct):
    id: str
    message_status: str | None = None


class _SendResponse(msgspec.Struct):
    messages: list[_SendMessage]
    contacts: list[_SendContact] = msgspec.field(default_factory=list)


_send_response = msgspec.json.Decoder(_SendResponse)


def encode_tracker(tracker: str | msgspec.Struct | None, *, reserve: int = 0) -> str | None:
    """``biz_opaque_callback_data`` for a tracker: a string as is, a struct as JSON.

    ``reserve`` characters of Meta's limit are kept for the outbox's send token.
    """
    if tracker is None:
        return None
    text = tracker if isinstance(tracker, str) else msgspec.json.encode(tracker).decode()
    limit = CALLBACK_DATA_LIMIT - reserve
    if len(text) > limit:
        raise ValueError(f"tracker: at most {limit} characters once encoded (got {len(text)})")
    return text


class GraphClient:
    """Sends messages and makes other Graph API calls for one host."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: HostMetrics | None = None,
        tracing: Tracing | None = None,
        pacer: SendPacer | None = None,
    ):
        wa = config.whatsapp
        graph = config.graph
        self.phone_number_id = wa.phone_number_id
        self.base_url = f"{wa.graph_url.rstrip('/')}/{wa.api_version}"
        self._token = wa.token
        #: Where the token may go on :meth:`stream` (:mod:`wahost.graph_guard`).
        self.token_policy = TokenPolicy.from_config(config)
        headers = {"Authorization": f"Bearer {wa.token}", "User-Agent": "wahost"}
        timeout = httpx.Timeout(graph.timeout, connect=graph.connect_timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=(
                transport
                if transport is not None
                else PoolTransport(max_connections=graph.max_connections)
            ),
        )
        #: The JSON POSTs (sends, mark-read) skip httpx (:mod:`wahost.post_pool`), unless a
        #: transport was given (then everything goes through it) or a proxy applies to the
        #: Graph API (httpx honours the environment's proxies; the pool does not).
        self._posts: PostPool | None = (
            PostPool(
                headers={**headers, "Content-Type": "application/json"},
                timeout=timeout,
                max_connections=graph.max_connections,
            )
            if transport is None and not _proxied(self.base_url)
            else None
        )
        self.max_retries = graph.max_retries
        self.backoff_base = graph.backoff_base
        self.backoff_cap = graph.backoff_cap
        #: Meta's throughput cap per number and spacing per recipient: this process's own
        #: unless a plugin shares them between processes (``wahost_rate_limiter``).
        self.pacer: SendPacer = (
            pacer
            if pacer is not None
            else LocalPacer(graph.messages_per_second, graph.recipient_interval)
        )
        self.breaker = CircuitBreaker(graph.breaker_failures, graph.breaker_reset)
        self.metrics = metrics
        self.tracing = tracing
        #: Counts for operators and tests: requests, retries, ambiguous sends.
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "ambiguous": 0}
        #: Plugins' checks of every message before it is sent (``wahost_send_checks``), set
        #: by the host at start.
        self.send_checks: tuple[SendCheck, ...] = ()
        self.waba_id = wa.waba_id or None
        #: The Meta app's ID (``[whatsapp] app_id``): resumable uploads need it.
        self.app_id = wa.app_id

    # -- the account plane (wahost.account), for plugins: host.client.groups.create(...) --------

    @functools.cached_property
    def groups(self) -> GroupsApi:
        """The Groups API of the configured number (:class:`wahost.account.GroupsApi`)."""
        from wahost.account import GroupsApi

        return GroupsApi(self)

    @functools.cached_property
    def blocking(self) -> BlockingApi:
        """Block and unblock users (:class:`wahost.account.BlockingApi`)."""
        from wahost.account import BlockingApi

        return BlockingApi(self)

    @functools.cached_property
    def qr_codes(self) -> QrCodesApi:
        """QR codes with a prefilled message (:class:`wahost.account.QrCodesApi`)."""
        from wahost.account import QrCodesApi

        return QrCodesApi(self)

    @functools.cached_property
    def numbers(self) -> PhoneNumbersApi:
        """The WABA's phone numbers (:class:`wahost.account.PhoneNumbersApi`; listing needs
        ``[whatsapp] waba_id``)."""
        from wahost.account import PhoneNumbersApi

        return PhoneNumbersApi(self, self.waba_id)

    @functools.cached_property
    def calls(self) -> CallsApi:
        """Calling signaling (:class:`wahost.account.CallsApi`)."""
        from wahost.account import CallsApi

        return CallsApi(self)

    @functools.cached_property
    def commerce(self) -> CommerceApi:
        """Catalog visibility and the cart (:class:`wahost.account.CommerceApi`)."""
        from wahost.account import CommerceApi

        return CommerceApi(self)

    async def aclose(self) -> None:
        try:
            if self._posts is not None:
                await self._posts.aclose()
            await self._http.aclose()
        finally:
            await self.pacer.aclose()

    # -- messages -------------------------------------------------------------------------

    async def send(
        self,
        to: str,
        message: outbound.Outbound | str | None = None,
        /,
        *,
        phone_number_id: str | None = None,
        reply_to: str | None = None,
        tracker: str | msgspec.Struct | None = None,
        send_token: str | None = None,
        resend_ambiguous: bool = True,
        group: bool = False,
        **kwargs: Any,
    ) -> SentMessage:
        """Send a message to ``to`` and return what Meta answered.

        ``message`` is an :mod:`wahost.outbound` message, a string (a text), or given as
        keyword arguments (``text="hi"``, ``image="https://..."``, see
        :func:`wahost.outbound.coerce`). ``reply_to`` quotes an inbound wamid; ``tracker`` (a
        string or a msgspec struct) travels as ``biz_opaque_callback_data`` and comes back in
        the statuses. The message is validated against Meta's limits before any request.

        ``group=True``: ``to`` is a group id and the message goes to the group
        (``recipient_type: "group"``); only text, media and templates may be sent there
        (:data:`wahost.outbound.GROUP_MESSAGE_TYPES`, reference/cloudapi.md §12).

        ``send_token`` and ``resend_ambiguous`` are the outbox's (:mod:`wahost.outbox`): the
        token travels in front of the tracker so that Meta's statuses tell whether the send
        went out, and with ``resend_ambiguous=False`` a failure after the request may have
        reached Meta raises :class:`TransportError` (``ambiguous``) instead of sending again.
        """
        pnid = graph_path_id(phone_number_id or self.phone_number_id, what="phone_number_id")
        built = outbound.coerce(message, **kwargs)
        for check in self.send_checks:
            check(to, built)
        callback = encode_tracker(tracker, reserve=receipts.OVERHEAD if send_token else 0)
        echoed = receipts.attach(send_token, callback) if send_token else callback
        body = outbound.message_body(
            to,
            built,
            reply_to=reply_to,
            biz_opaque_callback_data=echoed,
            recipient_type="group" if group else "individual",
        )
        content = outbound.encode_body(body)
        started = time.time()
        try:
            response, attempts, ambiguous = await self._request(
                "POST",
                f"/{pnid}/{built.endpoint}",
                content=content,
                phone_number_id=pnid,
                recipient=to,
                resend_ambiguous=resend_ambiguous,
            )
        except Exception as exc:
            if self.metrics is not None:
                self.metrics.sent(str(body.get("type", "")), _outcome(exc))
            raise
        if self.metrics is not None:
            self.metrics.sent(str(body.get("type", "")), "ok")
        answer = _send_response.decode(response.content)
        contact = answer.contacts[0] if answer.contacts else _SendContact()
        return SentMessage(
            id=answer.messages[0].id,
            to=to,
            phone_number_id=pnid,
            wa_id=contact.wa_id,
            message_status=answer.messages[0].message_status,
            callback_data=callback,
            attempts=attempts,
            ambiguous=ambiguous,
            sent_at=started,
            type=str(body.get("type", "")) or None,
            preview=preview(body),
        )

    async def mark_read(
        self, message_id: str, *, phone_number_id: str | None = None, typing: bool = False
    ) -> None:
        """Mark an inbound message (and the ones before it) as read; ``typing=True`` also
        shows the typing indicator (dismissed on reply or after 25 s)."""
        pnid = graph_path_id(phone_number_id or self.phone_number_id, what="phone_number_id")
        body = outbound.typing_body(message_id) if typing else outbound.mark_read_body(message_id)
        await self._request(
            "POST", f"/{pnid}/messages", content=outbound.encode_body(body), phone_number_id=pnid
        )

    async def typing(self, message_id: str, *, phone_number_id: str | None = None) -> None:
        """Show the typing indicator to the author of ``message_id`` (marks it read too)."""
        await self.mark_read(message_id, phone_number_id=phone_number_id, typing=True)

    # -- any Graph call -------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A Graph API call (media, profile, Flows keys, ...) with the same error handling,
        retries and circuit breaker as sends; returns the decoded JSON answer.

        ``content`` sends raw bytes (with ``headers``, e.g. a resumable upload's
        ``file_offset``) instead of ``json``."""
        if json is not None:
            content = msgspec.json.encode(json)
        response, _, _ = await self._request(
            method,
            path,
            content=content,
            data=data,
            files=files,
            params=params,
            retry=retry,
            headers=headers,
            raw=json is None and content is not None,
        )
        return msgspec.json.decode(response.content) if response.content else None

    async def stream(
        self, url: str, *, authenticated: bool = True, follow_redirects: bool = False
    ) -> httpx.Response:
        """Open a streamed GET of ``url`` (a media download); the caller must ``aclose()`` it.

        Meta's media URLs need the bearer token (reference/cloudapi.md §8), and it goes only
        to the hosts :attr:`token_policy` allows (the Graph API, Meta's media hosts over
        https, ``[graph] token_hosts``): another URL raises
        :class:`~wahost.graph_guard.TokenHostError` before any request. A Flows media CDN URL
        is fetched without it (§10): ``authenticated=False`` leaves the token out.
        ``follow_redirects`` follows redirects hop by hop, the token only while every hop is
        allowed (:func:`~wahost.graph_guard.guarded_get`). Raises :class:`GraphError` on an
        error status.
        """
        response = await guarded_get(
            self._http,
            self.token_policy,
            url,
            authenticated=authenticated,
            follow_redirects=follow_redirects,
        )
        if response.status_code >= 400:
            body = await response.aread()
            await response.aclose()
            raise error_from_response(response.status_code, body, response.headers)
        return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        phone_number_id: str | None = None,
        recipient: str | None = None,
        retry: bool = True,
        resend_ambiguous: bool = True,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> tuple[PostAnswer | httpx.Response, int, bool]:
        """Send with pacing and retries; ``(response, attempts, ambiguous)``.

        Raises :class:`CircuitOpenError` without a request while the circuit is open, and the
        ambiguous :class:`TransportError` at once when ``resend_ambiguous`` is false.
        """
        sent_headers = dict(headers or {})
        if content is not None and not raw:
            sent_headers.setdefault("Content-Type", "application/json")
        attempts = 0
        ambiguous = False
        retries = self.max_retries if retry else 0
        breaker = self.breaker
        # A JSON body and nothing else: what the post pool carries.
        posts = (
            self._posts
            if method == "POST"
            and content is not None
            and not raw
            and headers is None
            and data is None
            and files is None
            and not params
            else None
        )
        response: PostAnswer | httpx.Response
        while True:
            attempts += 1
            if not breaker.allow():
                raise CircuitOpenError(
                    "the Graph API failed repeatedly; sending is paused",
                    retry_in=breaker.retry_in,
                )
            trial = breaker.trial_under_way  # allow() just made this request the trial
            paced = False
            slot: Slot | None = None
            try:
                slot = await self._pace(phone_number_id, recipient)
                paced = True
                self.stats["requests"] += 1
                tracing = self.tracing
                with tracing.graph_span(method, path) if tracing else _UNTRACED as span:
                    if posts is not None and content is not None:
                        response = await posts.post(self._http.base_url, path, content)
                    else:
                        response = await self._http.request(
                            method,
                            path,
                            content=content,
                            data=data,
                            files=files,
                            params=params,
                            headers=sent_headers or None,
                        )
                    if tracing is not None:
                        tracing.graph_answered(span, response.status_code)
            except httpx.TransportError as exc:
                failure: Exception = _transport_error(exc)
                self._server_failed()
                if isinstance(failure, TransportError) and failure.ambiguous:
                    ambiguous = True
                    self.stats["ambiguous"] += 1
                    if not resend_ambiguous:
                        raise failure from exc
                    log.warning(
                        "request may have reached Meta before failing; retrying may duplicate",
                        path=path,
                        attempt=attempts,
                        error=str(exc),
                    )
                delay = self._backoff(attempts)
            except BaseException:  # cancelled: the trial, if it was one, decided nothing
                if trial:
                    breaker.abandon()
                raise
            else:
                if response.status_code < 400:
                    self._server_answered()
                    return response, attempts, ambiguous
                failure = error_from_response(
                    response.status_code, response.content, response.headers
                )
                if isinstance(failure, ServerError) or response.status_code >= 500:
                    self._server_failed()
                else:
                    self._server_answered()  # Meta answered: the service is up
                delay = await self._delay_for(failure, attempts, phone_number_id, recipient)
            finally:
                if paced:
                    if slot is not None:
                        await self.pacer.release(slot)
                    if recipient is not None:
                        await self.pacer.release_recipient(recipient)
            if not getattr(failure, "retryable", False) or attempts > retries:
                raise failure
            self.stats["retries"] += 1
            log.info(
                "retrying Graph request",
                path=path,
                attempt=attempts,
                delay=round(delay, 3),
                error=str(failure),
            )
            await asyncio.sleep(delay)

    def _server_failed(self) -> None:
        was_open = self.breaker.is_open
        self.breaker.failure()
        if self.metrics is not None and self.breaker.tripped:
            self.metrics.circuit_changed(True)
        if not was_open and self.breaker.is_open:
            log.warning(
                "Graph API failing repeatedly: sending paused",
                seconds=self.breaker.reset,
                failures=self.breaker.failures,
            )

    def _server_answered(self) -> None:
        was_open = self.breaker.is_open
        tripped = self.breaker.tripped
        self.breaker.success()
        if tripped and self.metrics is not None:
            self.metrics.circuit_changed(False)
        if was_open:
            log.info("Graph API answers again: sending resumed")

    async def wait_available(self, deadline: float, tries: int) -> None:
        """Wait before trying the Graph API again after it was unavailable (the ``tries``-th
        time), until ``deadline`` (``time.monotonic()``) at the latest: for the circuit to let
        a request through when it is open, else a backoff."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if self.breaker.is_open:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.breaker.wait_ready(), remaining)
            return
        await asyncio.sleep(min(remaining, self._backoff(tries)))

    async def _pace(self, phone_number_id: str | None, recipient: str | None) -> Slot | None:
        """Wait for the recipient's spacing and a throughput slot of the number
        (:meth:`SendPacer.acquire_for`)."""
        slot, waited = await self.pacer.acquire_for(phone_number_id, recipient)
        if waited and self.metrics is not None:
            self.metrics.paced(waited)
        return slot

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap)

    async def _delay_for(
        self, error: GraphError, attempt: int, phone_number_id: str | None, recipient: str | None
    ) -> float:
        delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
        if isinstance(error, PairRateLimitError) and recipient is not None:
            # Only this user is paused; the spacing makes this send wait for it.
            await self.pacer.pause_recipient(recipient, max(delay, self.backoff_base))
            return 0.0
        if isinstance(error, ThrottlingError) and phone_number_id is not None:
            await self.pacer.pause(phone_number_id, max(delay, self.backoff_base))
            return 0.0
        return delay


#: The span of a request while tracing is off: none.
_UNTRACED = contextlib.nullcontext()


def _outcome(exc: Exception) -> str:
    """The ``code`` label of a send that failed with ``exc``."""
    if isinstance(exc, GraphError):
        return str(exc.code) if exc.code is not None else "unknown"
    if isinstance(exc, CircuitOpenError):
        return "circuit_open"
    if isinstance(exc, TransportError):
        return "transport"
    return "error"


def _proxied(url: str) -> bool:
    """Whether the environment sets a proxy for ``url`` (as httpx's ``trust_env`` reads it)."""
    proxies = urllib.request.getproxies_environment()
    parsed = httpx.URL(url)
    if parsed.scheme not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass(parsed.host)


def _transport_error(exc: httpx.TransportError) -> TransportError:
    # Before the request was fully written (connect failures, a pool timeout, a failed write)
    # Meta cannot have processed it; after (a read timeout, a dropped connection) it may have.
    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.WriteError,
        httpx.WriteTimeout,
    )
    return TransportError(
        f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        ambiguous=not isinstance(exc, not_sent),
    )
