"""Calling API signaling (reference/cloudapi.md §19): one call per ``/calls`` action, the SDP
passed through as given, and the call permission of a user. Media stays the author's: wahost
neither makes nor reads SDP beyond checking it is one.

A user-initiated call arrives as a ``calls`` webhook (``@router.event(F.event("calls"))``,
``event.value`` a :class:`wahost.models.calls.CallEvent`) with the SDP offer; answer it within
about 30-60 s with :meth:`CallsApi.pre_accept` (recommended: media is set up early) then
:meth:`CallsApi.accept` with the **same** SDP answer, and start media only once ``accept``
returned; :meth:`CallsApi.terminate` when done (not needed when the user hung up). A
business-initiated call needs the user's permission (138006 otherwise):
:meth:`CallsApi.permission` reads it; :meth:`CallsApi.connect` sends the offer and the answer
comes in a ``connect`` webhook.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from wahost.graph import GraphClient

__all__ = ["CALLBACK_DATA_MAX", "CallPermission", "CallsApi", "PermissionAction"]

#: Meta's limit on ``biz_opaque_callback_data`` (§19).
CALLBACK_DATA_MAX = 512
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,256}")


class PermissionLimit(msgspec.Struct, kw_only=True):
    time_period: str = ""
    max_allowed: int | None = None
    current_usage: int | None = None
    limit_expiration_time: int | None = None


class PermissionAction(msgspec.Struct, kw_only=True):
    """What the business may do now: ``send_call_permission_request`` or ``start_call``."""

    action_name: str
    can_perform_action: bool = False
    limits: list[PermissionLimit] = msgspec.field(default_factory=list)


class _Permission(msgspec.Struct, kw_only=True):
    status: str = "no_permission"
    expiration_time: int | None = None


class CallPermission(msgspec.Struct, kw_only=True):
    """A user's call permission: ``status`` ``no_permission``, ``temporary`` (7 days) or
    ``permanent``, and the actions with their limits."""

    status: str
    expiration_time: int | None = None
    actions: list[PermissionAction] = msgspec.field(default_factory=list)

    def can(self, action_name: str) -> bool:
        """Whether Meta says ``action_name`` can be performed now."""
        return any(a.action_name == action_name and a.can_perform_action for a in self.actions)


def _sdp(sdp: str) -> str:
    """SDP text as given, checked only for being SDP (RFC 8866: it starts with ``v=0``)."""
    if not isinstance(sdp, str) or not sdp.lstrip().startswith("v=0"):
        raise ValueError("sdp: not an SDP session description (it starts with v=0)")
    return sdp


def _call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not call_id.strip() or any(c in call_id for c in "/?#"):
        raise ValueError(f"call_id: {call_id!r} is not a call id (wacid....)")
    return call_id


def _callback_data(value: str | None, body: dict[str, Any]) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > CALLBACK_DATA_MAX:
        raise ValueError(f"biz_opaque_callback_data: at most {CALLBACK_DATA_MAX} characters")
    body["biz_opaque_callback_data"] = value


def _user(user: str) -> dict[str, str]:
    """A phone number goes as ``to``, a BSUID as ``recipient`` (§13.4)."""
    if not isinstance(user, str) or not user.strip():
        raise ValueError("to: must not be empty")
    return {"recipient": user} if _BSUID.fullmatch(user) else {"to": user}


class CallsApi:
    """The calls of one phone number (the client's configured one by default)."""

    def __init__(self, client: GraphClient, phone_number_id: str | None = None) -> None:
        self.client = client
        self.phone_number_id = phone_number_id or client.phone_number_id
        # The SDP given to pre_accept per call, so that accept can be checked against it.
        self._pre_accepted: dict[str, str] = {}

    async def _action(self, body: dict[str, Any]) -> Any:
        # Never retried: a repeated action on a call that moved on is refused by Meta, and a
        # repeated connect would ring the user twice.
        return await self.client.request(
            "POST",
            f"/{self.phone_number_id}/calls",
            json={"messaging_product": "whatsapp", **body},
            retry=False,
        )

    async def connect(
        self, to: str, sdp: str, *, biz_opaque_callback_data: str | None = None
    ) -> str:
        """Call ``to`` (a phone number or a BSUID) with an SDP offer; returns the call id.
        The user's SDP answer comes in the ``connect`` webhook."""
        body: dict[str, Any] = {
            **_user(to),
            "action": "connect",
            "session": {"sdp_type": "offer", "sdp": _sdp(sdp)},
        }
        _callback_data(biz_opaque_callback_data, body)
        answer = await self._action(body)
        calls = (answer or {}).get("calls") or [{}]
        return str(calls[0].get("id", ""))

    async def pre_accept(self, call_id: str, sdp: str) -> None:
        """Pre-accept a user's call with the SDP answer (media may start being set up)."""
        body = {
            "call_id": _call_id(call_id),
            "action": "pre_accept",
            "session": {"sdp_type": "answer", "sdp": _sdp(sdp)},
        }
        await self._action(body)
        self._pre_accepted[call_id] = sdp

    async def accept(
        self, call_id: str, sdp: str, *, biz_opaque_callback_data: str | None = None
    ) -> None:
        """Accept a user's call; the SDP answer must be the one given to
        :meth:`pre_accept` (checked when this object pre-accepted it). Start media once this
        returns."""
        earlier = self._pre_accepted.get(_call_id(call_id))
        if earlier is not None and earlier != _sdp(sdp):
            raise ValueError("sdp: accept must carry the SDP given to pre_accept")
        body: dict[str, Any] = {
            "call_id": call_id,
            "action": "accept",
            "session": {"sdp_type": "answer", "sdp": _sdp(sdp)},
        }
        _callback_data(biz_opaque_callback_data, body)
        await self._action(body)
        self._pre_accepted.pop(call_id, None)

    async def reject(self, call_id: str) -> None:
        """Reject a user's call."""
        await self._action({"call_id": _call_id(call_id), "action": "reject"})
        self._pre_accepted.pop(call_id, None)

    async def terminate(self, call_id: str) -> None:
        """End a call (also after an RTCP BYE, for accurate pricing)."""
        await self._action({"call_id": _call_id(call_id), "action": "terminate"})
        self._pre_accepted.pop(call_id, None)

    async def permission(self, user: str) -> CallPermission:
        """The call permission of ``user`` (a phone number, or a BSUID)."""
        target = _user(user)
        params = {"recipient": user} if "recipient" in target else {"user_wa_id": user}
        answer = await self.client.request(
            "GET", f"/{self.phone_number_id}/call_permissions", params=params
        )
        answer = answer or {}
        permission = msgspec.convert(answer.get("permission") or {}, _Permission)
        return CallPermission(
            status=permission.status,
            expiration_time=permission.expiration_time,
            actions=msgspec.convert(answer.get("actions") or [], list[PermissionAction]),
        )
