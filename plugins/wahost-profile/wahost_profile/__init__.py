"""wahost-profile: a bot's conversational components (commands, ice breakers, welcome message)
and business profile, declared in ``[plugins.profile]``.

* The table is checked against Meta's limits when the host is created (``wahost check`` and
  ``wahost serve`` refuse it, naming ``plugins.profile.<key>``).
* ``wahost profile pull | diff | push`` read, compare and apply the settings; ``push`` sends
  only what differs.
* ``apply_on_start = true`` pushes in the background when the host starts; a failure is
  logged and the host keeps running.
* ``/command`` texts: :func:`command_of` gives the :class:`Command` of the message being
  handled (also in the slot :data:`COMMAND` of ``ctx.slots``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from wahost import SlotKey, hookimpl
from wahost.deprecation import moved_names
from wahost_profile.commands import COMMAND, Command, command_of, parse_command, recognise
from wahost_profile.config import CommandSpec, ProfileConfig, SettingError
from wahost_profile.sync import Change, plan, push, read_live

if TYPE_CHECKING:
    import click
    import msgspec

    from wahost import Context, Message, Wahost

__all__ = [
    "COMMAND",
    "NO_APPLY_ON_START",
    "Change",
    "Command",
    "CommandSpec",
    "ProfileConfig",
    "SettingError",
    "command_of",
    "parse_command",
    "plan",
    "push",
    "read_live",
    "startup_task",
]

log = structlog.get_logger("wahost_profile")

#: Set ``host.slots[NO_APPLY_ON_START] = True`` before starting a host to skip the push of
#: ``apply_on_start`` (a tool that starts a host for another purpose).
NO_APPLY_ON_START: SlotKey[bool] = SlotKey("profile.no_apply_on_start")
_APPLY_TASK: SlotKey[asyncio.Task[list[Change] | None]] = SlotKey("profile.apply_task")

#: ``EXTRAS_KEY`` until the next minor release: the slot is :data:`COMMAND`.
__getattr__ = moved_names(__name__, {"EXTRAS_KEY": "wahost_profile.commands.COMMAND"})


@hookimpl
def wahost_config_schema() -> Mapping[str, type[msgspec.Struct]]:
    return {"profile": ProfileConfig}


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_profile.cli import profile

    cli.add_command(profile)


@hookimpl
async def wahost_startup(host: Wahost) -> None:
    config = host.plugin_config("profile", ProfileConfig)
    if not config.commands and not config.any_command:
        host.dispatch.skip(before_message)  # no text is a command: nothing to recognise
    if not config.apply_on_start or host.slots.get(NO_APPLY_ON_START):
        return
    # In the background: start-up does not wait for the Graph API (and its retries), and a
    # failure cannot stop the host.
    task = asyncio.create_task(_apply(host, config), name="wahost-profile apply_on_start")
    host.slots[_APPLY_TASK] = task


async def _apply(host: Wahost, config: ProfileConfig) -> list[Change] | None:
    client = host.client
    number = host.config.whatsapp.phone_number_id
    if client is None:
        return None
    try:
        changes = await push(client, number, config)
    except Exception as exc:  # logged, never fatal: the bot works with the old settings
        log.warning(
            "profile push at start-up failed; the host keeps running",
            phone_number_id=number,
            error=f"{type(exc).__name__}: {exc}",
        )
        return None
    if changes:
        log.info(
            "profile pushed at start-up",
            phone_number_id=number,
            changed=[f"{change.endpoint}.{change.field}" for change in changes],
        )
    else:
        log.info("profile already up to date", phone_number_id=number)
    return changes


def startup_task(host: Wahost) -> asyncio.Task[list[Change] | None] | None:
    """The background push of ``apply_on_start`` (its result: the changes made, or ``None``
    when it failed), or ``None`` when there is none."""
    return host.slots.get(_APPLY_TASK)


@hookimpl
async def wahost_shutdown(host: Wahost) -> None:
    task = host.slots.pop(_APPLY_TASK)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@hookimpl
def before_message(host: Wahost, message: Message, ctx: Context) -> None:
    # Middleware: every on_message implementation (the state machine's too) finds the command.
    command = recognise(host, message)
    if command is not None:
        ctx.slots[COMMAND] = command
        ctx.log.debug("command recognised", command=command.name)
