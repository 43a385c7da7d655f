"""Messages about calls and contact details: a call permission request, a voice-call button and
a contact-information request (reference/cloudapi.md §17, §13.5).

All three are Meta's ``interactive`` type. Only the body of a call permission request can be
customised; Meta limits them to one a day and two a week per user (reset by a connected call),
which wahost does not count: Meta refuses the extra ones.
"""

from __future__ import annotations

from typing import Any, ClassVar

from wahost.outbound.base import Outbound, check_optional_text, check_text
from wahost.outbound.interactive import BODY_MAX

__all__ = [
    "CallPermissionRequest",
    "ContactInfoRequest",
    "VoiceCall",
]

VOICE_CALL_TTL_MIN = 1
VOICE_CALL_TTL_MAX = 43200
"""The voice-call button's lifetime in minutes (1 to 30 days); from a third party only
(reference/cloudapi.md §17, UNVERIFIED)."""
VOICE_CALL_PAYLOAD_MAX = 512


class CallPermissionRequest(Outbound, frozen=True):
    """Ask the user for permission to call them (Meta's interactive
    ``call_permission_request``). Sent inside the customer service window and charged as a
    message; the answer arrives as a ``call_permission_reply`` message. ``body`` (up to 1024
    characters, UNVERIFIED: Meta gives no limit) is the only part that can be customised."""

    type: ClassVar[str] = "interactive"

    body: str | None = None

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.body", self.body, BODY_MAX)

    def content(self) -> dict[str, Any]:
        content: dict[str, Any] = {"type": "call_permission_request"}
        if self.body is not None:
            content["body"] = {"text": self.body}
        content["action"] = {"name": "call_permission_request"}
        return content


class VoiceCall(Outbound, frozen=True):
    """A message with a button that calls the business number (Meta's interactive
    ``voice_call``). ``display_text`` is the label (up to 20 characters), ``ttl_minutes`` how
    long the button works (1 to 43200; Meta's default 10080, a week, when not given) and
    ``payload`` (up to 512 characters) comes back as ``cta_payload`` in the call's webhooks.
    The label, lifetime and payload limits come from a third party (UNVERIFIED)."""

    type: ClassVar[str] = "interactive"

    body: str
    display_text: str
    ttl_minutes: int | None = None
    payload: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, BODY_MAX)
        check_text(f"{path}.display_text", self.display_text, 20)
        ttl = self.ttl_minutes
        if ttl is not None and (
            isinstance(ttl, bool)
            or not isinstance(ttl, int)
            or not VOICE_CALL_TTL_MIN <= ttl <= VOICE_CALL_TTL_MAX
        ):
            raise ValueError(
                f"{path}.ttl_minutes: {VOICE_CALL_TTL_MIN} to {VOICE_CALL_TTL_MAX} minutes "
                f"(got {ttl!r})"
            )
        check_optional_text(f"{path}.payload", self.payload, VOICE_CALL_PAYLOAD_MAX)

    def content(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {"display_text": self.display_text}
        if self.ttl_minutes is not None:
            parameters["ttl_minutes"] = self.ttl_minutes
        if self.payload is not None:
            parameters["payload"] = self.payload
        return {
            "type": "voice_call",
            "body": {"text": self.body},
            "action": {"name": "voice_call", "parameters": parameters},
        }


class ContactInfoRequest(Outbound, frozen=True):
    """Ask the user to share their phone number (Meta's interactive ``request_contact_info``),
    e.g. a user known only by a username. The answer is a ``contacts`` message whose origin is
    ``contact_request``. The interactive form comes from pywa and third parties, not Meta's
    text (reference/cloudapi.md §13.5, UNVERIFIED); body up to 1024 characters (UNVERIFIED).
    The template button of the same name is Meta's documented way."""

    type: ClassVar[str] = "interactive"

    body: str

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, BODY_MAX)

    def content(self) -> dict[str, Any]:
        return {
            "type": "request_contact_info",
            "body": {"text": self.body},
            "action": {"name": "request_contact_info"},
        }
