"""A fake Graph API: a real HTTP/1.1 server on loopback that answers in Meta's wire format.

For wahost's tests and plugin authors' tests: point ``[whatsapp] graph_url`` at it, run the
bot, then assert on what the fake received::

    async with FakeGraph() as graph:                       # token: TEST_TOKEN
        ...  # a host configured with graph_url = graph.url
        await graph.wait_for(1)
        assert graph.messages_to("16505551234")[0].text == "hello"

It answers sends, mark-read and typing (reference/cloudapi.md §6), media (§8), the Flows
public key (§9), conversational automation and the business profile (§11), and can fail on
demand with Meta's error bodies (§7): :meth:`FakeGraph.fail_next`, :meth:`FakeGraph.fail_when`,
including delayed answers and connections dropped after the request was read (the ambiguous
case). Built on ``asyncio`` streams and ``h11`` so that it controls each connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import http
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11

from wahost.testing.harness import TEST_TOKEN
from wahost.testing.payloads import new_wamid

__all__ = [
    "ERRORS",
    "Accepted",
    "Failure",
    "FakeGraph",
    "Media",
    "Recorded",
    "Upload",
    "error_body",
]

#: Meta's errors by code: (HTTP status, ``message``, ``error_data.details``, ``error_subcode``).
#: Texts from reference/cloudapi.md §7 and the ``send_error_*.json`` fixtures. Meta's pages
#: disagree on HTTP statuses; clients should key off ``code``, never the status.
ERRORS: dict[int, tuple[int, str, str, int | None]] = {
    1: (500, "(#1) An unknown error occurred", "Invalid request or possible server error.", None),
    2: (
        503,
        "(#2) Service temporarily unavailable",
        "Temporary due to downtime or due to being overloaded.",
        None,
    ),
    4: (
        400,
        "(#4) Application request limit reached",
        "The app has reached its API call rate limit.",
        None,
    ),
    100: (400, "(#100) Invalid parameter", "", None),
    190: (401, "Error validating access token: Session has expired.", "", 463),
    80007: (
        400,
        "(#80007) Rate limit issues",
        "The WhatsApp Business Account has reached its rate limit.",
        None,
    ),
    130429: (
        400,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
        2494055,
    ),
    131000: (
        500,
        "(#131000) Something went wrong",
        "Message failed to send due to an unknown error.",
        None,
    ),
    131016: (500, "(#131016) Service unavailable", "A service is temporarily unavailable.", None),
    131026: (
        400,
        "(#131026) Message undeliverable",
        "Unable to deliver message. The recipient may not be a WhatsApp user, may not have "
        "accepted the terms of service, or may use an old WhatsApp version.",
        None,
    ),
    131030: (
        400,
        "(#131030) Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: Add recipient phone number to recipient "
        "list and try again.",
        None,
    ),
    131047: (
        400,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
        None,
    ),
    131048: (
        400,
        "(#131048) Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be "
        "sent from this phone number. This may be because too many previous messages were "
        "blocked or flagged as spam.",
        None,
    ),
    131056: (
        400,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
        None,
    ),
}


def error_body(
    code: int,
    *,
    message: str | None = None,
    details: str | None = None,
    subcode: int | None = None,
) -> dict[str, Any]:
    """Meta's error body for ``code``: ``{"error": {"message", "type": "OAuthException",
    "code", "error_data"?: {"messaging_product", "details"}, "error_subcode"?, "fbtrace_id"}}``.
    Unknown codes get a generic message; ``message``/``details``/``subcode`` override."""
    _, known_message, known_details, known_subcode = ERRORS.get(
        code, (400, f"(#{code}) Error {code}", "", None)
    )
    error: dict[str, Any] = {
        "message": message or known_message,
        "type": "OAuthException",
        "code": code,
    }
    if details or known_details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or known_details}
    if subcode or known_subcode:
        error["error_subcode"] = subcode or known_subcode
    error["fbtrace_id"] = secrets.token_urlsafe(16)
    return {"error": error}


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Recorded:
    """One request the fake received, in arrival order (also the failed and dropped ones).

    ``query`` is the raw query string, :attr:`params` its decoded form.
    ``headers`` have lower-case names (``authorization`` included, for asserting on it; the
    repr hides its value); ``authorized`` says whether the bearer token was right. ``json`` /
    ``form`` are the decoded body when it was JSON / a URL-encoded or multipart form (file
    parts in ``files``).
    ``status`` is the HTTP status answered, ``None`` while pending or when dropped. ``at``:
    ``time.monotonic()`` when the request was read.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    form: dict[str, str] | None
    at: float
    files: dict[str, Upload] = field(default_factory=dict)
    authorized: bool = False
    status: int | None = None

    def __repr__(self) -> str:
        headers = {
            name: "<redacted>" if name == "authorization" else value
            for name, value in self.headers.items()
        }
        return (
            f"Recorded({self.method} {self.path}, query={self.query!r}, headers={headers}, "
            f"body={self.body[:200]!r}, status={self.status}, authorized={self.authorized})"
        )

    @property
    def params(self) -> dict[str, str]:
        """The query string decoded (the last value of a repeated name wins)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def version(self) -> str | None:
        """The Graph API version of the path (``"v24.0"``), ``None`` when it has none."""
        first = self.path.lstrip("/").split("/", 1)[0]
        return first if _VERSION.fullmatch(first) else None

    @property
    def is_message(self) -> bool:
        """A ``POST .../messages`` that sends a message (not a mark-read or typing
        indicator). Handy in :meth:`FakeGraph.fail_when` predicates."""
        return (
            self.method == "POST"
            and self.path.endswith("/messages")
            and isinstance(self.json, dict)
            and "status" not in self.json
        )


class Accepted(dict[str, Any]):
    """A message the fake accepted: this dict is the JSON body as sent plus a ``"wamid"`` key,
    the wamid it was given (``graph.sent[0]["text"]["body"]``, ``graph.sent[0]["wamid"]``).

    Attributes: ``wamid``, ``phone_number_id`` (sent from), ``wa_id`` (``to`` without ``+``),
    ``at`` (monotonic time) and :attr:`body` (the JSON body exactly as sent).
    """

    def __init__(
        self, body: dict[str, Any], *, wamid: str, phone_number_id: str, wa_id: str, at: float
    ) -> None:
        super().__init__(body, wamid=wamid)
        self.wamid = wamid
        self.phone_number_id = phone_number_id
        self.wa_id = wa_id
        self.at = at

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body as sent (without the ``wamid`` key)."""
        return {key: value for key, value in self.items() if key != "wamid"}

    @property
    def to(self) -> str:
        """``to`` as sent."""
        return str(self["to"])

    @property
    def type(self) -> str:
        """The message type (``text``, ``template``, ...)."""
        return str(self["type"])

    @property
    def text(self) -> str | None:
        """The body of a text message, else ``None``."""
        text = self.get("text")
        return text.get("body") if self.type == "text" and isinstance(text, dict) else None


