"""The Groups API for plugins and the CLI (reference/cloudapi.md §12.6).

``GroupsApi(host.client)`` manages the group chats of the client's phone number: create,
get, list, delete; the invite link; join requests; removing participants; the subject,
description and picture. Meta's limits are checked before any request (a ``ValueError``
naming the argument); Meta's refusals are :class:`wahost.errors.GraphError` with the code
(§12.7: 131041 unknown group, 131212 not a participant, 131207 suspended, ...).

Several answers are known only from an open-source client, not from Meta's text (§12.6,
UNVERIFIED): create, delete, remove and settings answer ``{"request_id"}`` or nothing, and
the outcome comes later as a ``group_*`` webhook; this module reads them tolerantly and
returns the ``request_id`` when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from wahost.account import validation
from wahost.graph import GraphClient

__all__ = [
    "DESCRIPTION_MAX",
    "GROUP_FIELDS",
    "PARTICIPANTS_MAX",
    "PICTURE_MAX_BYTES",
    "PICTURE_MIN_SIDE",
    "SUBJECT_MAX",
    "GroupInfo",
    "GroupPage",
    "GroupSummary",
    "GroupsApi",
    "JoinRequest",
    "JoinRequestsPage",
    "JoinRequestsResult",
    "Participant",
]

#: Meta's limits (§12.1, §12.6).
SUBJECT_MAX = 128
DESCRIPTION_MAX = 2048
PARTICIPANTS_MAX = 8
LIST_LIMIT_MAX = 1024
PICTURE_MAX_BYTES = 5 * 1024 * 1024
PICTURE_MIN_SIDE = 192
#: The fields :meth:`GroupsApi.get` asks for by default (without ``fields`` Meta answers
#: only the id).
GROUP_FIELDS = (
    "subject",
    "description",
    "suspended",
    "creation_timestamp",
    "participants",
    "total_participant_count",
    "join_approval_mode",
)

JoinApprovalMode = Literal["auto_approve", "approval_required"]


class Participant(msgspec.Struct, kw_only=True):
    """A member of a group (the business is not listed); BSUID fields when Meta sends them."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None


class GroupInfo(msgspec.Struct, kw_only=True):
    """``GET /<GROUP_ID>``; fields not asked for are ``None``. ``total_participant_count``
    does not count the business."""

    id: str
    subject: str | None = None
    description: str | None = None
    suspended: bool | None = None
    creation_timestamp: int | str | None = None
    participants: list[Participant] | None = None
    total_participant_count: int | None = None
    join_approval_mode: str | None = None


class GroupSummary(msgspec.Struct, kw_only=True):
    id: str
    subject: str | None = None
    created_at: int | str | None = None


class _Cursors(msgspec.Struct):
    before: str | None = None
    after: str | None = None


class _Paging(msgspec.Struct):
    cursors: _Cursors = msgspec.field(default_factory=_Cursors)
    next: str | None = None


class GroupPage(msgspec.Struct, kw_only=True):
    """One page of :meth:`GroupsApi.list`; ``after`` is the cursor of the next page
    (``None`` on the last)."""

    groups: list[GroupSummary]
    after: str | None = None
    before: str | None = None


class JoinRequest(msgspec.Struct, kw_only=True):
    join_request_id: str
    wa_id: str | None = None
    user_id: str | None = None
    creation_timestamp: int | str | None = None


class JoinRequestsPage(msgspec.Struct, kw_only=True):
    requests: list[JoinRequest]
    after: str | None = None


class FailedItem(msgspec.Struct, kw_only=True):
    """An id Meta could not act on, with its errors as Meta gave them."""

    id: str
    errors: list[dict[str, Any]] = msgspec.field(default_factory=list)


class JoinRequestsResult(msgspec.Struct, kw_only=True):
    """What :meth:`GroupsApi.approve` / :meth:`GroupsApi.reject` did: the ids done and
    those that failed (Meta answers a partial success with code 131201)."""

    done: list[str]
    failed: list[FailedItem] = msgspec.field(default_factory=list)


