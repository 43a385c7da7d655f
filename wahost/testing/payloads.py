"""Webhook payloads in Meta's shapes (reference/cloudapi.md §3 and §4), built in one line.

Every builder returns a whole webhook envelope, ready to post; :func:`make_webhook` merges
several into one, and :func:`signed_webhook` gives the bytes and headers Meta would send::

    hello = make_text("hello")
    body, headers = signed_webhook(make_webhook(hello, make_status(sent_wamid, "read")))
    await http.post(bot.webhook_url, content=body, headers=headers)

Defaults are Meta's sample values, as in the shipped fixtures: business number ``15550783881``
(phone number id ``106540352242922``, WABA ``102290129340398``), user ``16505551234``
"Sheena Nelson". Every message gets a fresh wamid unless one is given.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from wahost.testing.harness import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, sign

__all__ = [
    "DISPLAY_PHONE_NUMBER",
    "USER",
    "USER_NAME",
    "WABA_ID",
    "make_interactive_reply",
    "make_message",
    "make_status",
    "make_text",
    "make_webhook",
    "new_wamid",
    "signed_webhook",
]

#: Meta's sample values (see ``wahost/testing/fixtures/SOURCES.md``).
WABA_ID = "102290129340398"
DISPLAY_PHONE_NUMBER = "15550783881"
USER = "16505551234"
USER_NAME = "Sheena Nelson"

_ERROR_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"
#: Titles of the status errors tests most often need (reference/cloudapi.md §4, §7).
_STATUS_ERRORS = {
    131000: "Message failed to send due to an unknown error.",
    131026: "Message undeliverable.",
    131047: "Re-engagement message",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business.",
}


def new_wamid(user: str = USER, *, outbound: bool = False) -> str:
    """A fresh, unique wamid that looks like Meta's: base64 of the user's number and a random
    id (inbound and outbound wamids differ in one byte, as Meta's do)."""
    digits = user.lstrip("+").encode()[:200]
    random_id = secrets.token_hex(9 if outbound else 10).upper().encode()
    raw = b"".join(
        (
            b"\x1c\x18",
            bytes([len(digits)]),
            digits,
            b"\x15\x02\x00\x11" if outbound else b"\x15\x02\x00\x12",
            b"\x18",
            bytes([len(random_id)]),
            random_id,
            b"\x00",
        )
    )
    return "wamid." + base64.b64encode(raw).decode()


def _timestamp(timestamp: int | str | None) -> str:
    # Meta sends Unix seconds as a *string* (reference/cloudapi.md §3).
    return str(int(time.time()) if timestamp is None else timestamp)


def _envelope(value: dict[str, Any], waba_id: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def _value(phone_number_id: str, display_phone_number: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }


def make_message(
    type: str,
    obj: Any,
    *,
    sender: str = USER,
    wamid: str | None = None,
    name: str | None = USER_NAME,
    phone_number_id: str = TEST_PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
    waba_id: str = WABA_ID,
    timestamp: int | str | None = None,
    context: str | Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A webhook with one inbound message of ``type`` whose object is ``obj``
    (``make_message("location", {"latitude": 1.5, "longitude": 2.5})``).

    ``context`` is the wamid the user replies to (it becomes ``{"from": <business number>,
    "id": <wamid>}``) or a whole context object (``{"forwarded": True}``). ``name=None``
    leaves out ``contacts``, as Meta does for system messages. ``obj=None`` leaves out the
    object of the type (``request_welcome`` has none). Extra keyword arguments are added to
    the message item as they are (``referral={...}``, ``errors=[...]``; ``group_id=...``
    makes it a message the ``sender`` wrote in that group, reference/cloudapi.md §12.2).
    """
    message: dict[str, Any] = {}
    if isinstance(context, str):
        message["context"] = {"from": display_phone_number, "id": context}
    elif context is not None:
        message["context"] = dict(context)
    message.update(
        {
            "from": sender,
            "id": wamid or new_wamid(sender),
            "timestamp": _timestamp(timestamp),
            "type": type,
        }
    )
    if obj is not None:
        message[type] = obj
    message.update(fields)
    value = _value(phone_number_id, display_phone_number)
    if name is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": sender}]
    value["messages"] = [message]
    return _envelope(value, waba_id)


def make_text(
    body: str,
    *,
    sender: str = USER,
    wamid: str | None = None,
    name: str | None = USER_NAME,
    phone_number_id: str = TEST_PHONE_NUMBER_ID,
    timestamp: int | str | None = None,
    context: str | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A webhook with one inbound text message; see :func:`make_message` for the options."""
    return make_message(
        "text",
        {"body": body},
        sender=sender,
        wamid=wamid,
        name=name,
        phone_number_id=phone_number_id,
        timestamp=timestamp,
        context=context,
    )


def make_interactive_reply(
    reply_id: str,
    title: str,
    *,
    kind: Literal["button_reply", "list_reply"] = "button_reply",
    description: str | None = None,
    sender: str = USER,
    wamid: str | None = None,
    name: str | None = USER_NAME,
    phone_number_id: str = TEST_PHONE_NUMBER_ID,
    timestamp: int | str | None = None,
    context: str | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A webhook with the user's tap on a reply button (``kind="button_reply"``) or a list
    row (``kind="list_reply"``, with an optional ``description``).

    Meta always sends these with the ``context`` of the interactive message answered: pass
    its wamid as ``context``; by default a made-up one is used.
    """
    reply = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    return make_message(
        "interactive",
        {"type": kind, kind: reply},
        sender=sender,
        wamid=wamid,
        name=name,
        phone_number_id=phone_number_id,
        timestamp=timestamp,
        context=context if context is not None else new_wamid(sender, outbound=True),
    )


def _status_error(code: int) -> dict[str, Any]:
    title = _STATUS_ERRORS.get(code, f"Error {code}")
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": title},
        "href": _ERROR_HREF,
    }


def make_status(
    wamid: str,
    status: str = "delivered",
    *,
    recipient: str = USER,
    recipient_type: str | None = None,
    participant: str | None = None,
    errors: int | Sequence[Mapping[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
    pricing: bool | Mapping[str, Any] | None = None,
    phone_number_id: str = TEST_PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
    waba_id: str = WABA_ID,
    timestamp: int | str | None = None,
) -> dict[str, Any]:
    """A webhook with one status of a message the business sent (reference/cloudapi.md §4).

    ``errors`` is an error code (``errors=131049`` builds Meta's error object) or the error
    objects themselves; a ``failed`` status without ``errors`` gets a 131000. ``pricing``:
    ``None`` adds Meta's per-message pricing object to ``sent`` and ``delivered`` only (as
    Meta does), ``True``/``False`` force it on or off, a mapping is used as it is. No
    ``conversation`` object: Meta leaves it out of v24.0+ webhooks.

    A status of a message sent to a group (reference/cloudapi.md §12.4):
    ``recipient=<group id>, recipient_type="group"``, and for ``delivered`` and ``read`` the
    ``participant`` (``recipient_participant_id``) it is about.
    """
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": _timestamp(timestamp),
        "recipient_id": recipient,
    }
    if recipient_type is not None:
        item["recipient_type"] = recipient_type
    if participant is not None:
        item["recipient_participant_id"] = participant
    if biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = biz_opaque_callback_data
    if pricing is None:
        pricing = status in ("sent", "delivered")
    if isinstance(pricing, Mapping):
        item["pricing"] = dict(pricing)
    elif pricing:
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    if errors is None and status == "failed":
        errors = 131000
    if isinstance(errors, int):
        item["errors"] = [_status_error(errors)]
    elif errors is not None:
        item["errors"] = [dict(error) for error in errors]
    value = _value(phone_number_id, display_phone_number)
    value["statuses"] = [item]
    return _envelope(value, waba_id)


def make_webhook(*webhooks: Mapping[str, Any]) -> dict[str, Any]:
    """Merge webhooks (from the builders above, or fixtures) into one envelope, as Meta
    batches them (reference/cloudapi.md §3).

    One entry per WABA id. In each, the messages of one phone number id share one
    ``messages`` change (their contacts merged, one per user), its statuses another and its
    value-level errors a third, as Meta's docs show messages and statuses in separate
    changes. Changes of other fields are kept as they are, in order. Inputs are not modified.
    """
    entries: dict[str, dict[str, Any]] = {}
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for webhook in webhooks:
        for entry in webhook.get("entry", ()):
            waba_id = str(entry.get("id", WABA_ID))
            merged = entries.setdefault(waba_id, {"id": waba_id, "changes": []})
            if "time" in entry:
                merged.setdefault("time", entry["time"])
            for change in entry.get("changes", ()):
                value = change.get("value")
                if change.get("field") != "messages" or not isinstance(value, Mapping):
                    merged["changes"].append(copy.deepcopy(change))
                    continue
                metadata = value.get("metadata") or {}
                pnid = str(metadata.get("phone_number_id", ""))
                for kind in ("messages", "statuses", "errors"):
                    if not value.get(kind):
                        continue
                    group = groups.get((waba_id, pnid, kind))
                    if group is None:
                        group = {"messaging_product": "whatsapp", "metadata": dict(metadata)}
                        if kind == "messages":
                            group["contacts"] = []
                        group[kind] = []
                        groups[waba_id, pnid, kind] = group
                        merged["changes"].append({"value": group, "field": "messages"})
                    if kind == "messages":
                        known = {contact.get("wa_id") for contact in group["contacts"]}
                        for contact in value.get("contacts") or ():
                            if contact.get("wa_id") not in known:
                                group["contacts"].append(copy.deepcopy(contact))
                                known.add(contact.get("wa_id"))
                    group[kind].extend(copy.deepcopy(list(value[kind])))
    for group in groups.values():
        if group.get("contacts") == []:  # system messages only: Meta sends no contacts
            del group["contacts"]
    return {"object": "whatsapp_business_account", "entry": list(entries.values())}


def signed_webhook(
    payload: Mapping[str, Any] | bytes, secret: str = TEST_APP_SECRET
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``payload`` as Meta would POST it: compact JSON with non-ASCII
    escaped as ``\\uXXXX`` (reference/cloudapi.md §2), signed with ``secret`` in
    ``X-Hub-Signature-256``. Bytes are sent as they are."""
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
    )
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}
