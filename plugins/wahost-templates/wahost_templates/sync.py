"""Reading the WABA's templates, comparing them with the declared ones, and pushing only what
differs (reference/cloudapi.md §15.1).

* ``GET /<WABA_ID>/message_templates`` (paged by ``after``) lists every language of every
  template; ``POST`` of the same path creates one; ``POST /<TEMPLATE_ID>`` edits one (its
  components are replaced as a whole); ``DELETE ...?name=[&hsm_id=]`` deletes.
* A declared template is compared with the live one on what the declaration sets, component
  by component (matched by type): a key the file leaves out is not managed, ``example`` is
  not compared (Meta gives media examples back as URLs, not the upload handles sent), tags
  compare case-insensitively, and a declared ``OTP`` button matches the ``URL`` button Meta
  lists for it.
* An edit is only possible on an APPROVED, REJECTED or PAUSED template, and an approved
  template's category cannot change: such a change is *blocked* and reported, never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, Literal, Protocol

import msgspec

from wahost.graph_guard import graph_path_id
from wahost_templates.files import Declared

__all__ = [
    "EDITABLE",
    "FINAL",
    "Change",
    "GraphRequester",
    "delete",
    "list_live",
    "plan",
    "push",
    "wait_for_review",
]

EDITABLE = ("APPROVED", "REJECTED", "PAUSED")
#: Statuses that end a wait for review.
FINAL = ("APPROVED", "REJECTED", "PAUSED", "DISABLED", "DELETED", "LIMIT_EXCEEDED")
_FIELDS = "id,name,language,status,category,components,parameter_format,rejected_reason"
_TAGS = ("type", "format", "category")


class GraphRequester(Protocol):
    """What this module needs of :class:`wahost.graph.GraphClient`."""

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> Any: ...


class Change(msgspec.Struct, frozen=True):
    """What push does (or cannot do) to one template language."""

    name: str
    language: str
    action: Literal["create", "edit", "blocked"]
    detail: str = ""
    template_id: str | None = None


def _path(waba_id: str) -> str:
    return f"/{graph_path_id(waba_id, what='WhatsApp Business Account id')}/message_templates"


async def list_live(
    client: GraphRequester, waba_id: str, *, name: str | None = None
) -> list[dict[str, Any]]:
    """Every template language of the WABA as Meta lists it (all pages)."""
    params: dict[str, Any] = {"fields": _FIELDS, "limit": 100}
    if name is not None:
        params["name"] = name
    out: list[dict[str, Any]] = []
    while True:
        answer = await client.request("GET", _path(waba_id), params=params) or {}
        out.extend(item for item in answer.get("data") or [] if isinstance(item, dict))
        paging = answer.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not paging.get("next") or not after:
            return out
        params = {**params, "after": after}


def covers(declared: Any, live: Any, key: str = "") -> bool:
    """Whether ``live`` matches everything ``declared`` sets (see the module docstring)."""
    if isinstance(declared, dict):
        if not isinstance(live, dict):
            return False
        if declared.get("type") == "OTP" and str(live.get("type", "")).upper() in ("URL", "OTP"):
            shared = set(declared) & set(live) - {"type", "text"}
            return all(covers(declared[k], live[k], k) for k in shared)
        return all(
            k == "example" or (k in live and covers(v, live[k], k)) for k, v in declared.items()
        )
    if isinstance(declared, list):
        if not isinstance(live, list) or len(declared) != len(live):
            return False
        if key == "components":
            return _components_cover(declared, live)
        return all(covers(d, v) for d, v in zip(declared, live, strict=True))
    if key in _TAGS and isinstance(declared, str) and isinstance(live, str):
        return declared.upper() == live.upper()
    return bool(declared == live)


def _components_cover(declared: list[Any], live: list[Any]) -> bool:
    def by_type(items: Iterable[Any]) -> dict[str, Any]:
        return {str(c.get("type", "")).upper(): c for c in items if isinstance(c, dict)}

    mine, theirs = by_type(declared), by_type(live)
    return set(mine) == set(theirs) and all(covers(mine[t], theirs[t]) for t in mine)


def _live_index(live: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(t.get("name")), str(t.get("language"))): t for t in live}


def plan(declared: list[Declared], live: list[dict[str, Any]]) -> list[Change]:
    """What push would do for each declared template that is not live as declared."""
    index = _live_index(live)
    changes: list[Change] = []
    for item in declared:
        spec = item.spec
        wire = spec.to_wire()
        current = index.get((spec.name, spec.language))
        if current is None:
            changes.append(Change(spec.name, spec.language, "create"))
            continue
        parts = []
        if not covers({"components": wire["components"]}, current):
            parts.append("components")
        if str(current.get("category", "")).upper() != spec.category:
            parts.append(f"category {current.get('category')} -> {spec.category}")
        if not parts:
            continue
        status = str(current.get("status", "")).upper()
        template_id = str(current.get("id"))
        recategorised = len(parts) > 1 or parts[0].startswith("category")
        if status not in EDITABLE:
            reason = f"{status} templates cannot be edited; wait for the review"
            changes.append(Change(spec.name, spec.language, "blocked", reason, template_id))
        elif recategorised and status == "APPROVED":
            reason = "an approved template's category cannot change"
            changes.append(Change(spec.name, spec.language, "blocked", reason, template_id))
        else:
            detail = ", ".join(parts)
            changes.append(Change(spec.name, spec.language, "edit", detail, template_id))
    return changes


async def push(
    client: GraphRequester,
    waba_id: str,
    declared: list[Declared],
    live: list[dict[str, Any]] | None = None,
) -> list[Change]:
    """Create the declared templates that are missing and edit those that differ; return the
    changes (blocked ones are returned, not sent). Running it again sends nothing."""
    if live is None:
        live = await list_live(client, waba_id)
    changes = plan(declared, live)
    specs = {(d.spec.name, d.spec.language): d.spec for d in declared}
    done: list[Change] = []
    for change in changes:
        spec = specs[(change.name, change.language)]
        if change.action == "create":
            answer = await client.request("POST", _path(waba_id), json=spec.to_wire())
            created = str((answer or {}).get("id", ""))
            done.append(msgspec.structs.replace(change, template_id=created or None))
        elif change.action == "edit":
            assert change.template_id is not None
            wire = spec.to_wire()
            body: dict[str, Any] = {"components": wire["components"]}
            if "category" in change.detail:
                body["category"] = spec.category
            node = graph_path_id(change.template_id, what="template id")
            await client.request("POST", f"/{node}", json=body)
            done.append(change)
        else:
            done.append(change)
    return done


async def delete(
    client: GraphRequester, waba_id: str, name: str, *, language: str | None = None
) -> list[dict[str, Any]]:
    """Delete template ``name`` (every language, or only ``language``); return the live
    templates deleted. Raises :class:`LookupError` when there is none."""
    live = [t for t in await list_live(client, waba_id, name=name) if t.get("name") == name]
    if language is not None:
        live = [t for t in live if t.get("language") == language]
    if not live:
        which = f"{name} ({language})" if language else name
        raise LookupError(f"no template {which} in WhatsApp Business Account {waba_id}")
    params: dict[str, Any] = {"name": name}
    if language is not None:
        params["hsm_id"] = str(live[0]["id"])
    await client.request("DELETE", _path(waba_id), params=params)
    return live


async def wait_for_review(
    client: GraphRequester,
    waba_id: str,
    keys: list[tuple[str, str]],
    *,
    interval: float = 10.0,
    timeout: float = 24 * 3600,  # noqa: ASYNC109 - the deadline also names who still waits
) -> dict[tuple[str, str], dict[str, Any]]:
    """Poll until each (name, language) has a final status (APPROVED, REJECTED, PAUSED, ...);
    return the live templates. Raises :class:`TimeoutError` with those still waiting."""
    deadline = time.monotonic() + timeout
    while True:
        index = _live_index(await list_live(client, waba_id))
        found = {key: index[key] for key in keys if key in index}
        waiting = [
            key for key in keys if str(found.get(key, {}).get("status", "")).upper() not in FINAL
        ]
        if not waiting:
            return found
        if time.monotonic() >= deadline:
            names = ", ".join(f"{n} ({lang})" for n, lang in waiting)
            raise TimeoutError(f"still waiting for the review of {names}")
        await asyncio.sleep(interval)