def _page(answer: Any) -> tuple[str | None, str | None]:
    paging = msgspec.convert((answer or {}).get("paging") or {}, _Paging)
    after = paging.cursors.after if paging.next else None
    return after, paging.cursors.before


def _request_id(answer: Any) -> str | None:
    value = answer.get("request_id") if isinstance(answer, dict) else None
    return str(value) if value is not None else None


class GroupsApi:
    """The group chats of one phone number (the client's configured one by default)."""

    def __init__(self, client: GraphClient, phone_number_id: str | None = None) -> None:
        self.client = client
        self.phone_number_id = phone_number_id or client.phone_number_id

    async def create(
        self,
        subject: str,
        *,
        description: str | None = None,
        join_approval_mode: JoinApprovalMode = "auto_approve",
    ) -> str | None:
        """Ask Meta to create a group; returns the ``request_id`` (when Meta gives one). The
        group's id and invite link come in the ``group_lifecycle_update`` webhook
        (``group_create``), whose ``request_id`` is this one."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "subject": validation.text(subject, "subject", SUBJECT_MAX),
        }
        if description is not None:
            body["description"] = validation.text(
                description, "description", DESCRIPTION_MAX, allow_empty=True
            )
        if join_approval_mode not in ("auto_approve", "approval_required"):
            raise ValueError(
                "join_approval_mode: must be 'auto_approve' or 'approval_required' "
                f"(got {join_approval_mode!r})"
            )
        body["join_approval_mode"] = join_approval_mode
        answer = await self.client.request(
            "POST", f"/{self.phone_number_id}/groups", json=body, retry=False
        )
        return _request_id(answer)

    async def get(self, group_id: str, fields: Sequence[str] = GROUP_FIELDS) -> GroupInfo:
        """One group, with ``fields`` (all of :data:`GROUP_FIELDS` by default)."""
        unknown = sorted(set(fields) - set(GROUP_FIELDS))
        if unknown:
            raise ValueError(f"fields: unknown {', '.join(unknown)} (known: {GROUP_FIELDS})")
        answer = await self.client.request(
            "GET", f"/{_group(group_id)}", params={"fields": ",".join(fields)}
        )
        return msgspec.convert(answer, GroupInfo)

    async def list(
        self, *, limit: int = 25, after: str | None = None, before: str | None = None
    ) -> GroupPage:
        """One page of the number's groups (``limit`` 1 to 1024)."""
        params: dict[str, Any] = {"limit": validation.page_limit(limit, "limit", LIST_LIMIT_MAX)}
        if after:
            params["after"] = after
        if before:
            params["before"] = before
        answer = await self.client.request("GET", f"/{self.phone_number_id}/groups", params=params)
        # Meta's ``data`` is an object holding ``groups`` (§12.6); a list is read too.
        data = (answer or {}).get("data") or {}
        groups = data.get("groups", []) if isinstance(data, dict) else data
        next_after, previous = _page(answer)
        return GroupPage(
            groups=msgspec.convert(groups, list[GroupSummary]), after=next_after, before=previous
        )

    async def delete(self, group_id: str) -> str | None:
        """Delete the group: everyone is removed, the business too."""
        return _request_id(await self.client.request("DELETE", f"/{_group(group_id)}"))

    async def invite_link(self, group_id: str) -> str:
        """The group's current invite link (``https://chat.whatsapp.com/...``)."""
        answer = await self.client.request("GET", f"/{_group(group_id)}/invite_link")
        return str(answer["invite_link"])

    async def reset_invite_link(self, group_id: str) -> str:
        """A new invite link; every earlier link of the group stops working."""
        answer = await self.client.request(
            "POST",
            f"/{_group(group_id)}/invite_link",
            json={"messaging_product": "whatsapp"},
            retry=False,
        )
        return str(answer["invite_link"])

    async def join_requests(self, group_id: str, *, after: str | None = None) -> JoinRequestsPage:
        """Pending requests to join (groups with ``approval_required``)."""
        params = {"after": after} if after else None
        answer = await self.client.request(
            "GET", f"/{_group(group_id)}/join_requests", params=params
        )
        next_after, _ = _page(answer)
        requests = msgspec.convert((answer or {}).get("data") or [], list[JoinRequest])
        return JoinRequestsPage(requests=requests, after=next_after)

    async def approve(self, group_id: str, join_request_ids: Sequence[str]) -> JoinRequestsResult:
        """Let these requesters in (each fires ``group_participants_add``)."""
        return await self._join_requests("POST", group_id, join_request_ids, "approved")

    async def reject(self, group_id: str, join_request_ids: Sequence[str]) -> JoinRequestsResult:
        """Refuse these requests (Meta sends no webhook for it)."""
        return await self._join_requests("DELETE", group_id, join_request_ids, "rejected")

    async def _join_requests(
        self, method: str, group_id: str, join_request_ids: Sequence[str], outcome: str
    ) -> JoinRequestsResult:
        wanted = validation.ids(join_request_ids, "join_request_ids", 1024)
        answer = await self.client.request(
            method,
            f"/{_group(group_id)}/join_requests",
            json={"messaging_product": "whatsapp", "join_requests": wanted},
            retry=False,
        )
        answer = answer or {}
        done = [str(i) for i in answer.get(f"{outcome}_join_requests") or []]
        failed = [
            FailedItem(id=str(item.get("join_request_id", "")), errors=item.get("errors") or [])
            for item in answer.get("failed_join_requests") or []
        ]
        return JoinRequestsResult(done=done, failed=failed)

    async def remove_participants(self, group_id: str, users: Sequence[str]) -> str | None:
        """Remove members (phone numbers or wa_ids, at most 8); they cannot come back by the
        invite link. The outcome comes as ``group_participants_remove``."""
        wanted = validation.ids(users, "users", PARTICIPANTS_MAX)
        answer = await self.client.request(
            "DELETE",
            f"/{_group(group_id)}/participants",
            json={"messaging_product": "whatsapp", "participants": [{"user": u} for u in wanted]},
            retry=False,
        )
        return _request_id(answer)

    async def update(
        self, group_id: str, *, subject: str | None = None, description: str | None = None
    ) -> str | None:
        """Change the subject and/or the description (``""`` clears the description)."""
        body: dict[str, Any] = {"messaging_product": "whatsapp"}
        if subject is not None:
            body["subject"] = validation.text(subject, "subject", SUBJECT_MAX)
        if description is not None:
            body["description"] = validation.text(
                description, "description", DESCRIPTION_MAX, allow_empty=True
            )
        if len(body) == 1:
            raise ValueError("update: give a subject or a description")
        answer = await self.client.request("POST", f"/{_group(group_id)}", json=body, retry=False)
        return _request_id(answer)

    async def set_picture(self, group_id: str, jpeg: bytes) -> str | None:
        """Set the group's picture: a square JPEG of at least 192x192 pixels, at most 5 MB.

        Sent as the multipart part ``profile_picture_file`` (the name in Meta's JSON sample;
        its curl sample says ``file``: UNVERIFIED, §12.6)."""
        if len(jpeg) > PICTURE_MAX_BYTES:
            raise ValueError(f"picture: at most 5 MB (got {len(jpeg)} bytes)")
        size = validation.jpeg_size(jpeg)
        if size is None:
            raise ValueError("picture: must be a JPEG (Meta takes no other format)")
        width, height = size
        if width != height:
            raise ValueError(f"picture: must be square (got {width}x{height})")
        if width < PICTURE_MIN_SIDE:
            raise ValueError(f"picture: at least 192x192 pixels (got {width}x{height})")
        answer = await self.client.request(
            "POST",
            f"/{_group(group_id)}",
            data={"messaging_product": "whatsapp"},
            files={"profile_picture_file": ("picture.jpg", jpeg, "image/jpeg")},
            retry=False,
        )
        return _request_id(answer)


def _group(group_id: str) -> str:
    """A group id as a path segment: non-empty, with nothing that would change the path."""
    if not isinstance(group_id, str) or not group_id.strip():
        raise ValueError("group_id: must not be empty")
    if any(c in group_id for c in "/?#") or group_id.strip() != group_id:
        raise ValueError(f"group_id: {group_id!r} is not a group id")
    return group_id
