"""The fake's Calling API signaling (reference/cloudapi.md §19).

* ``POST /<PNID>/calls`` with ``action`` ``connect`` (``to`` or ``recipient``, an SDP
  ``offer``; the user needs a permission in :attr:`CallRoutes.call_permissions`, else
  138006), ``pre_accept`` / ``accept`` (an SDP ``answer``; accept's must equal
  pre_accept's), ``reject``, ``terminate``. An action on an unknown call, or one the call's
  state does not allow (accepting a terminated call), is answered code 100 with details
  (the calling error-code table was not read: the fake's choice).
* ``GET /<PNID>/call_permissions?user_wa_id=`` (or ``recipient=``) answers the permission and
  the two actions with their limits.

:meth:`CallRoutes.add_call` starts a user-initiated call and
:meth:`CallRoutes.call_webhook` gives the ``calls`` webhook (the ``connect`` with the offer)
to post to the bot.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from wahost.testing.fake_graph.catalogue import error_body
from wahost.testing.fake_graph.checks import _invalid
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response, _wa_id

#: What each action needs the call to be in, and what it makes of it.
_MOVES = {
    "pre_accept": ({"ringing"}, "pre_accepted"),
    "accept": ({"ringing", "pre_accepted"}, "accepted"),
    "reject": ({"ringing", "pre_accepted"}, "rejected"),
    "terminate": ({"ringing", "pre_accepted", "accepted"}, "terminated"),
}


@dataclass
class FakeCall:
    """A call the fake knows: ``state`` ringing, pre_accepted, accepted, rejected or
    terminated; the SDP offer and the answer given; every action in order."""

    id: str
    user: str
    direction: str
    offer: str
    state: str = "ringing"
    answer: str | None = None
    actions: list[str] = field(default_factory=list)
    biz_opaque_callback_data: str | None = None


def _refused(details: str) -> _Response:
    return _json_response(error_body(100, details=details), 400)


class CallRoutes:
    """Calls, as a mixin of :class:`FakeGraph` placed before :class:`~.routes.GraphRoutes`;
    other requests go on to the next ``_route``."""

    #: Calls by call id.
    voice_calls: dict[str, FakeCall]
    #: Call permissions by wa_id (or BSUID): ``"temporary"`` or ``"permanent"``.
    call_permissions: dict[str, str]

    def add_call(self, user: str, offer: str) -> str:
        """A user-initiated call from ``user`` with the SDP ``offer``; returns its id."""
        call_id = "wacid." + secrets.token_urlsafe(24)
        self.voice_calls[call_id] = FakeCall(call_id, _wa_id(user), "USER_INITIATED", offer)
        return call_id

    def call_webhook(
        self, call_id: str, *, phone_number_id: str, waba_id: str = "102290129340398"
    ) -> dict[str, Any]:
        """The ``calls`` webhook Meta sends when the user-initiated call ``call_id`` rings
        (``event: "connect"`` with the SDP offer), to post to the bot."""
        call = self.voice_calls[call_id]
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Caller"}, "wa_id": call.user}],
            "calls": [
                {
                    "id": call.id,
                    "from": call.user,
                    "to": "15550783881",
                    "event": "connect",
                    "timestamp": str(int(time.time())),
                    "direction": call.direction,
                    "session": {"sdp_type": "offer", "sdp": call.offer},
                }
            ],
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "calls"}]}],
        }

    def _route(self, r: Recorded) -> _Response:
        parts = r.path.strip("/").split("/")
        if _VERSION.fullmatch(parts[0]) and all(parts):
            match r.method, parts[1:]:
                case "POST", [_pnid, "calls"]:
                    return self._call_action(r)
                case "GET", [_pnid, "call_permissions"]:
                    return self._permission(r)
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def _call_action(self, r: Recorded) -> _Response:
        body = r.json if isinstance(r.json, dict) else {}
        if body.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        action = body.get("action")
        session = body.get("session")
        if action == "connect":
            user = body.get("to") or body.get("recipient")
            if not isinstance(user, str) or not user:
                return _invalid("The parameter to (or recipient) is required.")
            if not (isinstance(session, dict) and session.get("sdp_type") == "offer"):
                return _invalid('Param session must be {"sdp_type": "offer", "sdp": ...}.')
            user = _wa_id(user) if "to" in body else user
            if user not in self.call_permissions:
                return _json_response(
                    error_body(
                        138006,
                        message="(#138006) No approved call permission from the recipient",
                        details="The business needs the user's call permission first.",
                    ),
                    400,
                )
            call_id = "wacid." + secrets.token_urlsafe(24)
            call = FakeCall(call_id, user, "BUSINESS_INITIATED", str(session.get("sdp", "")))
            call.actions.append("connect")
            call.biz_opaque_callback_data = body.get("biz_opaque_callback_data")
            self.voice_calls[call_id] = call
            return _json_response({"messaging_product": "whatsapp", "calls": [{"id": call_id}]})
        if action not in _MOVES:
            return _invalid(f"Param action must be one of connect, {', '.join(_MOVES)}.")
        known = self.voice_calls.get(str(body.get("call_id", "")))
        if known is None:
            return _refused(f"Unknown call_id {body.get('call_id')!r}.")
        call = known
        allowed, after = _MOVES[action]
        if call.state not in allowed:
            return _refused(f"The call is {call.state}: it cannot be {action}ed.")
        if action in ("pre_accept", "accept"):
            if not (isinstance(session, dict) and session.get("sdp_type") == "answer"):
                return _invalid('Param session must be {"sdp_type": "answer", "sdp": ...}.')
            sdp = str(session.get("sdp", ""))
            if action == "accept" and call.answer is not None and sdp != call.answer:
                return _refused("The SDP of accept differs from the one given to pre_accept.")
            call.answer = sdp
        call.state = after
        call.actions.append(action)
        return _json_response({"messaging_product": "whatsapp", "success": True})

    def _permission(self, r: Recorded) -> _Response:
        params = r.params
        user = params.get("recipient") or _wa_id(params.get("user_wa_id", ""))
        status = self.call_permissions.get(user, "no_permission")
        permission: dict[str, Any] = {"status": status}
        if status == "temporary":
            permission["expiration_time"] = int(time.time()) + 7 * 24 * 3600
        day = {"time_period": "PT24H", "max_allowed": 100, "current_usage": 0}
        actions = [
            {
                "action_name": "send_call_permission_request",
                "can_perform_action": status == "no_permission",
                "limits": [{"time_period": "P7D", "max_allowed": 2, "current_usage": 0}],
            },
            {
                "action_name": "start_call",
                "can_perform_action": status != "no_permission",
                "limits": [day],
            },
        ]
        return _json_response(
            {"messaging_product": "whatsapp", "permission": permission, "actions": actions}
        )
