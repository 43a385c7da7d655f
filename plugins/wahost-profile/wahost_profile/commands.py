"""Recognising ``/command arguments`` texts.

A typed or tapped command reaches the bot as an ordinary text message whose body is exactly
what the user sent, e.g. ``/imagine cars racing on Mars`` (reference/cloudapi.md §11). This
plugin's ``before_message`` (middleware: it runs before every ``on_message``) recognises such a
text and attaches a :class:`Command` to the unit in the slot :data:`COMMAND` of ``ctx.slots``,
so that every plugin (the state machine included) sees the message and can ask
:func:`command_of`. :class:`Command` and :func:`parse_command` are the core's
(``wahost.filters``, as ``F.command`` gives them): one command, one parser.

What counts as a command: the body, without surrounding white space, starts with ``/``
immediately followed by the name; the name ends at the first white space; the rest, trimmed,
is the arguments. The name must be one of the configured ``[[plugins.profile.commands]]``,
compared case-insensitively (the Command carries the configured spelling). Other ``/x`` texts
(a path, a typo, a command set up only in WhatsApp Manager) are ordinary texts, unless
``any_command = true``, which accepts every ``/name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wahost.deprecation import moved_names
from wahost.filters import Command as Command
from wahost.filters import parse_command as parse_command
from wahost.slots import SlotKey
from wahost_profile.config import ProfileConfig

if TYPE_CHECKING:
    from wahost import Context, Wahost

__all__ = ["COMMAND", "Command", "command_of", "parse_command", "recognise"]

#: The slot of ``ctx.slots`` holding the command of the message being handled (read it with
#: :func:`command_of`).
COMMAND: SlotKey[Command] = SlotKey("profile.command")

#: ``EXTRAS_KEY`` until the next minor release: the slot is :data:`COMMAND`.
__getattr__ = moved_names(__name__, {"EXTRAS_KEY": "wahost_profile.commands.COMMAND"})


def recognise(host: Wahost, message: Any) -> Command | None:
    """The command of an inbound message, by the host's ``[plugins.profile]`` settings."""
    if getattr(message, "type", None) != "text":
        return None
    text = getattr(getattr(message, "text", None), "body", None)
    if not isinstance(text, str):
        return None
    try:
        config = host.plugin_config("profile", ProfileConfig)
    except KeyError:  # the plugin is not loaded in this host: nothing is a command
        return None
    if config.any_command:
        return parse_command(text)
    if not config.commands:
        return None
    return parse_command(text, [command.command_name for command in config.commands])


def command_of(ctx: Context) -> Command | None:
    """The command the message being handled carries, or ``None``.

    Set by this plugin's ``before_message`` before any ``on_message`` runs; computed on the
    spot when called earlier (e.g. from another plugin's ``before_message``).
    """
    found = ctx.slots.get(COMMAND)
    if found is not None:
        return found
    if ctx.unit.kind != "message":
        return None
    command = recognise(ctx.host, ctx.update)
    if command is not None:
        ctx.slots[COMMAND] = command
    return command
