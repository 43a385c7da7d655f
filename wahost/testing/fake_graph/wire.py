"""What the fake Graph API records and sends on the wire: requests, accepted messages,
media, answers, HTTP/1.1 framing with h11, multipart parsing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import h11

from wahost.outbound.parse import MessageBody, parse_message_body
from wahost.testing.fake_graph.catalogue import error_body

_PHRASES = frozenset(status.value for status in http.HTTPStatus)
_VERSION = re.compile(r"v[0-9]+\.[0-9]+")
_INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"


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
    the wamid it was given (``graph.sent[0]["to"]``, ``graph.sent[0]["wamid"]``).

    Attributes: ``wamid``, ``phone_number_id`` (sent from), ``wa_id`` (``to`` without ``+``),
    ``at`` (monotonic time), :attr:`body` (the JSON body exactly as sent) and :attr:`message`
    (the body read: ``graph.sent[0].message.interactive.buttons``).
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
    def message(self) -> MessageBody:
        """The body read as a message (:func:`wahost.outbound.parse_message_body`): its
        ``text``, ``interactive.buttons``, ``template.name``, ``media.caption``..."""
        message = parse_message_body(self)
        assert message is not None, "the fake accepts message bodies only"
        return message

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
        return self.message.text


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
class Group:
    """A group chat the fake knows (:meth:`FakeGraph.add_group`): its id, subject and
    participants (their numbers; the business is a member too and not listed)."""

    id: str
    subject: str
    participants: list[str]
    #: What the Groups API manages (:mod:`.groups_api`).
    description: str = ""
    join_approval_mode: str = "auto_approve"
    invite_link: str = ""
    created_at: int = 0
    suspended: bool = False
    #: Pending join requests: join_request_id -> wa_id.
    join_requests: dict[str, str] = field(default_factory=dict)
    #: wa_ids removed by the business (they cannot rejoin by the invite link).
    removed: set[str] = field(default_factory=set)
    picture: bytes | None = None


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
