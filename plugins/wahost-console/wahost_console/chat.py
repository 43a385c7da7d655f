"""The chat page: the simulator in the browser.

The page talks to the simulator attached to the host (the slot
:data:`wahost.simulator.SIMULATION`, set by ``wahost simulate --web``) through three calls:
the users, a long poll of the thread's items, and an action (a text, a choice, a form, a
reaction), plus a fourth that stages a group chat (its participants then write into it, one
at a time). Against a real Meta account
there is no simulator: the page says so and the API answers 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import quart

from wahost.simulator import SIMULATION
from wahost_console.auth import CSRF_HEADER, Identity
from wahost_console.web import Console

if TYPE_CHECKING:
    from wahost.simulator.session import Simulation
    from wahost.web import Route

UNAVAILABLE = (
    "no simulator is attached to this host: the chat is available under `wahost simulate --web`"
)
#: Longest long poll, in seconds (below the usual proxy idle timeouts).
MAX_WAIT = 25.0


def simulator(console: Console) -> Simulation | None:
    return console.host.slots.get(SIMULATION)


def _unavailable(console: Console) -> quart.Response:
    return console.json({"error": UNAVAILABLE}, status=404)


async def page(console: Console, identity: Identity) -> quart.Response:
    sim = simulator(console)
    return console.render(
        "chat.html",
        identity,
        page="chat",
        available=sim is not None,
        csrf_header=CSRF_HEADER,
    )


async def users(console: Console, identity: Identity) -> Any:
    sim = simulator(console)
    if sim is None:
        return _unavailable(console)
    groups = [group.to_json() for group in sim.groups.values()]
    return {"default_user": sim.default_user, "users": list(sim.users()), "groups": groups}


async def new_group(console: Console, identity: Identity) -> Any:
    sim = simulator(console)
    if sim is None:
        return _unavailable(console)
    try:
        payload = json.loads(await quart.request.get_data(as_text=True) or "{}")
    except ValueError:
        return console.json({"error": "the body must be JSON"}, status=400)
    subject = payload.get("subject") if isinstance(payload, dict) else None
    participants = payload.get("participants") if isinstance(payload, dict) else None
    if not isinstance(subject, str) or not isinstance(participants, list):
        expected = 'expected {"subject": ..., "participants": [...]}'
        return console.json({"error": expected}, status=400)
    try:
        group_id = sim.add_group(subject, [str(p) for p in participants])
    except ValueError as exc:
        return console.json({"error": str(exc)}, status=400)
    result: dict[str, Any] = sim.groups[group_id].to_json()
    return result


def _number(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


async def items(console: Console, identity: Identity) -> Any:
    sim = simulator(console)
    if sim is None:
        return _unavailable(console)
    args = quart.request.args
    user = args.get("user") or sim.default_user
    after = int(_number(args.get("after"), 0))
    timeout = min(max(_number(args.get("timeout"), 0.0), 0.0), MAX_WAIT)
    try:
        result: dict[str, Any] = await sim.items(user, after=after, timeout=timeout)
    except ValueError as exc:  # not a phone number
        return console.json({"error": str(exc)}, status=400)
    return result


async def act(console: Console, identity: Identity) -> Any:
    sim = simulator(console)
    if sim is None:
        return _unavailable(console)
    try:
        payload = json.loads(await quart.request.get_data(as_text=True) or "{}")
    except ValueError:
        return console.json({"error": "the body must be JSON"}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), dict):
        return console.json({"error": 'expected {"user": ..., "action": {...}}'}, status=400)
    user = payload.get("user") or sim.default_user
    group = payload.get("group") or None
    if not isinstance(user, str) or not isinstance(group, str | None):
        return console.json({"error": "user and group must be strings"}, status=400)
    try:
        if group is None:
            result: dict[str, Any] = await sim.act(user, payload["action"])
        else:
            result = await sim.act(user, payload["action"], group=group)
    except ValueError as exc:
        return console.json({"error": str(exc)}, status=400)
    return result


def routes(
    console: Console, guarded: Callable[..., Any], route: Callable[..., Route]
) -> list[Route]:
    return [
        route("/chat", guarded(page), name="chat"),
        route("/api/chat/users", guarded(users, "api")),
        route("/api/chat/items", guarded(items, "api")),
        route("/api/chat/act", guarded(act, "api"), ("POST",)),
        route("/api/chat/groups", guarded(new_group, "api"), ("POST",)),
    ]
