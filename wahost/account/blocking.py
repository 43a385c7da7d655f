"""Blocking users (reference/cloudapi.md §18.1, the BSUID form §13.4).

``BlockingApi(host.client)``: :meth:`~BlockingApi.block`, :meth:`~BlockingApi.unblock`,
:meth:`~BlockingApi.blocked`. Meta lets a business block only users who wrote to it in the
last 24 hours (131047 otherwise), at most 1,000 per request and 64,000 in all; a blocked user
cannot write to the business, and sends to them fail. Each user is a phone number or a
business-scoped user id (BSUID, sent as ``user_id``).

A request where some users failed answers with the lists *and* a top-level error 139100
(§18.1); when Meta gives it as a success body, the failures are in
:attr:`BlockResult.failed`; when Meta gives it as an error status, the call raises
:class:`wahost.errors.GraphError` with code 139100 (which of the two Meta does is
UNVERIFIED).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from wahost.account import validation
from wahost.graph import GraphClient

__all__ = ["BLOCK_MAX", "BlockResult", "BlockedPage", "BlockedUser", "BlockingApi", "FailedUser"]

#: Users per block or unblock request (§18.1).
BLOCK_MAX = 1000
#: A business-scoped user id: a country code, a dot, then letters and digits (§13).
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,256}")


class BlockedUser(msgspec.Struct, kw_only=True):
    """A user Meta blocked or unblocked: ``input`` as sent, ``wa_id``/``user_id`` as Meta
    resolved it."""

    input: str | None = None
    wa_id: str | None = None
    user_id: str | None = None


class FailedUser(msgspec.Struct, kw_only=True):
    """A user Meta could not block or unblock, and why (Meta's ``errors``: ``code``,
    ``message``, ``error_data.details``)."""

    input: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    errors: list[dict[str, Any]] = msgspec.field(default_factory=list)

    @property
    def codes(self) -> list[int]:
        return [int(e["code"]) for e in self.errors if isinstance(e.get("code"), int)]


class BlockResult(msgspec.Struct, kw_only=True):
    """What a block or unblock request did: ``done`` (Meta's ``added_users`` or
    ``removed_users``) and ``failed``."""

    done: list[BlockedUser] = msgspec.field(default_factory=list)
    failed: list[FailedUser] = msgspec.field(default_factory=list)


class BlockedPage(msgspec.Struct, kw_only=True):
    """One page of the blocklist: the blocked users' wa_ids (or BSUIDs) and the cursor of
    the next page (``None`` on the last)."""

    users: list[str]
    after: str | None = None


def _item(user: str) -> dict[str, str]:
    return {"user_id": user} if _BSUID.fullmatch(user) else {"user": user}


class BlockingApi:
    """The blocklist of one phone number (the client's configured one by default)."""

    def __init__(self, client: GraphClient, phone_number_id: str | None = None) -> None:
        self.client = client
        self.phone_number_id = phone_number_id or client.phone_number_id

    async def block(self, users: Sequence[str]) -> BlockResult:
        """Block ``users`` (phone numbers or BSUIDs, at most 1,000)."""
        return await self._change("POST", users, "added_users")

    async def unblock(self, users: Sequence[str]) -> BlockResult:
        """Unblock ``users`` (phone numbers or BSUIDs, at most 1,000)."""
        return await self._change("DELETE", users, "removed_users")

    async def blocked(self, *, limit: int = 100, after: str | None = None) -> BlockedPage:
        """One page of the blocked users."""
        params: dict[str, Any] = {"limit": validation.page_limit(limit, "limit", BLOCK_MAX)}
        if after:
            params["after"] = after
        answer = await self.client.request(
            "GET", f"/{self.phone_number_id}/block_users", params=params
        )
        answer = answer or {}
        users = [
            str(item.get("wa_id") or item.get("user_id") or "")
            for item in answer.get("data") or []
            if isinstance(item, dict)
        ]
        paging = answer.get("paging") or {}
        cursors = paging.get("cursors") or {}
        return BlockedPage(users=users, after=cursors.get("after") if paging.get("next") else None)

    async def _change(self, method: str, users: Sequence[str], done_key: str) -> BlockResult:
        wanted = validation.ids(users, "users", BLOCK_MAX)
        answer = await self.client.request(
            method,
            f"/{self.phone_number_id}/block_users",
            json={"messaging_product": "whatsapp", "block_users": [_item(u) for u in wanted]},
            # Retried as any call: blocking or unblocking twice leaves the same blocklist.
        )
        lists = (answer or {}).get("block_users") or {}
        return BlockResult(
            done=msgspec.convert(lists.get(done_key) or [], list[BlockedUser]),
            failed=msgspec.convert(lists.get("failed_users") or [], list[FailedUser]),
        )