@dataclass
class Media:
    """A media file the fake holds: uploaded, or seeded with :meth:`FakeGraph.add_media`."""

    id: str
    data: bytes
    mime_type: str
    filename: str | None = None

    @property
    def sha256(self) -> str:
        """Base64 SHA-256 of the bytes, as Meta gives it."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


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


@dataclass
class _Response:
    """An answer of the fake."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_response(
    data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> _Response:
    """A JSON answer, compact as Graph sends it."""
    return _Response(
        status, json.dumps(data, separators=(",", ":")).encode(), headers=headers or []
    )


def _graph_error(status: int, code: int, message: str, **extra: Any) -> _Response:
    """A Graph error answer with an explicit message (validation, auth, unknown paths)."""
    body = error_body(code, message=message)
    body["error"].pop("error_data", None)
    body["error"].pop("error_subcode", None)
    body["error"].update(extra)
    return _json_response(body, status)


_PHRASES = frozenset(status.value for status in http.HTTPStatus)
_VERSION = re.compile(r"v[0-9]+\.[0-9]+")
_INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"
_MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
_MESSAGE_TYPES = _MEDIA_TYPES | {
    "text", "location", "contacts", "interactive", "template", "reaction"
}  # fmt: skip


def _invalid(details: str) -> _Response:
    return _json_response(error_body(100, details=details), 400)


