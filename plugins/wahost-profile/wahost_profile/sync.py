"""Reading the live settings from the Graph API, comparing them with the configuration, and
pushing only what differs.

Endpoints (reference/cloudapi.md §11 and the business profile endpoint):

* ``GET /<PHONE_NUMBER_ID>?fields=conversational_automation`` and
  ``POST /<PHONE_NUMBER_ID>/conversational_automation`` with ``enable_welcome_message``,
  ``commands`` (``command_name``, ``command_description``) and ``prompts``. Each field is
  optional in the POST, so only the fields that differ are sent.
* ``GET /<PHONE_NUMBER_ID>/whatsapp_business_profile?fields=...`` (answers
  ``{"data": [{...}]}``) and ``POST`` of the same path with
  ``{"messaging_product": "whatsapp", <the fields that differ>}``.

A live value Meta leaves out compares equal to the empty value: no welcome message, no
commands or prompts, an empty string, no websites.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from wahost.graph_guard import graph_path_id
from wahost_profile.config import AUTOMATION_FIELDS, PROFILE_FIELDS, CommandSpec, ProfileConfig

__all__ = [
    "AUTOMATION",
    "PROFILE",
    "Change",
    "GraphRequester",
    "LiveSettings",
    "automation_body",
    "plan",
    "profile_body",
    "push",
    "read_live",
    "set_profile_picture",
]

Endpoint = Literal["conversational_automation", "whatsapp_business_profile"]
AUTOMATION: Endpoint = "conversational_automation"
PROFILE: Endpoint = "whatsapp_business_profile"


class GraphRequester(Protocol):
    """What this module needs of :class:`wahost.graph.GraphClient`."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
    ) -> Any: ...


# -- what Meta answers (unknown fields ignored, absent ones None) -----------------------------


class _WireCommand(msgspec.Struct):
    command_name: str = ""
    command_description: str = ""


class _WireAutomation(msgspec.Struct):
    enable_welcome_message: bool | None = None
    commands: list[_WireCommand] | None = None
    prompts: list[str] | None = None


class _WireProfile(msgspec.Struct):
    about: str | None = None
    address: str | None = None
    description: str | None = None
    email: str | None = None
    websites: list[str] | None = None
    vertical: str | None = None


class LiveSettings(msgspec.Struct, kw_only=True):
    """The live settings of one phone number, normalised (absent values are empty).

    ``automation`` / ``profile`` are ``None`` when that endpoint was not read.
    """

    automation: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None


class Change(msgspec.Struct, frozen=True):
    """One field whose live value differs from the configured one."""

    endpoint: Endpoint
    field: str
    live: Any
    desired: Any


def _normalise_automation(wire: _WireAutomation) -> dict[str, Any]:
    return {
        "enable_welcome_message": bool(wire.enable_welcome_message),
        "commands": [
            CommandSpec(command.command_name, command.command_description)
            for command in wire.commands or []
        ],
        "prompts": list(wire.prompts or []),
    }


def _normalise_profile(wire: _WireProfile) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(wire, name) or "" for name in PROFILE_FIELDS}
    values["websites"] = list(wire.websites or [])
    return values


async def read_automation(client: GraphRequester, phone_number_id: str) -> dict[str, Any]:
    """The live conversational components of ``phone_number_id``, normalised."""
    path = f"/{graph_path_id(phone_number_id, what='phone number id')}"
    answer = await client.request("GET", path, params={"fields": "conversational_automation"})
    raw = (answer or {}).get("conversational_automation") or {}
    return _normalise_automation(msgspec.convert(raw, _WireAutomation))


async def read_profile(client: GraphRequester, phone_number_id: str) -> dict[str, Any]:
    """The live business profile fields of ``phone_number_id``, normalised."""
    answer = await client.request(
        "GET",
        f"/{graph_path_id(phone_number_id, what='phone number id')}/whatsapp_business_profile",
        params={"fields": ",".join(PROFILE_FIELDS)},
    )
    data = (answer or {}).get("data") or [{}]
    return _normalise_profile(msgspec.convert(data[0], _WireProfile))


async def read_live(
    client: GraphRequester,
    phone_number_id: str,
    *,
    automation: bool = True,
    profile: bool = True,
) -> LiveSettings:
    """Read the endpoints asked for."""
    live = LiveSettings()
    if automation:
        live.automation = await read_automation(client, phone_number_id)
    if profile:
        live.profile = await read_profile(client, phone_number_id)
    return live


def plan(config: ProfileConfig, live: LiveSettings) -> list[Change]:
    """The changes that would make ``live`` match ``config`` (managed fields only), in the
    order of :data:`AUTOMATION_FIELDS` then :data:`PROFILE_FIELDS`."""
    changes: list[Change] = []
    parts: tuple[tuple[Endpoint, tuple[str, ...], dict[str, Any] | None], ...] = (
        (AUTOMATION, AUTOMATION_FIELDS, live.automation),
        (PROFILE, PROFILE_FIELDS, live.profile),
    )
    for endpoint, fields, current in parts:
        desired = config.managed(fields)
        if not desired:
            continue
        if current is None:
            raise ValueError(f"the live {endpoint} settings were not read")
        for name, value in desired.items():
            if current[name] != value:
                changes.append(Change(endpoint, name, current[name], value))
    return changes


def _wire(value: Any) -> Any:
    return msgspec.to_builtins(value)


def automation_body(changes: list[Change]) -> dict[str, Any]:
    """The body of ``POST /<PHONE_NUMBER_ID>/conversational_automation`` for ``changes``
    (empty when nothing of it changes)."""
    return {c.field: _wire(c.desired) for c in changes if c.endpoint == AUTOMATION}


def profile_body(changes: list[Change]) -> dict[str, Any]:
    """The body of ``POST /<PHONE_NUMBER_ID>/whatsapp_business_profile`` for ``changes``
    (empty when nothing of it changes)."""
    fields = {c.field: _wire(c.desired) for c in changes if c.endpoint == PROFILE}
    return {"messaging_product": "whatsapp", **fields} if fields else {}


async def push(client: GraphRequester, phone_number_id: str, config: ProfileConfig) -> list[Change]:
    """Make the live settings of ``phone_number_id`` match ``config``; return the changes
    made (empty: nothing was sent).

    Reads only the endpoints whose fields the configuration manages, then POSTs to each
    endpoint only the fields that differ. Running it again sends nothing. A failure raises
    the client's :class:`wahost.errors.GraphError`; the automation may then be updated
    and the profile not, which the next push completes.
    """
    graph_path_id(phone_number_id, what="phone number id")
    live = await read_live(
        client,
        phone_number_id,
        automation=config.manages_automation,
        profile=config.manages_profile,
    )
    changes = plan(config, live)
    body = automation_body(changes)
    if body:
        await client.request("POST", f"/{phone_number_id}/{AUTOMATION}", json=body)
    body = profile_body(changes)
    if body:
        await client.request("POST", f"/{phone_number_id}/{PROFILE}", json=body)
    return changes


async def set_profile_picture(client: GraphRequester, phone_number_id: str, handle: str) -> None:
    """Make the business profile's picture the file of a resumable upload's ``handle``
    (:func:`wahost.account.uploads.upload_file`; reference/cloudapi.md §18.6)."""
    await client.request(
        "POST",
        f"/{graph_path_id(phone_number_id, what='phone number id')}/{PROFILE}",
        json={"messaging_product": "whatsapp", "profile_picture_handle": handle},
    )
