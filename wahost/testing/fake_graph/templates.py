"""The fake's message templates management API (reference/cloudapi.md §15.1).

* ``GET /<WABA_ID>/message_templates`` lists the WABA's templates (``name``, ``language``,
  ``status`` filters; ``limit`` and an ``after`` cursor page it), each as Meta's list
  returns it: ``id``, ``name``, ``language``, ``status``, ``category``, ``components`` with
  upper-case ``type``/``format``, ``parameter_format``, and ``rejected_reason``.
* ``POST /<WABA_ID>/message_templates`` creates one language of a template; it starts
  ``PENDING`` and answers ``{"id", "status", "category"}``. A name already held in that
  language is refused (code 100, subcode 2388024: UNVERIFIED, as seen in client reports).
* ``GET /<TEMPLATE_ID>`` reads one; ``POST /<TEMPLATE_ID>`` edits it: only an APPROVED,
  REJECTED or PAUSED template, components replaced as a whole, no category change once
  approved, an approved template at most once a day. An edited approved or paused template
  stays APPROVED (Meta: "auto-approved unless review fails"); a rejected one goes back to
  PENDING.
* ``DELETE /<WABA_ID>/message_templates?name=`` deletes every language of the name,
  ``&hsm_id=`` one of them; a DISABLED template cannot be deleted.

Review is the test's: :meth:`TemplateRoutes.review_template` sets the outcome and returns the
``message_template_status_update`` webhook value Meta would send.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from wahost.testing.fake_graph.catalogue import error_body
from wahost.testing.fake_graph.checks import _invalid
from wahost.testing.fake_graph.wire import _VERSION, Recorded, _json_response, _Response

_NAME = re.compile(r"[a-z0-9_]{1,512}")
_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
_EDITABLE = ("APPROVED", "REJECTED", "PAUSED")
#: Meta's subcode for "content in this language already exists" (UNVERIFIED).
DUPLICATE_LANGUAGE_SUBCODE = 2388024


def _upper(value: Any) -> Any:
    """Components as the list endpoint returns them: ``type`` and ``format`` in upper case."""
    if isinstance(value, list):
        return [_upper(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("type", "format") and isinstance(item, str):
            out[key] = item.upper()
        elif key in ("components", "buttons", "cards"):
            out[key] = _upper(item)
        else:
            out[key] = item
    return out


@dataclass
class FakeTemplate:
    """One language of a template held by the fake."""

    id: str
    waba_id: str
    name: str
    language: str
    category: str
    components: list[Any]
    parameter_format: str = "POSITIONAL"
    status: str = "PENDING"
    rejected_reason: str = "NONE"
    edits: list[float] = field(default_factory=list)

    def listed(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": self.components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "rejected_reason": self.rejected_reason,
            "id": self.id,
        }


def _template_problem(body: Any) -> str | None:
    """What Meta's create endpoint would refuse in ``body``, minimally."""
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return "Param name must be lower-case letters, digits and underscores (at most 512)."
    if not isinstance(body.get("language"), str) or not body["language"]:
        return "The parameter language is required."
    return _components_problem(body.get("components"), body.get("category"))


def _components_problem(components: Any, category: Any) -> str | None:
    if not isinstance(category, str) or category.upper() not in _CATEGORIES:
        return f"Param category must be one of {', '.join(_CATEGORIES)}."
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return "Param components must be an array of objects."
    types = [str(c.get("type", "")).upper() for c in components]
    if types.count("BODY") != 1:
        return "Param components must have exactly one BODY component."
    return None