def _no_object(method: str, node: str) -> _Response:
    message = (
        f"Unsupported {method} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return _graph_error(400, 100, message, error_subcode=33)


def _not_found(r: Recorded) -> _Response:
    return _graph_error(404, 100, f"(#100) Unknown path components: {r.method} {r.path}")


def _check_object(kind: str, obj: Any) -> str | None:
    """What is wrong with the object of a message of type ``kind`` (§6), minimally."""
    if kind == "contacts":
        if not isinstance(obj, list) or not obj:
            return "Param contacts must be a non-empty array."
        names = [c.get("name") if isinstance(c, dict) else None for c in obj]
        if not all(isinstance(name, dict) and name.get("formatted_name") for name in names):
            return "Param contacts[].name.formatted_name is required."
        return None
    if not isinstance(obj, dict):
        return f"The parameter {kind} is required."
    required: dict[str, tuple[str, ...]] = {
        "text": ("body",),
        "location": ("latitude", "longitude"),
        "interactive": ("type", "action"),
        "reaction": ("message_id",),
        "template": ("name", "language"),
    }
    missing = [name for name in required.get(kind, ()) if obj.get(name) in (None, "")]
    if missing:
        return f"The parameter {kind}.{missing[0]} is required."
    if kind in _MEDIA_TYPES and not (obj.get("id") or obj.get("link")):
        return f"Param {kind} must have an id or a link."
    if kind == "reaction" and not isinstance(obj.get("emoji"), str):
        return "The parameter reaction.emoji is required (empty to remove the reaction)."
    language = obj.get("language")
    if kind == "template" and not (isinstance(language, dict) and language.get("code")):
        return "The parameter template.language.code is required."
    return None


def _check_automation(body: dict[str, Any]) -> str | None:
    """What breaks the limits of conversational components (§11), if anything."""
    commands = body.get("commands", [])
    prompts = body.get("prompts", [])
    if not isinstance(commands, list) or len(commands) > 30:
        return "Param commands must be an array of at most 30 commands."
    for command in commands:
        if not isinstance(command, dict):
            return "Param commands[] must be objects."
        name, description = command.get("command_name"), command.get("command_description")
        if not isinstance(name, str) or not 0 < len(name) <= 32:
            return "Param commands[].command_name must have 1 to 32 characters."
        if not isinstance(description, str) or not 0 < len(description) <= 256:
            return "Param commands[].command_description must have 1 to 256 characters."
    if not isinstance(prompts, list) or len(prompts) > 4:
        return "Param prompts must be an array of at most 4 ice breakers."
    if not all(isinstance(p, str) and 0 < len(p) <= 80 for p in prompts):
        return "Param prompts[] must have 1 to 80 characters."
    if not isinstance(body.get("enable_welcome_message", False), bool):
        return "Param enable_welcome_message must be a boolean."
    return None


class FakeGraph:
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
        #: Per phone number id: Flows public key (PEM), conversational automation, profile.
        self.business_public_keys: dict[str, str] = {}
        self.conversational_automation: dict[str, dict[str, Any]] = {}
        self.business_profiles: dict[str, dict[str, Any]] = {}
        #: Messages answered 130429 / 131056 by the rate enforcement.
        self.throttled = 0
        self.pair_limited = 0
        #: TCP connections accepted so far (keep-alive reuses them).
        self.connections = 0
        self._failures: list[Failure] = []
        self._rate: dict[str, deque[float]] = {}
        self._pairs: dict[tuple[str, str], deque[float]] = {}
        self._progress = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._closing = False
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
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- what tests use -------------------------------------------------------------------

    @property
    def other_versions(self) -> list[str]:
        """Graph API versions used by requests other than ``api_version``, sorted."""
        versions = {r.version for r in self.requests if r.version is not None}
        return sorted(versions - {self.api_version})

    def messages_to(self, recipient: str) -> list[Accepted]:
        """The accepted messages to ``recipient`` (with or without ``+``), in order."""
        wa_id = _wa_id(recipient)
        return [sent for sent in self.sent if sent.wa_id == wa_id]

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

    def add_media(self, data: bytes, mime_type: str, *, filename: str | None = None) -> str:
        """Hold ``data`` as a media file (an inbound image, say) and return its new media id,
        to put in a webhook; the client can then get its URL and download it."""
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        while media_id in self.media or media_id in self.deleted_media:
            media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.media[media_id] = Media(media_id, data, mime_type, filename)
        return media_id

    def media_url(self, media_id: str) -> str:
        """A download URL of ``media_id`` on this server that works for ``media_url_ttl``
        seconds (as Meta's lookaside URLs do)."""
        expires = int(time.time() + self.media_url_ttl)
        signature = self._url_hash(media_id, expires)
        return (
            f"{self.url}/whatsapp_business/attachments/"
            f"?mid={media_id}&ext={expires}&hash={signature}"
        )

    def _url_hash(self, media_id: str, expires: int) -> str:
        message = f"{media_id}:{expires}".encode()
        return hmac.new(self._token.encode(), message, hashlib.sha256).hexdigest()[:32]

    # -- routes ---------------------------------------------------------------------------

    def _safe_route(self, r: Recorded) -> _Response:
        try:
            return self._route(r)
        except Exception as exc:  # a bug of the fake or a body it did not expect: say so
            return _json_response(error_body(1, details=f"the fake Graph API failed: {exc!r}"), 500)

    def _route(self, r: Recorded) -> _Response:
        """The normal answer to an authorized request."""
        parts = r.path.strip("/").split("/")
        if parts[:2] == ["whatsapp_business", "attachments"]:
            return self._download(r)
        if not _VERSION.fullmatch(parts[0]) or not all(parts):
            return _not_found(r)
        match r.method, parts[1:]:
            case "POST", [pnid, "messages"]:
                return self._messages(pnid, r)
            case "POST", [pnid, "media"]:
                return self._upload(r)
            case "GET", [node]:
                return self._get_node(node, r)
            case "DELETE", [node]:
                if node not in self.media:
                    return _no_object("delete", node)
                del self.media[node]
                self.deleted_media.add(node)
                return _json_response({"success": True})
            case "GET" | "POST", [pnid, "whatsapp_business_encryption"]:
                return self._encryption(pnid, r)
            case "POST", [pnid, "conversational_automation"]:
                return self._automation(pnid, r)
            case "GET" | "POST", [pnid, "whatsapp_business_profile"]:
                return self._profile(pnid, r)
        return _not_found(r)

    def _messages(self, pnid: str, r: Recorded) -> _Response:
        body = r.json
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        if "status" in body:  # mark as read, maybe with a typing indicator (§6)
            message_id = body.get("message_id")
            if body["status"] != "read" or not isinstance(message_id, str) or not message_id:
                return _invalid('Param status must be "read", with the message_id to mark.')
            typing = body.get("typing_indicator")
            if typing is not None and typing != {"type": "text"}:
                return _invalid('Param typing_indicator must be {"type": "text"}.')
            self.marked_read.append(message_id)
            if typing is not None:
                self.typing.append(message_id)
            return _json_response({"success": True})
        to, kind = body.get("to"), body.get("type")
        if not isinstance(to, str) or not to:
            return _invalid("The parameter to is required.")
        if not isinstance(kind, str) or kind not in _MESSAGE_TYPES:
            return _invalid(f"Param type must be one of {sorted(_MESSAGE_TYPES)}.")
        if body.get("recipient_type", "individual") not in ("individual", "group"):
            return _invalid('Param recipient_type must be "individual" or "group".')
        problem = _check_object(kind, body.get(kind))
        if problem is not None:
            return _invalid(problem)
        wa_id = _wa_id(to)
        limited = self._rate_limited(pnid, wa_id)
        if limited is not None:
            return limited
        wamid = new_wamid(wa_id, outbound=True)
        self.sent.append(Accepted(body, wamid=wamid, phone_number_id=pnid, wa_id=wa_id, at=r.at))
        self._progress.set()
        message = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return _json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message],
            }
        )

    def _rate_limited(self, pnid: str, wa_id: str) -> _Response | None:
        """130429 / 131056 when accepting a message now would break the configured rates."""
        now = time.monotonic()
        if self.messages_per_second is not None:
            window = self._rate.setdefault(pnid, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.messages_per_second:
                self.throttled += 1
                return _json_response(error_body(130429), ERRORS[130429][0])
        if self.pair_interval is not None:
            pair = self._pairs.setdefault((pnid, wa_id), deque())
            while pair and now - pair[0] >= self.pair_interval:
                pair.popleft()
            if len(pair) >= self.pair_burst:
                self.pair_limited += 1
                return _json_response(error_body(131056), ERRORS[131056][0])
        self._rate.setdefault(pnid, deque()).append(now)
        self._pairs.setdefault((pnid, wa_id), deque()).append(now)
        return None

    def _upload(self, r: Recorded) -> _Response:
        form = r.form or {}
        if form.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        upload = r.files.get("file")
        if upload is None:
            return _invalid("The parameter file is required.")
        if not form.get("type"):
            return _invalid("The parameter type is required.")
        return _json_response(
            {"id": self.add_media(upload.data, form["type"], filename=upload.filename)}
        )

    def _get_node(self, node: str, r: Recorded) -> _Response:
        media = self.media.get(node)
        if media is not None:
            return _json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": self.media_url(node),
                    "mime_type": media.mime_type,
                    "sha256": media.sha256,
                    "file_size": len(media.data),
                    "id": node,
                }
            )
        fields = [name for name in r.params.get("fields", "").split(",") if name]
        if not fields or node in self.deleted_media:
            return _no_object("get", node)
        # Any other node read with ?fields= is taken for a phone number id.
        answer: dict[str, Any] = {}
        if "conversational_automation" in fields and node in self.conversational_automation:
            answer["conversational_automation"] = self.conversational_automation[node]
        answer["id"] = node
        return _json_response(answer)

    def _download(self, r: Recorded) -> _Response:
        media = self.media.get(r.params.get("mid", ""))
        expires = r.params.get("ext", "")
        if (
            media is None
            or not expires.isdigit()
            or int(expires) < time.time()
            or not hmac.compare_digest(
                r.params.get("hash", ""), self._url_hash(media.id, int(expires))
            )
        ):
            return _graph_error(404, 100, "(#100) The media URL is invalid or has expired.")
        return _Response(200, media.data, media.mime_type)

    def _encryption(self, pnid: str, r: Recorded) -> _Response:
        if r.method == "GET":
            key = self.business_public_keys.get(pnid)
            if key is None:  # Meta's answer before any upload is undocumented
                return _json_response({})
            return _json_response(
                {"business_public_key": key, "business_public_key_signature_status": "VALID"}
            )
        params = r.form if r.form is not None else r.json
        key = params.get("business_public_key") if isinstance(params, dict) else None
        if not isinstance(key, str) or "-----BEGIN PUBLIC KEY-----" not in key:
            return _invalid("Param business_public_key must be a PEM public key.")
        self.business_public_keys[pnid] = key
        return _json_response({"success": True})

    def _automation(self, pnid: str, r: Recorded) -> _Response:
        body = r.json
        if not isinstance(body, dict):
            return _invalid("The body must be a JSON object.")
        problem = _check_automation(body)
        if problem is not None:
            return _invalid(problem)
        stored = self.conversational_automation.setdefault(pnid, {})
        for name in ("enable_welcome_message", "prompts", "commands"):
            if name in body:
                stored[name] = body[name]
        return _json_response({"success": True})

    def _profile(self, pnid: str, r: Recorded) -> _Response:
        profile = self.business_profiles.setdefault(pnid, {"messaging_product": "whatsapp"})
        if r.method == "GET":
            return _json_response({"data": [profile]})
        body = r.json if isinstance(r.json, dict) else (r.form or {})
        if body.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        profile.update(body)
        return _json_response({"success": True})


