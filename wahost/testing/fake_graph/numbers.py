"""The fake's phone numbers (reference/cloudapi.md §18.4, §18.5).

:meth:`NumberRoutes.add_number` holds a number of a WABA. Then:

* ``GET /<WABA_ID>/phone_numbers`` lists them in ``data[]``; ``GET /<PNID>?fields=`` reads
  one (fields outside :data:`PHONE_FIELDS` go on to the other routes of the fake).
* ``POST /<PNID>/register`` (``pin`` of 6 digits; after a first registration the same PIN),
  ``POST /<PNID>/deregister``: ``{"success": true}``; more than 10 of them in 72 hours is
  answered 133016.
* ``POST /<PNID>/request_code?code_method=SMS|VOICE&language=`` "sends" the code kept in
  :attr:`FakeNumber.pending_code`; ``POST /<PNID>/verify_code?code=`` checks it (a wrong code:
  136025, the fake's choice of Meta's verification error).
* ``POST /<PNID>?new_display_name=`` puts the name in review (``PENDING_REVIEW``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from wahost.testing.fake_graph.catalogue import error_body
from wahost.testing.fake_graph.checks import _invalid
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response

PHONE_FIELDS = frozenset(
    {
        "id",
        "verified_name",
        "display_phone_number",
        "quality_rating",
        "messaging_limit_tier",
        "throughput",
        "status",
        "name_status",
        "code_verification_status",
        "new_display_name",
        "new_name_status",
    }
)


@dataclass
class FakeNumber:
    """A business phone number held by the fake."""

    id: str
    waba_id: str
    display_phone_number: str
    verified_name: str = "Test Business"
    quality_rating: str = "GREEN"
    messaging_limit_tier: str = "TIER_1K"
    throughput: dict[str, str] = field(default_factory=lambda: {"level": "STANDARD"})
    status: str = "PENDING"
    name_status: str = "APPROVED"
    code_verification_status: str = "NOT_VERIFIED"
    new_display_name: str = ""
    new_name_status: str = "NONE"
    pin: str | None = None
    pending_code: str | None = None
    data_localization_region: str | None = None
    #: When each register/deregister request came (Meta allows 10 in 72 hours).
    registrations: list[float] = field(default_factory=list)

    def fields(self, names: list[str]) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in PHONE_FIELDS}
        return {"id": self.id, **{name: values[name] for name in names if name != "id"}}


def _success() -> _Response:
    return _json_response({"success": True})


class NumberRoutes:
    """Phone numbers, as a mixin of :class:`FakeGraph` placed before
    :class:`~.routes.GraphRoutes`; other requests go on to the next ``_route``."""

    #: Numbers by phone number id (:meth:`add_number`).
    numbers: dict[str, FakeNumber]

    def add_number(
        self, phone_number_id: str, waba_id: str, display_phone_number: str = "+1 555-010-0000"
    ) -> FakeNumber:
        """Hold a phone number of ``waba_id``; returns it for the test to change."""
        number = FakeNumber(phone_number_id, waba_id, display_phone_number)
        self.numbers[phone_number_id] = number
        return number

    def _route(self, r: Recorded) -> _Response:
        answer = self._number_route(r)
        if answer is not None:
            return answer
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def _number_route(self, r: Recorded) -> _Response | None:
        parts = r.path.strip("/").split("/")
        if not (_VERSION.fullmatch(parts[0]) and all(parts)):
            return None
        match r.method, parts[1:]:
            case "GET", [waba_id, "phone_numbers"]:
                return self._list_numbers(waba_id, r)
            case "GET", [pnid] if pnid in self.numbers:
                names = [f for f in r.params.get("fields", "").split(",") if f]
                if names and set(names) <= PHONE_FIELDS:
                    return _json_response(self.numbers[pnid].fields(names))
            case "POST", [pnid] if pnid in self.numbers and "new_display_name" in r.params:
                number = self.numbers[pnid]
                number.new_display_name = r.params["new_display_name"]
                number.new_name_status = "PENDING_REVIEW"
                return _success()
            case "POST", [pnid, "register" | "deregister" | "request_code" | "verify_code" as act]:
                if pnid not in self.numbers:
                    return _invalid(f"Unknown phone number id {pnid}.")
                return self._number_action(self.numbers[pnid], act, r)
        return None

    def _list_numbers(self, waba_id: str, r: Recorded) -> _Response:
        names = [f for f in r.params.get("fields", "").split(",") if f in PHONE_FIELDS]
        names = names or ["verified_name", "display_phone_number", "quality_rating"]
        data = [n.fields(names) for n in self.numbers.values() if n.waba_id == waba_id]
        return _json_response({"data": data, "paging": {"cursors": {}}})

    def _number_action(self, number: FakeNumber, act: str, r: Recorded) -> _Response:
        if act in ("register", "deregister"):
            now = time.time()
            number.registrations = [t for t in number.registrations if now - t < 72 * 3600]
            if len(number.registrations) >= 10:
                return _json_response(
                    error_body(
                        133016, message="(#133016) Account register deregister rate limit exceeded"
                    ),
                    400,
                )
            number.registrations.append(now)
        if act == "register":
            body = r.json if isinstance(r.json, dict) else {}
            pin = body.get("pin")
            if body.get("messaging_product") != "whatsapp" or not (
                isinstance(pin, str) and len(pin) == 6 and pin.isdigit()
            ):
                return _invalid("Params messaging_product and pin (6 digits) are required.")
            if number.pin is not None and pin != number.pin:
                return _json_response(
                    error_body(133005, message="(#133005) Two step verification PIN Mismatch"), 400
                )
            number.pin = pin
            number.data_localization_region = body.get("data_localization_region")
            number.status = "CONNECTED"
            return _success()
        if act == "deregister":
            number.status = "DISCONNECTED"
            return _success()
        params = r.params
        if act == "request_code":
            if params.get("code_method") not in ("SMS", "VOICE") or not params.get("language"):
                return _invalid("Params code_method (SMS or VOICE) and language are required.")
            number.pending_code = f"{secrets.randbelow(10**6):06d}"
            return _success()
        if number.pending_code is None or params.get("code") != number.pending_code:
            return _json_response(error_body(136025, message="(#136025) Verify code error"), 400)
        number.pending_code = None
        number.code_verification_status = "VERIFIED"
        return _success()
