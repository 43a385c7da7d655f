"""The fake's webhook subscriptions and callback overrides (reference/cloudapi.md §18.3).

* ``POST /<WABA_ID>/subscribed_apps``: with no body it subscribes the app to the WABA; with
  ``override_callback_uri`` and ``verify_token`` it also sets the WABA's override; a later
  POST with no body removes the override. ``GET`` lists the subscribed apps.
* ``POST /<PNID> {"webhook_configuration": {...}}`` sets the phone number's override (an
  empty ``override_callback_uri`` removes it); ``GET /<PNID>?fields=webhook_configuration``
  reads what applies to the number, by level.

Meta sends the verification GET to an override before accepting it; the fake does not call
out, it records the verify token (:attr:`WebhookRoutes.override_tokens`) so a test can check
it is the host's.
"""

from __future__ import annotations

from typing import Any

from wahost.testing.fake_graph.checks import _invalid
from wahost.testing.fake_graph.wire import Recorded, _json_response, _Response

#: Meta's limit on an override's length (§18.3).
OVERRIDE_MAX = 200

#: The app the fake's token belongs to, as ``subscribed_apps`` lists it.
APP = {"id": "1234567890123456", "name": "wahost test app", "link": "https://example.com/app"}


class WebhookRoutes:
    """Subscriptions and overrides, as a mixin of :class:`FakeGraph`."""

    #: The app's own callback URL (App Dashboard > WhatsApp > Configuration), if any.
    app_callback_url: str | None
    #: Subscribed WABAs: their override callback URL, ``None`` without one.
    subscribed_wabas: dict[str, str | None]
    #: Phone number overrides by phone number id.
    phone_overrides: dict[str, str]
    #: The verify token given with each override URL.
    override_tokens: dict[str, str]
    #: Which WABA each phone number id belongs to (``add_phone_number``).
    phone_wabas: dict[str, str]

    def add_phone_number(self, phone_number_id: str, waba_id: str) -> None:
        """Make ``phone_number_id`` a number of ``waba_id`` (for its webhook configuration)."""
        self.phone_wabas[phone_number_id] = waba_id

    def _override(self, body: dict[str, Any]) -> tuple[str, str] | _Response:
        uri, token = body.get("override_callback_uri"), body.get("verify_token")
        if not isinstance(uri, str) or not isinstance(token, str) or not token:
            return _invalid("Params override_callback_uri and verify_token are required.")
        if uri and (not uri.startswith("https://") or len(uri) > OVERRIDE_MAX):
            return _invalid(
                f"Param override_callback_uri must be an https URL of at most {OVERRIDE_MAX} "
                "characters."
            )
        return uri, token

    def _subscribed_apps(self, waba_id: str, r: Recorded) -> _Response:
        if r.method == "GET":
            if waba_id not in self.subscribed_wabas:
                return _json_response({"data": []})
            entry: dict[str, Any] = {"whatsapp_business_api_data": dict(APP)}
            current = self.subscribed_wabas[waba_id]
            if current:
                entry["override_callback_uri"] = current
            return _json_response({"data": [entry]})
        body = r.json if isinstance(r.json, dict) else {}
        if not body:
            self.subscribed_wabas[waba_id] = None  # subscribed; an override is removed
            return _json_response({"success": True})
        override = self._override(body)
        if isinstance(override, _Response):
            return override
        uri, token = override
        self.subscribed_wabas[waba_id] = uri or None
        if uri:
            self.override_tokens[uri] = token
        return _json_response({"success": True})

    def _phone_settings(self, pnid: str, r: Recorded) -> _Response | None:
        """``POST /<PNID>`` with ``webhook_configuration``; ``None`` for another body."""
        body = r.json
        if not isinstance(body, dict) or "webhook_configuration" not in body:
            return None
        configuration = body["webhook_configuration"]
        if not isinstance(configuration, dict):
            return _invalid("Param webhook_configuration must be an object.")
        override = self._override(configuration)
        if isinstance(override, _Response):
            return override
        uri, token = override
        if uri:
            self.phone_overrides[pnid] = uri
            self.override_tokens[uri] = token
        else:
            self.phone_overrides.pop(pnid, None)
        return _json_response({"success": True})

    def _webhook_configuration(self, pnid: str) -> dict[str, str]:
        """What applies to the number, by level (only the levels that are set)."""
        levels: dict[str, str] = {}
        if pnid in self.phone_overrides:
            levels["phone_number"] = self.phone_overrides[pnid]
        waba_override = self.subscribed_wabas.get(self.phone_wabas.get(pnid, ""))
        if waba_override:
            levels["whatsapp_business_account"] = waba_override
        if self.app_callback_url:
            levels["application"] = self.app_callback_url
        return levels
