"""The Graph API routes of the fake: sends, media, Flows key, automation, profile."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from wahost.testing.fake_graph.catalogue import ERRORS, error_body
from wahost.testing.fake_graph.checks import (
    _GROUP_TYPES,
    _MESSAGE_TYPES,
    _check_automation,
    _check_object,
    _invalid,
    _no_object,
    _not_found,
)
from wahost.testing.fake_graph.wire import (
    _VERSION,
    Accepted,
    Group,
    Media,
    Recorded,
    _graph_error,
    _json_response,
    _Response,
    _wa_id,
)
from wahost.testing.payloads import new_wamid


class GraphRoutes:
    """The Graph API paths the fake answers, as a mixin of :class:`FakeGraph`."""

    _token: str
    api_version: str
    messages_per_second: float | None
    pair_interval: float | None
    pair_burst: int
    media_url_ttl: float
    url: str
    sent: list[Accepted]
    marked_read: list[str]
    typing: list[str]
    media: dict[str, Media]
    groups: dict[str, Group]
    deleted_media: set[str]
    business_public_keys: dict[str, str]
    conversational_automation: dict[str, dict[str, Any]]
    business_profiles: dict[str, dict[str, Any]]
    stopped_marketing: set[str]
    throttled: int
    pair_limited: int
    _rate: dict[str, deque[float]]
    _pairs: dict[tuple[str, str], deque[float]]
    _progress: asyncio.Event
    observers: list[Callable[[str, Any], None]]

    def _notify(self, event: str, subject: Any) -> None:
        for observer in list(self.observers):
            observer(event, subject)

    def add_media(self, data: bytes, mime_type: str, *, filename: str | None = None) -> str:
        """Hold ``data`` as a media file (an inbound image, say) and return its new media id,
        to put in a webhook; the client can then get its URL and download it."""
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        while media_id in self.media or media_id in self.deleted_media:
            media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.media[media_id] = Media(media_id, data, mime_type, filename)
        return media_id

    def media_url(self, media_id: str) -> str:
        """A download URL of ``media_id`` on this server that works for ``media_url_ttl``
        seconds (as Meta's lookaside URLs do)."""
        expires = int(time.time() + self.media_url_ttl)
        signature = self._url_hash(media_id, expires)
        return (
            f"{self.url}/whatsapp_business/attachments/"
            f"?mid={media_id}&ext={expires}&hash={signature}"
        )

    def _url_hash(self, media_id: str, expires: int) -> str:
        message = f"{media_id}:{expires}".encode()
        return hmac.new(self._token.encode(), message, hashlib.sha256).hexdigest()[:32]

    # The webhook routes' state and handlers (:class:`~.webhooks.WebhookRoutes`).
    subscribed_wabas: dict[str, str | None]
    _subscribed_apps: Callable[[str, Recorded], _Response]
    _phone_settings: Callable[[str, Recorded], _Response | None]
    _webhook_configuration: Callable[[str], dict[str, str]]

    def _safe_route(self, r: Recorded) -> _Response:
        try:
            return self._route(r)
        except Exception as exc:  # a bug of the fake or a body it did not expect: say so
            return _json_response(error_body(1, details=f"the fake Graph API failed: {exc!r}"), 500)

    def _route(self, r: Recorded) -> _Response:
        """The normal answer to an authorized request."""
        parts = r.path.strip("/").split("/")
        if parts[:2] == ["whatsapp_business", "attachments"]:
            return self._download(r)
        if not _VERSION.fullmatch(parts[0]) or not all(parts):
            return _not_found(r)
        match r.method, parts[1:]:
            case "POST", [pnid, "messages"]:
                return self._messages(pnid, r)
            case "POST", [pnid, "marketing_messages"]:
                return self._marketing_messages(pnid, r)
            case "POST", [pnid, "media"]:
                return self._upload(r)
            case "GET", [node]:
                return self._get_node(node, r)
            case "GET" | "POST", [waba, "subscribed_apps"]:
                return self._subscribed_apps(waba, r)
            case "POST", [pnid]:
                settings = self._phone_settings(pnid, r)
                if settings is not None:
                    return settings
            case "DELETE", [node]:
                if node not in self.media:
                    return _no_object("delete", node)
                del self.media[node]
                self.deleted_media.add(node)
                return _json_response({"success": True})
            case "GET" | "POST", [pnid, "whatsapp_business_encryption"]:
                return self._encryption(pnid, r)
            case "POST", [pnid, "conversational_automation"]:
                return self._automation(pnid, r)
            case "GET" | "POST", [pnid, "whatsapp_business_profile"]:
                return self._profile(pnid, r)
        return _not_found(r)

    def _messages(self, pnid: str, r: Recorded) -> _Response:
        body = r.json
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        if "status" in body:  # mark as read, maybe with a typing indicator (§6)
            message_id = body.get("message_id")
            if body["status"] != "read" or not isinstance(message_id, str) or not message_id:
                return _invalid('Param status must be "read", with the message_id to mark.')
            typing = body.get("typing_indicator")
            if typing is not None and typing != {"type": "text"}:
                return _invalid('Param typing_indicator must be {"type": "text"}.')
            self.marked_read.append(message_id)
            self._notify("read", message_id)
            if typing is not None:
                self.typing.append(message_id)
                self._notify("typing", message_id)
            return _json_response({"success": True})
        to, kind = body.get("to"), body.get("type")
        if not isinstance(to, str) or not to:
            return _invalid("The parameter to is required.")
        if not isinstance(kind, str) or kind not in _MESSAGE_TYPES:
            return _invalid(f"Param type must be one of {sorted(_MESSAGE_TYPES)}.")
        recipient_type = body.get("recipient_type", "individual")
        if recipient_type not in ("individual", "group"):
            return _invalid('Param recipient_type must be "individual" or "group".')
        problem = _check_object(kind, body.get(kind))
        if problem is not None:
            return _invalid(problem)
        refused = self._check_group(to, kind, recipient_type)
        if refused is not None:
            return refused
        # A group is addressed by its opaque id, answered as the contact's wa_id (§12.3).
        wa_id = to if recipient_type == "group" else _wa_id(to)
        limited = self._rate_limited(pnid, wa_id)
        if limited is not None:
            return limited
        wamid = new_wamid(wa_id, outbound=True)
        accepted = Accepted(body, wamid=wamid, phone_number_id=pnid, wa_id=wa_id, at=r.at)
        self.sent.append(accepted)
        self._progress.set()
        self._notify("message", accepted)
        message = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return _json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message],
            }
        )

    def _marketing_messages(self, pnid: str, r: Recorded) -> _Response:
        """The Marketing Messages API (§17): the body of ``/messages`` with marketing
        templates only (and ``product_policy``, ``message_activity_sharing``); a user in
        :attr:`stopped_marketing` is answered 131050."""
        body = r.json
        if not isinstance(body, dict) or body.get("type") != "template":
            return _invalid("Only marketing template messages can be sent to marketing_messages.")
        if body.get("recipient_type", "individual") != "individual":
            return _invalid("marketing_messages sends to individual users only.")
        policy = body.get("product_policy")
        if policy is not None and policy not in ("CLOUD_API_FALLBACK", "STRICT"):
            return _invalid('Param product_policy must be "CLOUD_API_FALLBACK" or "STRICT".')
        sharing = body.get("message_activity_sharing")
        if sharing is not None and not isinstance(sharing, bool):
            return _invalid("Param message_activity_sharing must be a boolean.")
        if _wa_id(str(body.get("to", ""))) in self.stopped_marketing:
            return _json_response(error_body(131050), ERRORS[131050][0])
        return self._messages(pnid, r)

    def _check_group(self, to: str, kind: str, recipient_type: str) -> _Response | None:
        """Meta's answer to a send that breaks the rules of group chats (§12), if it does:
        ``recipient_type`` must match what ``to`` is, the group must be one the business is
        in (131041) with someone else in it (131020), and take the message's type."""
        group = self.groups.get(to)
        if recipient_type != "group":
            if kind == "pin":
                return _invalid('Param type pin needs recipient_type "group".')
            if group is not None:
                return _invalid('Param to is a group id: send with recipient_type "group".')
            return None
        if group is None:
            if to.lstrip("+").isdigit():
                return _invalid(
                    'Param to is a phone number: recipient_type "group" needs a group id.'
                )
            return _json_response(error_body(131041), ERRORS[131041][0])
        if not group.participants:
            return _json_response(error_body(131020), ERRORS[131020][0])
        if kind not in _GROUP_TYPES:
            return _invalid(
                f"Message type {kind} is not supported in groups: send text, media or a template."
            )
        return None

    def _rate_limited(self, pnid: str, wa_id: str) -> _Response | None:
        """130429 / 131056 when accepting a message now would break the configured rates."""
        now = time.monotonic()
        if self.messages_per_second is not None:
            window = self._rate.setdefault(pnid, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.messages_per_second:
                self.throttled += 1
                return _json_response(error_body(130429), ERRORS[130429][0])
        if self.pair_interval is not None:
            pair = self._pairs.setdefault((pnid, wa_id), deque())
            while pair and now - pair[0] >= self.pair_interval:
                pair.popleft()
            if len(pair) >= self.pair_burst:
                self.pair_limited += 1
                return _json_response(error_body(131056), ERRORS[131056][0])
        self._rate.setdefault(pnid, deque()).append(now)
        self._pairs.setdefault((pnid, wa_id), deque()).append(now)
        return None

    def _upload(self, r: Recorded) -> _Response:
        form = r.form or {}
        if form.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        upload = r.files.get("file")
        if upload is None:
            return _invalid("The parameter file is required.")
        if not form.get("type"):
            return _invalid("The parameter type is required.")
        return _json_response(
            {"id": self.add_media(upload.data, form["type"], filename=upload.filename)}
        )

    def _get_node(self, node: str, r: Recorded) -> _Response:
        media = self.media.get(node)
        if media is not None:
            return _json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": self.media_url(node),
                    "mime_type": media.mime_type,
                    "sha256": media.sha256,
                    "file_size": len(media.data),
                    "id": node,
                }
            )
        fields = [name for name in r.params.get("fields", "").split(",") if name]
        if not fields or node in self.deleted_media:
            return _no_object("get", node)
        # Any other node read with ?fields= is taken for a phone number id.
        answer: dict[str, Any] = {}
        if "conversational_automation" in fields and node in self.conversational_automation:
            answer["conversational_automation"] = self.conversational_automation[node]
        if "webhook_configuration" in fields:
            answer["webhook_configuration"] = self._webhook_configuration(node)
        answer["id"] = node
        return _json_response(answer)

    def _download(self, r: Recorded) -> _Response:
        media = self.media.get(r.params.get("mid", ""))
        expires = r.params.get("ext", "")
        if (
            media is None
            or not expires.isdigit()
            or int(expires) < time.time()
            or not hmac.compare_digest(
                r.params.get("hash", ""), self._url_hash(media.id, int(expires))
            )
        ):
            return _graph_error(404, 100, "(#100) The media URL is invalid or has expired.")
        return _Response(200, media.data, media.mime_type)

    def _encryption(self, pnid: str, r: Recorded) -> _Response:
        if r.method == "GET":
            key = self.business_public_keys.get(pnid)
            if key is None:  # Meta's answer before any upload is undocumented
                return _json_response({})
            return _json_response(
                {"business_public_key": key, "business_public_key_signature_status": "VALID"}
            )
        params = r.form if r.form is not None else r.json
        key = params.get("business_public_key") if isinstance(params, dict) else None
        if not isinstance(key, str) or "-----BEGIN PUBLIC KEY-----" not in key:
            return _invalid("Param business_public_key must be a PEM public key.")
        self.business_public_keys[pnid] = key
        return _json_response({"success": True})

    def _automation(self, pnid: str, r: Recorded) -> _Response:
        body = r.json
        if not isinstance(body, dict):
            return _invalid("The body must be a JSON object.")
        problem = _check_automation(body)
        if problem is not None:
            return _invalid(problem)
        stored = self.conversational_automation.setdefault(pnid, {})
        for name in ("enable_welcome_message", "prompts", "commands"):
            if name in body:
                stored[name] = body[name]
        return _json_response({"success": True})

    def _profile(self, pnid: str, r: Recorded) -> _Response:
        profile = self.business_profiles.setdefault(pnid, {"messaging_product": "whatsapp"})
        if r.method == "GET":
            return _json_response({"data": [profile]})
        body = r.json if isinstance(r.json, dict) else (r.form or {})
        if body.get("messaging_product") != "whatsapp":
            return _invalid('The parameter messaging_product is required and must be "whatsapp".')
        profile.update(body)
        return _json_response({"success": True})
