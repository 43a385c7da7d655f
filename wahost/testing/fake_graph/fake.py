"""The fake Graph API server: lifecycle, connections, failure injection."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx

from wahost.testing.fake_graph.account import AccountRoutes
from wahost.testing.fake_graph.calls import CallRoutes, FakeCall
from wahost.testing.fake_graph.catalogue import ERRORS, error_body
from wahost.testing.fake_graph.flows import FakeFlow, FlowRoutes
from wahost.testing.fake_graph.groups_api import GroupsApiRoutes
from wahost.testing.fake_graph.numbers import FakeNumber, NumberRoutes
from wahost.testing.fake_graph.routes import GraphRoutes
from wahost.testing.fake_graph.templates import FakeTemplate, TemplateRoutes
from wahost.testing.fake_graph.uploads import Uploaded, UploadRoutes
from wahost.testing.fake_graph.webhooks import WebhookRoutes
from wahost.testing.fake_graph.wire import (
    _INVALID_TOKEN,
    _PHRASES,
    Accepted,
    Group,
    Media,
    Recorded,
    _decode_body,
    _encode,
    _graph_error,
    _json_response,
    _read_request,
    _Response,
    _wa_id,
)
from wahost.testing.harness import TEST_APP_SECRET, TEST_TOKEN
from wahost.testing.loopback import loopback_client


@dataclass
class Failure:
    """An injected failure, as :meth:`FakeGraph.fail_next` / :meth:`FakeGraph.fail_when`
    register it. ``remaining`` counts down (``None``: forever); ``hits`` counts up."""

    matches: Callable[[Recorded], bool]
    remaining: int | None
    code: int | None = 130429
    http_status: int | None = None
    message: str | None = None
    details: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    accept: bool = False
    passthrough: bool = False
    hits: int = 0

    def _response(self) -> _Response:
        """The answer this failure gives (ignored when it drops the connection)."""
        headers: list[tuple[str, str]] = []
        if self.retry_after is not None:
            headers.append(("retry-after", f"{self.retry_after:g}"))
        if self.code is None:
            status = self.http_status or 500
            phrase = http.HTTPStatus(status).phrase if status in _PHRASES else "Error"
            page = f"<html><body><h1>{status} {phrase}</h1></body></html>"
            return _Response(status, page.encode(), "text/html; charset=utf-8", headers)
        status = self.http_status or ERRORS.get(self.code, (400,))[0]
        body = error_body(self.code, message=self.message, details=self.details)
        return _json_response(body, status, headers)


class FakeGraph(
    UploadRoutes,
    FlowRoutes,
    TemplateRoutes,
    GroupsApiRoutes,
    AccountRoutes,
    NumberRoutes,
    CallRoutes,
    GraphRoutes,
    WebhookRoutes,
):
    """A fake Graph API on ``127.0.0.1`` (a free port) for the length of an ``async with``.

    ``token``: the only bearer token accepted (others get HTTP 401, code 190).
    ``api_version``: the version clients are expected to use; other ``vNN.N`` prefixes are
    answered too (see :attr:`Recorded.version`). Optional rate enforcement, off by default:
    ``messages_per_second`` answers 130429 to a message beyond that many accepted in the last
    second for one phone number id (counted in :attr:`throttled`); ``pair_interval`` answers
    131056 to a message to a recipient who already got ``pair_burst`` messages in the last
    ``pair_interval`` seconds (counted in :attr:`pair_limited`). ``media_url_ttl``: how long a
    media download URL works (Meta: 5 minutes), after which it answers 404.
    """

    def __init__(
        self,
        token: str = TEST_TOKEN,
        api_version: str = "v24.0",
        *,
        messages_per_second: float | None = None,
        pair_interval: float | None = None,
        pair_burst: int = 1,
        media_url_ttl: float = 300.0,
    ) -> None:
        self._token = token
        self.api_version = api_version
        self.messages_per_second = messages_per_second
        self.pair_interval = pair_interval
        self.pair_burst = pair_burst
        self.media_url_ttl = media_url_ttl
        self.url = ""
        #: Every request received, in order.
        self.requests: list[Recorded] = []
        #: Accepted messages (not mark-read or typing), in order.
        self.sent: list[Accepted] = []
        #: wamids marked as read, and those also given a typing indicator.
        self.marked_read: list[str] = []
        self.typing: list[str] = []
        #: Media by id (uploaded or :meth:`add_media`), and ids deleted since.
        self.media: dict[str, Media] = {}
        self.deleted_media: set[str] = set()
        #: Group chats the business is in, by group id (:meth:`add_group`).
        self.groups: dict[str, Group] = {}
        #: The group webhooks the Groups API would send (:mod:`.groups_api`).
        self.group_webhooks: list[tuple[str, dict[str, Any]]] = []
        self.deleted_groups: set[str] = set()
        #: The blocklist per phone number id, who may be blocked, QR codes (:mod:`.account`).
        #: Resumable uploads: finished ones by handle (:mod:`.uploads`).
        self.uploads: dict[str, Uploaded] = {}
        self._sessions: dict[str, Uploaded] = {}
        self.blocked: dict[str, list[str]] = {}
        self.blockable: set[str] | None = None
        self.qr_codes: dict[str, dict[str, str]] = {}
        self.commerce_settings: dict[str, dict[str, bool]] = {}
        #: Phone numbers by id (:mod:`.numbers`).
        self.numbers: dict[str, FakeNumber] = {}
        #: Calls by id and call permissions by user (:mod:`.calls`).
        self.voice_calls: dict[str, FakeCall] = {}
        self.call_permissions: dict[str, str] = {}
        #: Per phone number id: Flows public key (PEM), conversational automation, profile.
        self.business_public_keys: dict[str, str] = {}
        self.conversational_automation: dict[str, dict[str, Any]] = {}
        self.business_profiles: dict[str, dict[str, Any]] = {}
        #: Flows by id (:mod:`.flows`).
        self.flows: dict[str, FakeFlow] = {}
        #: Message templates by id (:mod:`.templates`).
        self.message_templates: dict[str, FakeTemplate] = {}
        #: wa_ids that stopped marketing messages: ``/marketing_messages`` answers 131050.
        self.stopped_marketing: set[str] = set()
        #: Webhook subscriptions and callback overrides (:mod:`.webhooks`).
        self.app_callback_url: str | None = None
        self.subscribed_wabas: dict[str, str | None] = {}
        self.phone_overrides: dict[str, str] = {}
        self.override_tokens: dict[str, str] = {}
        self.phone_wabas: dict[str, str] = {}
        #: Messages answered 130429 / 131056 by the rate enforcement.
        self.throttled = 0
        self.pair_limited = 0
        #: TCP connections accepted so far (keep-alive reuses them).
        self.connections = 0
        #: Called with ``("message", accepted)``, ``("read", wamid)`` and ``("typing", wamid)``
        #: as the fake accepts them (the simulator follows a conversation this way).
        self.observers: list[Callable[[str, Any], None]] = []
        self._failures: list[Failure] = []
        self._rate: dict[str, deque[float]] = {}
        self._pairs: dict[tuple[str, str], deque[float]] = {}
        self._progress = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._closing = False
        #: Status webhooks posted (:meth:`send_statuses`), and where to.
        self.statuses_posted = 0
        self._status_target: tuple[str, str, tuple[str, ...], float] | None = None
        self._status_posts: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeGraph:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in [*self._connections, *self._status_posts]:
            task.cancel()
        await asyncio.gather(*self._connections, *self._status_posts, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- what tests use -------------------------------------------------------------------

    @property
    def other_versions(self) -> list[str]:
        """Graph API versions used by requests other than ``api_version``, sorted."""
        versions = {r.version for r in self.requests if r.version is not None}
        return sorted(versions - {self.api_version})

    def messages_to(self, recipient: str) -> list[Accepted]:
        """The accepted messages to ``recipient`` (with or without ``+``, or a group id), in
        order."""
        wa_id = recipient if recipient in self.groups else _wa_id(recipient)
        return [sent for sent in self.sent if sent.wa_id == wa_id]

    def add_group(
        self, participants: list[str], *, subject: str = "Group", group_id: str | None = None
    ) -> str:
        """Make a group chat of the business with ``participants`` (numbers) and return its
        id (an opaque string, as Meta's are: reference/cloudapi.md §12.2), to put in the
        ``group_id`` of inbound webhooks. Sends to it are then accepted with
        ``recipient_type: "group"``; sends to an unknown group get 131041, to a group with no
        participant 131020, and a type a group does not take (buttons, lists, reactions,
        locations, contacts) 100."""
        if group_id is None:
            group_id = "Y2FwaV9ncm91cD" + secrets.token_hex(16).upper()
        self.groups[group_id] = Group(group_id, subject, [_wa_id(p) for p in participants])
        return group_id

    async def wait_for(self, n_messages: int = 1, timeout: float = 5.0) -> list[Accepted]:  # noqa: ASYNC109
        """Wait until at least ``n_messages`` messages were accepted; returns :attr:`sent`.
        Raises ``TimeoutError`` (with what was received) after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sent) < n_messages:
            self._progress.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-20:]]
                raise TimeoutError(
                    f"{len(self.sent)} of {n_messages} messages after {timeout}s; "
                    f"last requests: {seen}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return list(self.sent)

    def fail_next(
        self,
        n: int = 1,
        *,
        code: int | None = 130429,
        http_status: int | None = None,
        message: str | None = None,
        details: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        accept: bool = False,
        path_contains: str | None = "/messages",
    ) -> Failure:
        """Fail the next ``n`` authorized requests whose path contains ``path_contains``
        (``None``: any request). Mark-read and typing requests go to ``/messages`` too: use
        :meth:`fail_when` with :attr:`Recorded.is_message` to fail only sends.

        The answer is Meta's error body for ``code`` with its usual HTTP status
        (:data:`ERRORS`; ``http_status`` overrides it; ``code=None`` answers a non-JSON HTML
        page, HTTP 500 by default), a ``Retry-After`` header if ``retry_after`` is set, after
        ``delay`` seconds. ``drop=True`` reads the whole request, records it, waits ``delay``
        and closes the connection without answering: the client sees a transport error.
        ``accept=True`` first handles the request as usual (a message is accepted and appears
        in :attr:`sent`) and then fails or drops: Meta sent it but the client cannot know.
        Failures registered earlier are used first.
        """
        return self.fail_when(
            (lambda r: path_contains in r.path) if path_contains is not None else (lambda r: True),
            times=n,
            code=code,
            http_status=http_status,
            message=message,
            details=details,
            retry_after=retry_after,
            delay=delay,
            drop=drop,
            accept=accept,
        )

    def fail_when(
        self,
        predicate: Callable[[Recorded], bool],
        *,
        times: int | None = None,
        code: int | None = 130429,
        http_status: int | None = None,
        message: str | None = None,
        details: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        accept: bool = False,
    ) -> Failure:
        """Fail authorized requests for which ``predicate(recorded)`` is true, ``times`` times
        (``None``: until :meth:`clear_failures`); otherwise as :meth:`fail_next`."""
        failure = Failure(
            predicate, times, code, http_status, message, details, retry_after, delay, drop, accept
        )
        self._failures.append(failure)
        return failure

    def delay_next(
        self, n: int = 1, delay: float = 1.0, *, path_contains: str | None = "/messages"
    ) -> Failure:
        """Answer the next ``n`` matching requests as usual, but only after ``delay`` seconds
        (a slow Graph API; a client timeout makes the send ambiguous)."""
        failure = self.fail_next(n, delay=delay, path_contains=path_contains)
        failure.passthrough = True
        return failure

    def send_statuses(
        self,
        webhook_url: str,
        *,
        app_secret: str = TEST_APP_SECRET,
        statuses: tuple[str, ...] = ("sent",),
        delay: float = 0.0,
    ) -> None:
        """Post a signed status webhook to ``webhook_url`` for each message the fake accepts,
        as Meta does: ``sent`` (and any other of ``statuses``) with the message's wamid and
        its ``biz_opaque_callback_data`` echoed, ``delay`` seconds after accepting it — also
        when the answer to the send itself is dropped or late (an ambiguous send)."""

        def observe(event: str, subject: Any) -> None:
            if event == "message":
                task = asyncio.get_running_loop().create_task(self._post_statuses(subject))
                self._status_posts.add(task)
                task.add_done_callback(self._status_posts.discard)

        self._status_target = (webhook_url, app_secret, statuses, delay)
        self.observers.append(observe)

    async def _post_statuses(self, accepted: Accepted) -> None:
        from wahost.testing.payloads import make_status, signed_webhook

        assert self._status_target is not None
        url, secret, statuses, delay = self._status_target
        if delay:
            await asyncio.sleep(delay)
        message = accepted.message
        group = self.groups.get(accepted.wa_id) if message.recipient_type == "group" else None
        payloads: list[dict[str, Any]] = []
        for status in statuses:
            # A group send gets one sent (or failed) for the group and a delivered and a read
            # per participant (reference/cloudapi.md §12.4).
            participants: list[str | None] = [None]
            if group is not None and status not in ("sent", "failed"):
                participants = list(group.participants)
            for participant in participants:
                payloads.append(
                    make_status(
                        accepted.wamid,
                        status,
                        recipient=accepted.wa_id,
                        recipient_type="group" if group is not None else None,
                        participant=participant,
                        phone_number_id=accepted.phone_number_id,
                        biz_opaque_callback_data=message.biz_opaque_callback_data,
                    )
                )
        async with loopback_client(timeout=10) as http_client:
            for payload in payloads:
                body, headers = signed_webhook(payload, secret)
                # Meta retries until it gets a 200; so does the fake, briefly.
                for _ in range(50):
                    with contextlib.suppress(httpx.TransportError):
                        answer = await http_client.post(url, content=body, headers=headers)
                        if answer.status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                self.statuses_posted += 1

    def clear_failures(self) -> None:
        """Forget every injected failure not used yet."""
        self._failures.clear()

    # -- serving --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections += 1
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _read_request(connection, reader, writer)
                if request is None:
                    return
                recorded = self._record(*request)
                response = await self._answer(recorded)
                if response is None:  # dropped: close without a word
                    return
                recorded.status = response.status
                writer.write(_encode(connection, response))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            return
        except asyncio.CancelledError:
            # Cancelled by __aexit__: end quietly (asyncio logs a cancelled stream handler).
            if not self._closing:
                raise
        finally:
            self._connections.discard(task)
            writer.close()

    def _record(self, head: h11.Request, body: bytes) -> Recorded:
        target = urlsplit(head.target.decode("latin-1"))
        headers = {name.decode().lower(): value.decode("latin-1") for name, value in head.headers}
        authorization = headers.get("authorization")
        authorized = authorization is not None and hmac.compare_digest(
            authorization.encode("latin-1"), f"Bearer {self._token}".encode()
        )
        recorded = Recorded(
            method=head.method.decode(),
            path=target.path,
            query=target.query,
            headers=headers,
            body=body,
            json=None,
            form=None,
            at=time.monotonic(),
            authorized=authorized,
        )
        _decode_body(recorded)
        self.requests.append(recorded)
        return recorded

    async def _answer(self, recorded: Recorded) -> _Response | None:
        if not recorded.authorized:
            response = _graph_error(401, 190, _INVALID_TOKEN)
            challenge = f'OAuth "Facebook Platform" "invalid_token" "{_INVALID_TOKEN}"'
            response.headers.append(("www-authenticate", challenge))
            return response
        failure = next((f for f in self._failures if f.matches(recorded)), None)
        if failure is None:
            return self._safe_route(recorded)
        failure.hits += 1
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
        handled = self._safe_route(recorded) if failure.accept or failure.passthrough else None
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.drop:
            return None
        if failure.passthrough and handled is not None:
            return handled
        return failure._response()

    # -- media seeding --------------------------------------------------------------------
