"""The Flows management API (reference/cloudapi.md §16) on a host's Graph client.

:class:`FlowsApi` makes the calls: list, get, create, update the metadata, upload the Flow
JSON, read it back, publish, deprecate, delete, preview and metrics. Meta's
``validation_errors`` come back as :class:`MetaValidationError` items that say their line,
column and path, formatted as ``wahost flows validate`` formats local problems.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from wahost.graph import GraphClient
from wahost.graph_guard import graph_path_id
from wahost_flows.config import CATEGORIES

__all__ = [
    "CATEGORIES",
    "METRICS",
    "FlowInfo",
    "FlowsApi",
    "MetaValidationError",
]

METRICS = (
    "ENDPOINT_REQUEST_COUNT",
    "ENDPOINT_REQUEST_ERROR",
    "ENDPOINT_REQUEST_ERROR_RATE",
    "ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL",
    "ENDPOINT_AVAILABILITY",
)
GRANULARITIES = ("DAY", "HOUR", "LIFETIME")


class Pointer(msgspec.Struct, kw_only=True):
    line_start: int | None = None
    line_end: int | None = None
    column_start: int | None = None
    column_end: int | None = None
    path: str | None = None


class MetaValidationError(msgspec.Struct, kw_only=True):
    """One item of Meta's ``validation_errors``."""

    error: str = ""
    error_type: str = ""
    message: str = ""
    line_start: int | None = None
    line_end: int | None = None
    column_start: int | None = None
    column_end: int | None = None
    pointers: list[Pointer] = []

    def format(self, file: str) -> str:
        """``file:line:column: path: ERROR: message``, as a local problem is written."""
        paths = ", ".join(p.path for p in self.pointers if p.path) or "(top level)"
        line = self.line_start or next((p.line_start for p in self.pointers if p.line_start), 0)
        column = self.column_start or next(
            (p.column_start for p in self.pointers if p.column_start), 0
        )
        return f"{file}:{line}:{column}: {paths}: {self.error or self.error_type}: {self.message}"


class FlowInfo(msgspec.Struct, kw_only=True):
    """A Flow as Meta lists it (the fields Meta returns by default, plus the others asked)."""

    id: str
    name: str = ""
    status: str = ""
    categories: list[str] = []
    validation_errors: list[MetaValidationError] = []
    endpoint_uri: str | None = None
    json_version: str | None = None


_info = msgspec.json.Decoder(FlowInfo)
_errors = msgspec.json.Decoder(list[MetaValidationError])


def _decode_errors(answer: Any) -> list[MetaValidationError]:
    raw = answer.get("validation_errors") if isinstance(answer, dict) else None
    return _errors.decode(msgspec.json.encode(raw or []))


class FlowsApi:
    """Flows management calls for the WABA ``waba_id`` through ``client``."""

    def __init__(self, client: GraphClient, waba_id: str) -> None:
        self.client = client
        self.waba_id = graph_path_id(waba_id, what="whatsapp.waba_id")

    @staticmethod
    def _flow(flow_id: str) -> str:
        return graph_path_id(flow_id, what="Flow id")

    async def list_flows(self) -> list[FlowInfo]:
        """Every Flow of the WABA, following the pages."""
        flows: list[FlowInfo] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            answer = await self.client.request("GET", f"/{self.waba_id}/flows", params=params)
            for item in answer.get("data", []):
                flows.append(_info.decode(msgspec.json.encode(item)))
            after = ((answer.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (answer.get("paging") or {}).get("next"):
                return flows
            params["after"] = after

    async def get(self, flow_id: str, fields: str | None = None) -> dict[str, Any]:
        """``GET /<FLOW_ID>`` with ``fields`` (Meta's default fields without)."""
        params = {"fields": fields} if fields else None
        answer: dict[str, Any] = await self.client.request(
            "GET", f"/{self._flow(flow_id)}", params=params
        )
        return answer

    async def create(
        self,
        name: str,
        categories: list[str],
        *,
        flow_json: str | None = None,
        endpoint_uri: str | None = None,
        publish: bool = False,
    ) -> tuple[str, list[MetaValidationError]]:
        """Create a Flow; its id and the validation errors of ``flow_json``."""
        body: dict[str, Any] = {"name": name, "categories": categories}
        if flow_json is not None:
            body["flow_json"] = flow_json
        if endpoint_uri is not None:
            body["endpoint_uri"] = endpoint_uri
        if publish:
            body["publish"] = True
        answer = await self.client.request("POST", f"/{self.waba_id}/flows", json=body)
        return str(answer["id"]), _decode_errors(answer)

    async def update_metadata(self, flow_id: str, **fields: Any) -> None:
        """``POST /<FLOW_ID>`` with ``name``, ``categories``, ``endpoint_uri``,
        ``application_id`` (those given)."""
        body = {key: value for key, value in fields.items() if value is not None}
        await self.client.request("POST", f"/{self._flow(flow_id)}", json=body)

    async def upload_json(self, flow_id: str, flow_json: str) -> list[MetaValidationError]:
        """Upload the Flow JSON (multipart, ``asset_type=FLOW_JSON``); Meta's validation
        errors of it."""
        answer = await self.client.request(
            "POST",
            f"/{self._flow(flow_id)}/assets",
            data={"name": "flow.json", "asset_type": "FLOW_JSON"},
            files={"file": ("flow.json", flow_json.encode(), "application/json")},
        )
        return _decode_errors(answer)

    async def download_json(self, flow_id: str) -> str | None:
        """The Flow JSON Meta holds (its ``FLOW_JSON`` asset), ``None`` when it has none."""
        answer = await self.client.request("GET", f"/{self._flow(flow_id)}/assets")
        url = next(
            (
                item.get("download_url")
                for item in answer.get("data", [])
                if item.get("asset_type") == "FLOW_JSON"
            ),
            None,
        )
        if not url:
            return None
        # The download URL is Meta's CDN's: the token goes only where the host's policy allows.
        response = await self.client.stream(
            url, authenticated=self.client.token_policy.allows(url), follow_redirects=True
        )
        try:
            return (await response.aread()).decode("utf-8")
        finally:
            await response.aclose()

    async def publish(self, flow_id: str) -> None:
        await self.client.request("POST", f"/{self._flow(flow_id)}/publish")

    async def deprecate(self, flow_id: str) -> None:
        await self.client.request("POST", f"/{self._flow(flow_id)}/deprecate")

    async def delete(self, flow_id: str) -> None:
        await self.client.request("DELETE", f"/{self._flow(flow_id)}")

    async def preview(self, flow_id: str, *, invalidate: bool = False) -> dict[str, Any]:
        """``{preview_url, expires_at}``: a public URL valid 30 days (a new one with
        ``invalidate=True``)."""
        flag = "true" if invalidate else "false"
        answer = await self.get(flow_id, f"preview.invalidate({flag})")
        preview: dict[str, Any] = answer.get("preview") or {}
        return preview

    async def metrics(
        self,
        flow_id: str,
        name: str,
        granularity: str,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """``{granularity, name, data_points}`` of the endpoint metric ``name``."""
        field = f"metric.name({name}).granularity({granularity})"
        if since:
            field += f".since({since})"
        if until:
            field += f".until({until})"
        answer = await self.get(flow_id, field)
        metric: dict[str, Any] = answer.get("metric") or {}
        return metric


def same_json(left: str | None, right: str | None) -> bool:
    """Whether two Flow JSON texts hold the same document (formatting aside)."""
    if left is None or right is None:
        return left is right
    try:
        return bool(json.loads(left) == json.loads(right))
    except ValueError:
        return left == right
