"""Recognising ``/command arguments`` texts.

A typed or tapped command reaches the bot as an ordinary text message whose body is exactly
what the user sent, e.g. ``/imagine cars racing on Mars`` (reference/cloudapi.md §11). This
plugin's ``before_message`` (middleware: it runs before every ``on_message``) recognises such a
text and attaches a :class:`Command` to the unit as ``ctx.extras["profile.command"]``, so that
every plugin (the state machine included) sees the message and can ask :func:`command_of`.

What counts as a command: the body, without surrounding white space, starts with ``/``
immediately followed by the name; the name ends at the first white space; the rest, trimmed,
is the arguments. The name must be one of the configured ``[[plugins.profile.commands]]``,
compared case-insensitively (the Command carries the configured spelling). Other ``/x`` texts
(a path, a typo, a command set up only in WhatsApp Manager) are ordinary texts, unless
``any_command = true``, which accepts every ``/name``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from wahost import Context, Wahost

__all__ = ["EXTRAS_KEY", "Command", "command_of", "parse_command", "recognise"]

#: The key of the recognised command in ``ctx.extras``.
EXTRAS_KEY = "profile.command"


class Command(msgspec.Struct, frozen=True):
    """A recognised ``/name arguments`` text."""

    #: The command's name without ``/``, spelled as configured (``"menu"``).
    name: str
    #: The text after the name, trimmed (``""`` when there is none).
    arguments: str = ""

    @property
    def args(self) -> list[str]:
        """The arguments split on white space."""
        return self.arguments.split()


def parse_command(text: str, names: Iterable[str] | None = None) -> Command | None:
    """The command in ``text``, or ``None``.

    ``names``: the accepted command names (compared case-insensitively; the Command gets the
    spelling given here); ``None`` accepts any name.
    """
    body = text.strip()
    if len(body) < 2 or body[0] != "/" or body[1].isspace() or body[1] == "/":
        return None
    parts = body[1:].split(maxsplit=1)
    name = parts[0]
    arguments = parts[1].strip() if len(parts) > 1 else ""
    if names is not None:
        known = {candidate.casefold(): candidate for candidate in names}
        configured = known.get(name.casefold())
        if configured is None:
            return None
        name = configured
    return Command(name=name, arguments=arguments)


def recognise(host: Wahost, message: Any) -> Command | None:
    """The command of an inbound message, by the host's ``[plugins.profile]`` settings."""
    if getattr(message, "type", None) != "text":
        return None
    text = getattr(getattr(message, "text", None), "body", None)
    if not isinstance(text, str):
        return None
    try:
        config = host.plugin_config("profile")
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
    found = ctx.extras.get(EXTRAS_KEY)
    if isinstance(found, Command):
        return found
    if ctx.unit.kind != "message":
        return None
    command = recognise(ctx.host, ctx.update)
    if command is not None:
        ctx.extras[EXTRAS_KEY] = command
    return command
