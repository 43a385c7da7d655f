"""The fake's Groups API (reference/cloudapi.md §12.6, errors §12.7).

* ``POST /<PNID>/groups`` creates a group at once and answers ``{"request_id"}`` (pywa's
  reading; Meta's page shows no answer); the ``group_lifecycle_update`` item Meta would send
  is appended to :attr:`GroupsApiRoutes.group_webhooks`, as are those of deletes, removals
  and settings changes.
* ``GET /<PNID>/groups`` lists with ``data: {"groups": [...]}`` (an object, as Meta's) and
  cursors; ``GET /<GROUP_ID>?fields=`` reads one (no ``fields``: only the id).
* ``DELETE /<GROUP_ID>``; ``GET|POST /<GROUP_ID>/invite_link`` (a POST invalidates the old
  link); ``GET|POST|DELETE /<GROUP_ID>/join_requests``; ``DELETE /<GROUP_ID>/participants``
  (131212 for a user not in the group); ``POST /<GROUP_ID>`` (subject, description, or a
  multipart ``profile_picture_file`` JPEG: 131209 not square, 131210 under 192 px).

An unknown group id is answered 131041, a suspended group 131207 (HTTP 403). The test adds
join requests with :meth:`GroupsApiRoutes.add_join_request`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from wahost.account.validation import jpeg_size
from wahost.testing.fake_graph.catalogue import ERRORS, error_body
from wahost.testing.fake_graph.checks import _invalid
from wahost.testing.fake_graph.wire import (
    _VERSION,
    Group,
    Recorded,
    _json_response,
    _Response,
    _wa_id,
)

_FIELDS = {
    "subject",
    "description",
    "suspended",
    "creation_timestamp",
    "participants",
    "total_participant_count",
    "join_approval_mode",
}


def _error(code: int, details: str | None = None) -> _Response:
    return _json_response(error_body(code, details=details), ERRORS.get(code, (400,))[0])


def _invite_link() -> str:
    return "https://chat.whatsapp.com/" + secrets.token_urlsafe(16)


class GroupsApiRoutes:
    """The Groups management API, as a mixin of :class:`FakeGraph` placed before
    :class:`~.routes.GraphRoutes`; other requests go on to the next ``_route``."""

    groups: dict[str, Group]
    #: ``(field, groups[] item)`` of the group webhooks Meta would send, in order.
    group_webhooks: list[tuple[str, dict[str, Any]]]
    #: Ids of groups deleted through the API: answered 131041 since.
    deleted_groups: set[str]

    def _route(self, r: Recorded) -> _Response:
        answer = self._groups_route(r)
        if answer is not None:
            return answer
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def add_join_request(self, group_id: str, user: str) -> str:
        """A pending request of ``user`` (a number) to join ``group_id``; returns its id."""
        request_id = str(10**14 + secrets.randbelow(9 * 10**14))
        self.groups[group_id].join_requests[request_id] = _wa_id(user)
        return request_id

    def _groups_route(self, r: Recorded) -> _Response | None:
        parts = r.path.strip("/").split("/")
        if not (_VERSION.fullmatch(parts[0]) and all(parts)):
            return None
        match r.method, parts[1:]:
            case "POST", [pnid, "groups"]:
                return self._create_group(pnid, r)
            case "GET", [_pnid, "groups"]:
                return self._list_groups(r)
            case _, [group_id, "invite_link" | "join_requests" | "participants" as what]:
                group = self.groups.get(group_id)
                if group is None:
                    return _error(131041)
                if group.suspended:
                    return _error(131207)
                if what == "invite_link":
                    return self._invite(group, r)
                if what == "join_requests":
                    return self._join_requests(group, r)
                if r.method == "DELETE":
                    return self._remove(group, r)
            case "GET" | "POST" | "DELETE", [group_id] if group_id in self.groups:
                return self._group_node(self.groups[group_id], r)
            case _, [group_id, *_] if group_id in self.deleted_groups:
                return _error(131041)
        return None

    def _create_group(self, pnid: str, r: Recorded) -> _Response:
        body = r.json if isinstance(r.json, dict) else {}
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip() or len(subject.strip()) > 128:
            return _invalid("Param subject must be 1 to 128 characters.")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 2048:
            return _invalid("Param description must be at most 2048 characters.")
        mode = body.get("join_approval_mode", "auto_approve")
        if mode not in ("auto_approve", "approval_required"):
            return _invalid(
                'Param join_approval_mode must be "auto_approve" or "approval_required".'
            )
        if len(self.groups) >= 10_000:
            return _error(131211)
        group_id = "Y2FwaV9ncm91cD" + secrets.token_hex(16).upper()
        group = Group(
            group_id,
            subject.strip(),
            [],
            description=description,
            join_approval_mode=mode,
            invite_link=_invite_link(),
            created_at=int(time.time()),
        )
        self.groups[group_id] = group
        request_id = secrets.token_hex(12)
        self.group_webhooks.append(
            (
                "group_lifecycle_update",
                {
                    "timestamp": str(group.created_at),
                    "group_id": group_id,
                    "type": "group_create",
                    "request_id": request_id,
                    "subject": group.subject,
                    "invite_link": group.invite_link,
                    "join_approval_mode": mode,
                },
            )
        )
        return _json_response({"request_id": request_id})

    def _list_groups(self, r: Recorded) -> _Response:
        params = r.params
        try:
            limit = int(params.get("limit", "25"))
            start = int(params.get("after", "0"))
        except ValueError:
            return _error(131059)
        if not 1 <= limit <= 1024:
            return _invalid("Param limit must be between 1 and 1024.")
        every = list(self.groups.values())
        page = every[start : start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + limit)}}
        if start + limit < len(every):
            paging["next"] = f"{r.path}?limit={limit}&after={start + limit}"
        listed = [{"id": g.id, "subject": g.subject, "created_at": g.created_at} for g in page]
        return _json_response({"data": {"groups": listed}, "paging": paging})

    def _group_node(self, group: Group, r: Recorded) -> _Response:
        if group.suspended:
            return _error(131207)
        if r.method == "GET":
            return self._read_group(group, r)
        if r.method == "DELETE":
            del self.groups[group.id]
            self.deleted_groups.add(group.id)
            self._group_event("group_lifecycle_update", group, "group_delete")
            return _json_response({"request_id": secrets.token_hex(12)})
        return self._settings(group, r)

    def _read_group(self, group: Group, r: Recorded) -> _Response:
        fields = [f for f in r.params.get("fields", "").split(",") if f]
        unknown = [f for f in fields if f not in _FIELDS]
        if unknown:
            return _invalid(
                f"Tried accessing nonexisting field ({unknown[0]}) on node type (Group)."
            )
        values: dict[str, Any] = {
            "subject": group.subject,
            "description": group.description,
            "suspended": group.suspended,
            "creation_timestamp": group.created_at,
            "participants": [{"wa_id": p} for p in group.participants],
            "total_participant_count": len(group.participants),
            "join_approval_mode": group.join_approval_mode,
        }
        answer = {"messaging_product": "whatsapp", "id": group.id}
        answer.update({f: values[f] for f in fields})
        return _json_response(answer)

    def _invite(self, group: Group, r: Recorded) -> _Response:
        if r.method == "POST":
            group.invite_link = _invite_link()
        elif r.method != "GET":
            return _invalid("invite_link takes GET or POST.")
        if not group.invite_link:
            group.invite_link = _invite_link()
        return _json_response({"messaging_product": "whatsapp", "invite_link": group.invite_link})

    def _join_requests(self, group: Group, r: Recorded) -> _Response:
        if r.method == "GET":
            data = [
                {"join_request_id": rid, "wa_id": wa_id, "creation_timestamp": group.created_at}
                for rid, wa_id in group.join_requests.items()
            ]
            return _json_response({"data": data, "paging": {"cursors": {}}})
        body = r.json if isinstance(r.json, dict) else {}
        wanted = body.get("join_requests")
        if not isinstance(wanted, list) or not wanted:
            return _invalid("Param join_requests must be a non-empty array.")
        done: list[str] = []
        failed: list[dict[str, Any]] = []
        added: list[dict[str, str]] = []
        for rid in wanted:
            wa_id = group.join_requests.pop(str(rid), None)
            if wa_id is None:
                unknown = error_body(100, details=f"join request {rid} not found")["error"]
                failed.append({"join_request_id": str(rid), "errors": [unknown]})
                continue
            done.append(str(rid))
            if r.method == "POST":
                group.participants.append(wa_id)
                added.append({"wa_id": wa_id})
        outcome = "approved" if r.method == "POST" else "rejected"
        answer: dict[str, Any] = {"messaging_product": "whatsapp", f"{outcome}_join_requests": done}
        if failed:
            answer["failed_join_requests"] = failed
            answer["errors"] = [error_body(131201)["error"]]
        if added:
            self._group_event(
                "group_participants_update",
                group,
                "group_participants_add",
                reason="invite_link",
                added_participants=added,
            )
        return _json_response(answer, 206 if failed and done else 200)

    def _remove(self, group: Group, r: Recorded) -> _Response:
        body = r.json if isinstance(r.json, dict) else {}
        wanted = body.get("participants")
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 8:
            return _invalid("Param participants must be an array of 1 to 8 users.")
        users = [_wa_id(str(p.get("user", ""))) if isinstance(p, dict) else "" for p in wanted]
        missing = [u for u in users if u not in group.participants]
        if missing:
            return _error(131212, f"{missing[0]} is not a participant of the group.")
        for user in users:
            group.participants.remove(user)
            group.removed.add(user)
        self._group_event(
            "group_participants_update",
            group,
            "group_participants_remove",
            removed_participants=[{"input": p["user"]} for p in wanted],
            initiated_by="business",
        )
        return _json_response({"request_id": secrets.token_hex(12)})

    def _settings(self, group: Group, r: Recorded) -> _Response:
        body: dict[str, Any] = r.json if isinstance(r.json, dict) else dict(r.form or {})
        change: dict[str, Any] = {}
        if "subject" in body:
            subject = body["subject"]
            if not isinstance(subject, str) or not subject.strip() or len(subject) > 128:
                return _invalid("Param subject must be 1 to 128 characters.")
            group.subject = subject.strip()
            change["group_subject"] = {"text": group.subject, "update_successful": True}
        if "description" in body:
            description = body["description"]
            if not isinstance(description, str) or len(description) > 2048:
                return _invalid("Param description must be at most 2048 characters.")
            group.description = description
            change["group_description"] = {"text": description, "update_successful": True}
        upload = r.files.get("profile_picture_file")
        if upload is not None:
            size = jpeg_size(upload.data)
            if size is None:
                return _invalid("The profile picture must be a JPEG.")
            if size[0] != size[1]:
                return _error(131209)
            if size[0] < 192:
                return _error(131210)
            group.picture = upload.data
            change["profile_picture"] = {"mime_type": "image/jpeg", "update_successful": True}
        if not change:
            return _invalid("Give a subject, a description or a profile_picture_file.")
        self._group_event("group_settings_update", group, "group_settings_update", **change)
        return _json_response({"request_id": secrets.token_hex(12)})

    def _group_event(self, field: str, group: Group, kind: str, **extra: Any) -> None:
        item = {"timestamp": str(int(time.time())), "group_id": group.id, "type": kind, **extra}
        self.group_webhooks.append((field, item))
