"""The fake's resumable uploads (reference/cloudapi.md §18.6).

* ``POST /<APP_ID>/uploads?file_name&file_length&file_type`` opens a session:
  ``{"id": "upload:<n>?sig=<signature>"}``; a type Meta does not take, a missing name or a
  length that is not a positive number is answered code 100.
* ``POST /upload:<n>?sig=...`` with the bytes and a ``file_offset`` header (0 for a new upload)
  stores them when their length matches the session's and answers ``{"h": "<handle>"}``;
  ``GET /upload:<n>`` answers ``{"id", "file_offset"}``.

:attr:`UploadRoutes.uploads` keeps each handle's file (name, type and bytes).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from wahost.testing.fake_graph.checks import _invalid, _no_object
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response

_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")


@dataclass
class Uploaded:
    """A file given to a resumable upload session."""

    name: str
    type: str
    length: int
    data: bytes = b""


class UploadRoutes:
    """Resumable uploads, as a mixin of :class:`FakeGraph` placed before
    :class:`~.routes.GraphRoutes`; other requests go on to the next ``_route``."""

    #: Finished uploads by handle.
    uploads: dict[str, Uploaded]
    _sessions: dict[str, Uploaded]

    def _route(self, r: Recorded) -> _Response:
        parts = r.path.strip("/").split("/")
        if _VERSION.fullmatch(parts[0]) and all(parts):
            match r.method, parts[1:]:
                case "POST", [_app_id, "uploads"]:
                    return self._open_upload(r)
                case "POST" | "GET", [session] if session.startswith("upload:"):
                    return self._upload_session(session, r)
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def _open_upload(self, r: Recorded) -> _Response:
        params = r.params
        name, kind = params.get("file_name", ""), params.get("file_type", "")
        if not name:
            return _invalid("The parameter file_name is required.")
        if kind not in _TYPES:
            return _invalid(f"Param file_type must be one of {', '.join(_TYPES)}.")
        length = params.get("file_length", "")
        if not length.isdigit() or int(length) <= 0:
            return _invalid("Param file_length must be a positive integer.")
        session = f"upload:{len(self._sessions) + 1}"
        self._sessions[session] = Uploaded(name, kind, int(length))
        return _json_response({"id": f"{session}?sig={secrets.token_urlsafe(8)}"})

    def _upload_session(self, session: str, r: Recorded) -> _Response:
        upload = self._sessions.get(session)
        if upload is None:
            return _no_object(r.method.lower(), session)
        if r.method == "GET":
            return _json_response({"id": session, "file_offset": len(upload.data)})
        if r.headers.get("file_offset") != str(len(upload.data)):
            return _invalid(f"Header file_offset must be {len(upload.data)}.")
        data = upload.data + r.body
        if len(data) != upload.length:
            return _invalid(f"The file is {len(data)} bytes, not the {upload.length} announced.")
        upload.data = data
        handle: Any = f"4::{secrets.token_urlsafe(12)}"
        self.uploads[handle] = upload
        return _json_response({"h": handle})