class TemplateRoutes:
    """Templates management, as a mixin of :class:`FakeGraph` placed before
    :class:`~.routes.GraphRoutes`: it answers the template paths and hands every other
    request on to the next ``_route``."""

    #: Every template language held, by template id.
    message_templates: dict[str, FakeTemplate]

    def _route(self, r: Recorded) -> _Response:
        parts = r.path.strip("/").split("/")
        if _VERSION.fullmatch(parts[0]) and all(parts):
            match r.method, parts[1:]:
                case "GET" | "POST" | "DELETE", [waba_id, "message_templates"]:
                    return self._message_templates(waba_id, r)
                case "GET" | "POST", [node] if node in self.message_templates:
                    return self._template_node(self.message_templates[node], r)
        # The mixin comes before GraphRoutes in FakeGraph's bases, which mypy cannot see.
        answer: _Response = super()._route(r)  # type: ignore[misc]
        return answer

    def add_template(
        self,
        waba_id: str,
        body: dict[str, Any],
        *,
        status: str = "APPROVED",
        rejected_reason: str = "NONE",
    ) -> FakeTemplate:
        """Hold a template as if it had been created (and reviewed) earlier."""
        template = self._new_template(waba_id, body)
        template.status = status
        template.rejected_reason = rejected_reason
        return template

    def template(self, name: str, language: str) -> FakeTemplate | None:
        """The held template ``name`` in ``language``, if any."""
        for template in self.message_templates.values():
            if (template.name, template.language) == (name, language):
                return template
        return None

    def review_template(
        self, template_id: str, status: str, *, reason: str = "NONE"
    ) -> dict[str, Any]:
        """Give the template ``status`` (APPROVED, REJECTED with ``reason``, PAUSED, ...) and
        return the ``message_template_status_update`` value Meta sends for it (§3)."""
        template = self.message_templates[template_id]
        template.status = status
        template.rejected_reason = reason if status == "REJECTED" else "NONE"
        return {
            "event": status,
            "message_template_id": int(template.id),
            "message_template_name": template.name,
            "message_template_language": template.language,
            "message_template_category": template.category,
            "reason": reason,
        }

    def _new_template(self, waba_id: str, body: dict[str, Any]) -> FakeTemplate:
        template_id = str(10**15 + len(self.message_templates) + 1 + int(time.time() % 1e6))
        while template_id in self.message_templates:
            template_id = str(int(template_id) + 1)
        template = FakeTemplate(
            id=template_id,
            waba_id=waba_id,
            name=body["name"],
            language=body["language"],
            category=str(body["category"]).upper(),
            components=_upper(body.get("components", [])),
            parameter_format=str(body.get("parameter_format", "positional")).upper(),
        )
        self.message_templates[template_id] = template
        return template

    def _message_templates(self, waba_id: str, r: Recorded) -> _Response:
        if r.method == "GET":
            return self._list_templates(waba_id, r)
        if r.method == "DELETE":
            return self._delete_templates(waba_id, r)
        body = r.json
        problem = _template_problem(body)
        if problem is not None:
            return _invalid(problem)
        if self.template(body["name"], body["language"]) is not None:
            error = error_body(
                100,
                message="Invalid parameter",
                details=f"Content in this language already exists: {body['name']} "
                f"({body['language']}).",
                subcode=DUPLICATE_LANGUAGE_SUBCODE,
            )
            return _json_response(error, 400)
        template = self._new_template(waba_id, body)
        return _json_response(
            {"id": template.id, "status": template.status, "category": template.category}
        )

    def _list_templates(self, waba_id: str, r: Recorded) -> _Response:
        held = [t for t in self.message_templates.values() if t.waba_id == waba_id]
        for key in ("name", "language"):
            if key in r.params:
                held = [t for t in held if getattr(t, key) == r.params[key]]
        if "status" in r.params:
            wanted = {s.strip().upper() for s in r.params["status"].split(",")}
            held = [t for t in held if t.status in wanted]
        limit = int(r.params.get("limit") or 25)
        start = int(r.params.get("after") or 0)
        page = held[start : start + limit]
        fields = [f for f in r.params.get("fields", "").split(",") if f]
        data = [
            {k: v for k, v in t.listed().items() if not fields or k in fields or k == "id"}
            for t in page
        ]
        answer: dict[str, Any] = {"data": data}
        if page:
            answer["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(held):
                answer["paging"]["next"] = f"{r.path}?after={start + len(page)}"
        return _json_response(answer)

    def _delete_templates(self, waba_id: str, r: Recorded) -> _Response:
        name = r.params.get("name")
        if not name:
            return _invalid("The parameter name is required.")
        hsm_id = r.params.get("hsm_id")
        doomed = [
            t
            for t in self.message_templates.values()
            if t.waba_id == waba_id and t.name == name and (hsm_id is None or t.id == hsm_id)
        ]
        if not doomed:
            return _invalid(f"Message template {name!r} not found.")
        if any(t.status == "DISABLED" for t in doomed):
            return _invalid("A DISABLED message template cannot be deleted.")
        for template in doomed:
            del self.message_templates[template.id]
        return _json_response({"success": True})

    def _template_node(self, template: FakeTemplate, r: Recorded) -> _Response:
        """``GET`` / ``POST /<TEMPLATE_ID>``."""
        if r.method == "GET":
            fields = [f for f in r.params.get("fields", "").split(",") if f]
            listed = template.listed()
            return _json_response(
                {k: v for k, v in listed.items() if not fields or k in fields or k == "id"}
            )
        body = r.json
        if not isinstance(body, dict):
            return _invalid("The body must be a JSON object.")
        if template.status not in _EDITABLE:
            return _invalid(f"A {template.status} template cannot be edited.")
        category = body.get("category")
        changes_category = category is not None and str(category).upper() != template.category
        if changes_category and template.status == "APPROVED":
            return _invalid("The category of an approved template cannot be changed.")
        components = body.get("components")
        if components is not None:
            problem = _components_problem(components, category or template.category)
            if problem is not None:
                return _invalid(problem)
        now = time.time()
        if template.status == "APPROVED":
            recent = [at for at in template.edits if now - at < 24 * 3600]
            if recent:
                return _json_response(
                    error_body(100, details="An approved template can be edited once a day."),
                    400,
                )
        if components is not None:
            template.components = _upper(components)
        if category is not None:
            template.category = str(category).upper()
        template.edits.append(now)
        template.status = "PENDING" if template.status == "REJECTED" else "APPROVED"
        template.rejected_reason = "NONE"
        return _json_response({"success": True})
