"""Meta's error answers by code, as the fake Graph API gives them."""

from __future__ import annotations

import secrets
from typing import Any

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
    131050: (
        400,
        "(#131050) Unable to deliver the message",
        "The user has stopped receiving marketing messages from this business.",
        None,
    ),
    131056: (
        400,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
        None,
    ),
    131020: (
        400,
        "(#131020) Bad Group",
        "The group has a single member: a group needs another participant to be sent to.",
        None,
    ),
    131041: (
        400,
        "(#131041) Group not found",
        "The group does not exist or the business is not a member of it.",
        None,
    ),
    # The Groups API (reference/cloudapi.md §12.7); texts are the fake's own.
    131059: (400, "(#131059) Invalid pagination cursor", "The cursor is not valid.", None),
    131201: (206, "(#131201) Partial success", "Some of the items failed.", None),
    131207: (403, "(#131207) Group suspended", "The group is suspended.", None),
    131209: (400, "(#131209) Picture not square", "The group picture must be square.", None),
    131210: (
        400,
        "(#131210) Picture too small",
        "The group picture must be at least 192x192 pixels.",
        None,
    ),
    131211: (400, "(#131211) Group create limit reached", "Too many groups.", None),
    131212: (400, "(#131212) Participant not in group", "The user is not in the group.", None),
    # Blocking (§18.1).
    139100: (400, "(#139100) Failed to block/unblock users", "Some users failed.", None),
    131021: (400, "(#131021) Recipient cannot be sender", "A business cannot block itself.", None),
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
