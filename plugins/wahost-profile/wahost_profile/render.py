"""What ``wahost profile pull`` and ``diff`` print."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from wahost.config import config_to_toml
from wahost_profile.config import AUTOMATION_FIELDS, PROFILE_FIELDS, CommandSpec
from wahost_profile.sync import Change, LiveSettings

__all__ = ["changes_text", "live_toml"]


def live_toml(live: LiveSettings) -> str:
    """The live settings as a ``[plugins.profile]`` table to paste into the configuration.

    Commands come last, as ``[[plugins.profile.commands]]`` tables; an empty profile field
    is written as a comment.
    """
    automation = dict(live.automation or {})
    commands: list[CommandSpec] = automation.pop("commands", [])
    table: dict[str, Any] = {
        name: automation[name] for name in AUTOMATION_FIELDS if name in automation
    }
    for name in PROFILE_FIELDS:
        if live.profile is not None:
            value = live.profile[name]
            table[name] = value if value not in ("", []) else None
    lines = ["[plugins.profile]"]
    if table:
        lines.append(config_to_toml(table).rstrip("\n"))
    if live.automation is not None and not commands:
        lines.append("commands = []")
    for command in commands:
        lines += ["", "[[plugins.profile.commands]]"]
        lines.append(config_to_toml(msgspec.structs.asdict(command)).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value), ensure_ascii=False)


def _item(value: Any) -> str:
    if isinstance(value, CommandSpec):
        return f"/{value.command_name}: {value.command_description}"
    return _value(value)


def _change_lines(change: Change) -> list[str]:
    if not isinstance(change.desired, list):
        return [f"  {change.field}: {_value(change.live)} -> {_value(change.desired)}"]
    removed = [item for item in change.live if item not in change.desired]
    added = [item for item in change.desired if item not in change.live]
    lines = [f"  {change.field}:"]
    lines += [f"    - {_item(item)}" for item in removed]
    lines += [f"    + {_item(item)}" for item in added]
    if not removed and not added:
        lines.append("    ~ reordered: " + ", ".join(_item(item) for item in change.desired))
    return lines


def changes_text(changes: list[Change]) -> str:
    """Changes grouped by endpoint: ``field: live -> desired``, lists as ``-``/``+`` items."""
    lines: list[str] = []
    endpoint = None
    for change in changes:
        if change.endpoint != endpoint:
            endpoint = change.endpoint
            lines.append(f"{endpoint}:")
        lines += _change_lines(change)
    return "\n".join(lines) + "\n" if lines else ""
