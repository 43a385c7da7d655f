"""The fake's Flows management API (reference/cloudapi.md §16).

* ``POST /<WABA_ID>/flows`` creates a Flow (``name``, ``categories``, optional ``flow_json``,
  ``publish``, ``endpoint_uri``): ``{id, success, validation_errors?}``; ``GET`` lists them.
* ``GET /<FLOW_ID>?fields=...`` reads one (``preview.invalidate(false)`` gives a preview URL,
  ``metric.name(N).granularity(G).since(D).until(D)`` the data points the test set with
  :meth:`FlowRoutes.set_flow_metric`); ``POST /<FLOW_ID>`` updates its metadata;
  ``DELETE /<FLOW_ID>`` deletes a DRAFT.
* ``POST /<FLOW_ID>/assets`` (multipart ``file``, ``name``, ``asset_type=FLOW_JSON``) uploads
  the Flow JSON and answers its ``validation_errors``; ``GET`` lists the asset with a
  ``download_url`` on this server.
* ``POST /<FLOW_ID>/publish`` (refused while the JSON has validation errors) and
  ``/deprecate`` (PUBLISHED only, for good).

Updating a published Flow's metadata or JSON puts it back to DRAFT, as the lifecycle page
says (§16). The fake's own validation is Meta-like, not Meta's: invalid JSON, a missing
``version`` or ``screens``, a version Meta does not publish; each error with the lines and
columns and a pointer path as Meta gives them. The error codes of refused lifecycle changes
are not in the reference: the fake answers 100 (UNVERIFIED).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from wahost.testing.fake_graph.checks import _invalid, _no_object
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response

CATEGORIES = (
    "SIGN_UP",
    "SIGN_IN",
    "APPOINTMENT_BOOKING",
    "LEAD_GENERATION",
    "CONTACT_US",
    "CUSTOMER_SUPPORT",
    "SURVEY",
    "OTHER",
)
#: The Flow JSON versions Meta publishes (§16).
PUBLISHABLE_VERSIONS = ("5.1", "6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3")
_DEFAULT_FIELDS = ("id", "name", "status", "categories", "validation_errors")
_CALL = re.compile(r"(\w+)\(([^)]*)\)")


@dataclass
class FakeFlow:
    """A Flow the fake holds."""

    id: str
    waba_id: str
    name: str
    categories: list[str]
    status: str = "DRAFT"
    flow_json: str | None = None
    endpoint_uri: str | None = None
    application_id: str | None = None
    validation_errors: list[dict[str, Any]] = field(default_factory=list)
    #: Metric name -> data points, as :meth:`FlowRoutes.set_flow_metric` set them.
    metrics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    preview_url: str | None = None
    preview_expires_at: str | None = None

    def fields(self, names: list[str], base_url: str) -> dict[str, Any]:
        """The answer to ``GET /<FLOW_ID>?fields=`` for the plain fields ``names``."""
        every: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "categories": self.categories,
            "validation_errors": self.validation_errors,
            "json_version": self._json_version(),
            "endpoint_uri": self.endpoint_uri,
            "whatsapp_business_account": {"id": self.waba_id},
            "application": {"id": self.application_id} if self.application_id else None,
            "health_status": {"can_send_message": "AVAILABLE", "entities": []},
        }
        return {name: every[name] for name in names if every.get(name) is not None}

    def _json_version(self) -> str | None:
        try:
            version = json.loads(self.flow_json or "{}").get("version")
        except (ValueError, AttributeError):
            return None
        return version if isinstance(version, str) else None


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _error(
    error: str, message: str, text: str, start: int, end: int, path: str | None
) -> dict[str, Any]:
    line_start, column_start = _position(text, start)
    line_end, column_end = _position(text, end)
    where = {
        "line_start": line_start,
        "line_end": line_end,
        "column_start": column_start,
        "column_end": column_end,
    }
    item: dict[str, Any] = {
        "error": error,
        "error_type": "FLOW_JSON_ERROR" if path is not None else "JSON_SCHEMA_ERROR",
        "message": message,
        **where,
    }
    item["pointers"] = [{**where, "path": path}] if path is not None else []
    return item


def validate_flow_json(
    text: str, versions: tuple[str, ...] = PUBLISHABLE_VERSIONS
) -> list[dict[str, Any]]:
    """The fake's ``validation_errors`` of a Flow JSON (see the module docstring), taking
    ``versions`` as the ones Meta publishes."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        offset = getattr(exc, "pos", 0)
        return [_error("INVALID_JSON", f"Invalid JSON: {exc}", text, offset, offset, None)]
    if not isinstance(document, dict):
        return [_error("INVALID_JSON", "The Flow JSON must be an object.", text, 0, 0, None)]
    errors = []
    version = document.get("version")
    match = re.search(r'"version"\s*:\s*("[^"]*"|[^,}\s]+)', text)
    start, end = (match.start(1), match.end(1)) if match else (0, 0)
    if version is None:
        errors.append(
            _error("MISSING_REQUIRED_PROPERTY", "Property 'version' is required.", text, 0, 0, "")
        )
    elif version not in versions:
        message = (
            f"Flow JSON version {version!r} is not supported: use one of {', '.join(versions)}."
        )
        errors.append(_error("INVALID_PROPERTY_VALUE", message, text, start, end, "version"))
    screens = document.get("screens")
    if not isinstance(screens, list) or not screens:
        errors.append(
            _error(
                "MISSING_REQUIRED_PROPERTY",
                "Property 'screens' is required and must have at least one screen.",
                text,
                0,
                0,
                "screens",
            )
        )
    return errors