def _wa_id(recipient: str) -> str:
    digits = "".join(ch for ch in recipient if ch.isdigit())
    return digits or recipient


async def _read_request(
    connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[h11.Request, bytes] | None:
    """The next whole request on ``connection``, ``None`` when the client closed it."""
    head: h11.Request | None = None
    chunks: list[bytes] = []
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            if connection.they_are_waiting_for_100_continue:
                writer.write(
                    connection.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _encode(connection: h11.Connection, response: _Response) -> bytes:
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        *response.headers,
    ]
    out = connection.send(h11.Response(status_code=response.status, headers=headers)) or b""
    out += connection.send(h11.Data(data=response.body)) or b""
    return out + (connection.send(h11.EndOfMessage()) or b"")


def _decode_body(recorded: Recorded) -> None:
    """Fill ``json`` / ``form`` / ``files`` from the body and its content type."""
    content_type = recorded.headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        recorded.form = dict(parse_qsl(recorded.body.decode("utf-8", "replace"), True))
    elif kind == "multipart/form-data":
        boundary = re.search(r'boundary="?([^";]+)"?', content_type)
        if boundary is not None:
            recorded.form, recorded.files = _parse_multipart(
                recorded.body, boundary.group(1).encode()
            )
    elif recorded.body:
        with contextlib.suppress(ValueError):
            recorded.json = json.loads(recorded.body)


def _parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    form: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if name_match is None:
            continue
        filename = re.search(r'filename="([^"]*)"', disposition)
        if filename is not None or "content-type" in headers:
            files[name_match.group(1)] = Upload(
                filename.group(1) if filename else None, headers.get("content-type"), data
            )
        else:
            form[name_match.group(1)] = data.decode("utf-8", "replace")
    return form, files
