"""The fake's account plane besides groups: the blocklist and QR codes (reference/cloudapi.md
§18.1, §18.2).

* ``POST /<PNID>/block_users`` blocks ``{"user"}`` or ``{"user_id"}`` items (at most 1,000):
  ``{"messaging_product", "block_users": {"added_users": [{input, wa_id}], "failed_users"?}}``.
  When :attr:`AccountRoutes.blockable` is a set, a user outside it (one who did not write in
  the last 24 hours) fails with 131047, and the answer then also carries the top-level
  ``error`` 139100 next to the lists, as Meta's partial failure does.
* ``DELETE /<PNID>/block_users`` unblocks (``removed_users``); ``GET`` lists
  ``{"data": [{"messaging_product", "wa_id"}], "paging"}`` with ``limit`` and ``after``.
* ``POST /<PNID>/message_qrdls`` creates (``prefilled_message`` ≤ 140, ``generate_qr_image``
  PNG or SVG; at most 2,000 codes) or, with ``code``, updates; ``GET`` lists them in
  ``data[]``; ``GET /<PNID>/message_qrdls/<code>`` answers one in ``data[]`` (with the image
  URL for ``fields=...qr_image_url.format(PNG|SVG)``); ``DELETE`` answers ``{"success"}``. An
  unknown code is answered code 100.
* ``GET|POST /<PNID>/whatsapp_commerce_settings`` (§18.7): ``data[]`` of one, set with
  ``?is_cart_enabled=`` / ``?is_catalog_visible=`` (``true`` or ``false``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from wahost.testing.fake_graph.catalogue import error_body
from wahost.testing.fake_graph.checks import _invalid, _no_object
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response, _wa_id

_IMAGE_FORMAT = re.compile(r"qr_image_url\.format\((PNG|SVG)\)")


class AccountRoutes:
    """The blocklist, as a mixin of :class:`FakeGraph` placed before
    :class:`~.routes.GraphRoutes`; other requests go on to the next ``_route``."""

    #: Blocked users per phone number id, in the order blocked.
    blocked: dict[str, list[str]]
    #: Who may be blocked (wrote in the last 24 hours); ``None``: anyone.
    blockable: set[str] | None
    #: QR codes per phone number id: code -> prefilled message.
    qr_codes: dict[str, dict[str, str]]
    #: Commerce settings per phone number id (Meta's defaults until set).
    commerce_settings: dict[str, dict[str, bool]]
    url: str

    def _route(self, r: Recorded) -> _Response:
        parts = r.path.strip("/").split("/")
        if _VERSION.fullmatch(parts[0]) and all(parts):
            match r.method, parts[1:]:
                case "GET" | "POST" | "DELETE", [pnid, "block_users"]:
                    return self._block_users(pnid, r)
                case "GET" | "POST", [pnid, "message_qrdls"]:
                    return self._qr_codes(pnid, r)
                case "GET" | "DELETE", [pnid, "message_qrdls", code]:
                    return self._qr_code(pnid, code, r)
                case "GET" | "POST", [pnid, "whatsapp_commerce_settings"]:
                    return self._commerce(pnid, r)
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def _block_users(self, pnid: str, r: Recorded) -> _Response:
        blocked = self.blocked.setdefault(pnid, [])
        if r.method == "GET":
            params = r.params
            limit, start = int(params.get("limit", "100")), int(params.get("after", "0") or 0)
            page = blocked[start : start + limit]
            paging: dict[str, Any] = {"cursors": {"after": str(start + limit)}}
            if start + limit < len(blocked):
                paging["next"] = f"{r.path}?limit={limit}&after={start + limit}"
            data = [{"messaging_product": "whatsapp", "wa_id": w} for w in page]
            return _json_response({"data": data, "paging": paging})
        body = r.json if isinstance(r.json, dict) else {}
        items = body.get("block_users")
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            return _invalid("Param block_users must be an array of 1 to 1000 users.")
        done: list[dict[str, str]] = []
        failed: list[dict[str, Any]] = []
        for item in items:
            given = (
                str(item.get("user") or item.get("user_id") or "") if isinstance(item, dict) else ""
            )
            wa_id = _wa_id(given) if isinstance(item, dict) and "user" in item else given
            if r.method == "POST" and self.blockable is not None and wa_id not in self.blockable:
                error = error_body(131047)["error"]
                failed.append({"input": given, "wa_id": wa_id, "errors": [error]})
                continue
            if r.method == "POST" and wa_id not in blocked:
                blocked.append(wa_id)
            elif r.method == "DELETE" and wa_id in blocked:
                blocked.remove(wa_id)
            done.append({"input": given, "wa_id": wa_id})
        key = "added_users" if r.method == "POST" else "removed_users"
        lists: dict[str, Any] = {key: done}
        answer: dict[str, Any] = {"messaging_product": "whatsapp", "block_users": lists}
        if failed:
            lists["failed_users"] = failed
            answer["error"] = error_body(139100)["error"]
        return _json_response(answer)

    def _qr(self, code: str, message: str, image_format: str | None = None) -> dict[str, Any]:
        qr: dict[str, Any] = {
            "code": code,
            "prefilled_message": message,
            "deep_link_url": f"https://wa.me/message/{code}",
        }
        if image_format is not None:
            qr["qr_image_url"] = f"{self.url}/qr/{code}.{image_format.lower()}"
        return qr

    def _qr_codes(self, pnid: str, r: Recorded) -> _Response:
        codes = self.qr_codes.setdefault(pnid, {})
        if r.method == "GET":
            return _json_response({"data": [self._qr(c, m) for c, m in codes.items()]})
        body = r.json if isinstance(r.json, dict) else {}
        message = body.get("prefilled_message")
        if not isinstance(message, str) or not message or len(message) > 140:
            return _invalid("Param prefilled_message must be 1 to 140 characters.")
        code = body.get("code")
        if code is not None:
            if code not in codes:
                return _no_object("post", str(code))
            codes[code] = message
            return _json_response(self._qr(code, message))
        image_format = body.get("generate_qr_image", "PNG")
        if image_format not in ("PNG", "SVG"):
            return _invalid('Param generate_qr_image must be "PNG" or "SVG".')
        if len(codes) >= 2000:
            return _invalid("The phone number already has 2000 QR codes.")
        code = secrets.token_hex(6).upper()
        codes[code] = message
        return _json_response(self._qr(code, message, image_format))

    def _qr_code(self, pnid: str, code: str, r: Recorded) -> _Response:
        codes = self.qr_codes.setdefault(pnid, {})
        if code not in codes:
            return _no_object(r.method.lower(), code)
        if r.method == "DELETE":
            del codes[code]
            return _json_response({"success": True})
        wanted = _IMAGE_FORMAT.search(r.params.get("fields", ""))
        qr = self._qr(code, codes[code], wanted.group(1) if wanted else None)
        return _json_response({"data": [qr]})

    def _commerce(self, pnid: str, r: Recorded) -> _Response:
        settings = self.commerce_settings.setdefault(
            pnid, {"is_cart_enabled": True, "is_catalog_visible": False}
        )
        if r.method == "GET":
            return _json_response({"data": [{**settings, "id": pnid}]})
        given = {k: v for k, v in r.params.items() if k in settings}
        if not given or any(v not in ("true", "false") for v in given.values()):
            return _invalid("Give is_cart_enabled or is_catalog_visible as true or false.")
        settings.update({k: v == "true" for k, v in given.items()})
        return _json_response({"success": True})