def _split_fields(value: str) -> list[str]:
    """``a,b.c(x),d(1,2)`` split at the commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in value:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


class FlowRoutes:
    """Flows management, as a mixin of :class:`FakeGraph` (before :class:`GraphRoutes`, whose
    ``_route`` gets what this one does not answer)."""

    url: str
    api_version: str
    #: Flows by id.
    flows: dict[str, FakeFlow]
    #: The Flow JSON versions the fake publishes (a test narrows it to play Meta retiring one).
    flow_json_versions: tuple[str, ...] = PUBLISHABLE_VERSIONS

    def _route(self, r: Recorded) -> _Response:
        answer = self._flow_route(r)
        if answer is not None:
            return answer
        routed: _Response = super()._route(r)  # type: ignore[misc]
        return routed

    def add_flow(
        self,
        name: str,
        *,
        waba_id: str,
        categories: list[str] | None = None,
        flow_json: str | None = None,
        status: str = "DRAFT",
    ) -> FakeFlow:
        """Hold a Flow made elsewhere (in the Flow Builder, say)."""
        flow = FakeFlow(self._new_flow_id(), waba_id, name, categories or ["OTHER"], status)
        if flow_json is not None:
            flow.flow_json = flow_json
            flow.validation_errors = validate_flow_json(flow_json, self.flow_json_versions)
        self.flows[flow.id] = flow
        return flow

    def flow_named(self, name: str) -> FakeFlow | None:
        """The Flow called ``name``, if any."""
        return next((flow for flow in self.flows.values() if flow.name == name), None)

    def set_flow_metric(self, flow_id: str, name: str, data_points: list[dict[str, Any]]) -> None:
        """The data points ``GET /<FLOW_ID>?fields=metric.name(name)...`` answers."""
        self.flows[flow_id].metrics[name] = data_points

    def _new_flow_id(self) -> str:
        flow_id = str(10**15 + secrets.randbelow(9 * 10**15))
        while flow_id in self.flows:
            flow_id = str(10**15 + secrets.randbelow(9 * 10**15))
        return flow_id

    def _flow_route(self, r: Recorded) -> _Response | None:
        parts = r.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "flow_assets" and parts[1] in self.flows:
            text = self.flows[parts[1]].flow_json or ""
            return _Response(200, text.encode(), "application/json")
        if not parts or not _VERSION.fullmatch(parts[0]):
            return None
        match r.method, parts[1:]:
            case "POST", [waba, "flows"]:
                return self._create_flow(waba, r)
            case "GET", [waba, "flows"] if waba not in self.flows:
                listed = [
                    flow.fields(list(_DEFAULT_FIELDS), self.url)
                    for flow in self.flows.values()
                    if flow.waba_id == waba
                ]
                return _json_response({"data": listed, "paging": {"cursors": {}}})
        if len(parts) < 2 or parts[1] not in self.flows:
            return None
        flow = self.flows[parts[1]]
        match r.method, parts[2:]:
            case "GET", []:
                return self._get_flow(flow, r)
            case "POST", []:
                return self._update_flow(flow, r)
            case "DELETE", []:
                if flow.status != "DRAFT":
                    return _invalid(f"A {flow.status} Flow cannot be deleted: deprecate it.")
                del self.flows[flow.id]
                return _json_response({"success": True})
            case "POST", ["assets"]:
                return self._upload_flow_json(flow, r)
            case "GET", ["assets"]:
                assets = []
                if flow.flow_json is not None:
                    assets.append(
                        {
                            "name": "flow.json",
                            "asset_type": "FLOW_JSON",
                            "download_url": f"{self.url}/flow_assets/{flow.id}/flow.json",
                        }
                    )
                return _json_response({"data": assets, "paging": {"cursors": {}}})
            case "POST", ["publish"]:
                if flow.status not in ("DRAFT", "PUBLISHED"):
                    return _invalid(f"A {flow.status} Flow cannot be published.")
                if flow.flow_json is None or flow.validation_errors:
                    return _invalid("The Flow JSON has validation errors: fix them to publish.")
                flow.status = "PUBLISHED"
                return _json_response({"success": True})
            case "POST", ["deprecate"]:
                if flow.status != "PUBLISHED":
                    return _invalid(f"Only a published Flow can be deprecated ({flow.status}).")
                flow.status = "DEPRECATED"
                return _json_response({"success": True})
        return _no_object(r.method.lower(), parts[1])

    def _create_flow(self, waba: str, r: Recorded) -> _Response:
        body = r.json if isinstance(r.json, dict) else dict(r.form or {})
        name = body.get("name")
        categories = body.get("categories")
        if isinstance(categories, str):  # a form field carries the list as JSON
            try:
                categories = json.loads(categories)
            except ValueError:
                categories = None
        if not isinstance(name, str) or not name:
            return _invalid("The parameter name is required.")
        if (
            not isinstance(categories, list)
            or not categories
            or not all(category in CATEGORIES for category in categories)
        ):
            allowed = ", ".join(CATEGORIES)
            return _invalid(f"Param categories must be a non-empty list of {allowed}.")
        if any(f.name == name and f.waba_id == waba for f in self.flows.values()):
            return _invalid(f"A Flow named {name!r} already exists.")
        flow = FakeFlow(self._new_flow_id(), waba, name, list(categories))
        flow.endpoint_uri = body.get("endpoint_uri") or None
        answer: dict[str, Any] = {"id": flow.id, "success": True}
        flow_json = body.get("flow_json")
        if flow_json is not None:
            if not isinstance(flow_json, str):
                return _invalid("Param flow_json must be a string of JSON.")
            flow.flow_json = flow_json
            flow.validation_errors = validate_flow_json(flow_json, self.flow_json_versions)
            answer["validation_errors"] = flow.validation_errors
        self.flows[flow.id] = flow
        if body.get("publish") in (True, "true") and flow.flow_json and not flow.validation_errors:
            flow.status = "PUBLISHED"
        return _json_response(answer)

    def _get_flow(self, flow: FakeFlow, r: Recorded) -> _Response:
        requested = _split_fields(r.params.get("fields", "")) or list(_DEFAULT_FIELDS)
        answer = flow.fields([name for name in requested if "." not in name], self.url)
        for name in requested:
            if name.startswith("preview"):
                if "invalidate(true)" in name or flow.preview_url is None:
                    flow.preview_url = (
                        f"https://business.facebook.com/wa/manage/flows/{flow.id}/preview/"
                        f"?token={secrets.token_hex(8)}"
                    )
                    expires = time.gmtime(time.time() + 30 * 24 * 3600)
                    flow.preview_expires_at = time.strftime("%Y-%m-%dT%H:%M:%S+0000", expires)
                answer["preview"] = {
                    "preview_url": flow.preview_url,
                    "expires_at": flow.preview_expires_at,
                }
            elif name.startswith("metric."):
                calls = dict(_CALL.findall(name))
                points = flow.metrics.get(calls.get("name", ""))
                if points is None:
                    return _invalid("Not enough data: metrics need at least 250 requests.")
                answer["metric"] = {
                    "granularity": calls.get("granularity", "DAY"),
                    "name": calls["name"],
                    "data_points": points,
                }
        answer["id"] = flow.id
        return _json_response(answer)

    def _update_flow(self, flow: FakeFlow, r: Recorded) -> _Response:
        body = r.json if isinstance(r.json, dict) else dict(r.form or {})
        if flow.status in ("DEPRECATED", "BLOCKED"):
            return _invalid(f"A {flow.status} Flow cannot be updated.")
        categories = body.get("categories")
        if categories is not None:
            if not isinstance(categories, list) or not all(c in CATEGORIES for c in categories):
                return _invalid("Param categories must be a list of Flow categories.")
            flow.categories = list(categories)
        if isinstance(body.get("name"), str):
            flow.name = body["name"]
        if "endpoint_uri" in body:
            flow.endpoint_uri = body["endpoint_uri"] or None
        if "application_id" in body:
            flow.application_id = body["application_id"] or None
        if flow.status == "PUBLISHED":
            flow.status = "DRAFT"
        return _json_response({"success": True})

    def _upload_flow_json(self, flow: FakeFlow, r: Recorded) -> _Response:
        form = r.form or {}
        upload = r.files.get("file")
        if upload is None:
            return _invalid("The parameter file is required.")
        if form.get("asset_type") != "FLOW_JSON":
            return _invalid('Param asset_type must be "FLOW_JSON".')
        if len(upload.data) > 10 * 1024 * 1024:
            return _invalid("The Flow JSON must be at most 10 MB.")
        if flow.status in ("DEPRECATED", "BLOCKED"):
            return _invalid(f"A {flow.status} Flow cannot be updated.")
        text = upload.data.decode("utf-8", "replace")
        flow.flow_json = text
        flow.validation_errors = validate_flow_json(text, self.flow_json_versions)
        if flow.status == "PUBLISHED":
            flow.status = "DRAFT"
        return _json_response({"success": True, "validation_errors": flow.validation_errors})
