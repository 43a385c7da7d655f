"""The smallest useful bot: answer every text with the same text.

A plugin is a plain module with ``@hookimpl`` functions. ``wahost serve`` loads the modules
that installed distributions list under the ``wahost`` entry-point group
(``[project.entry-points.wahost] echo-bot = "echo_bot"``; docs/getting-started.md walks through
it); tests load it directly: ``wahost_app(plugins=[echo_bot])``.
"""

from __future__ import annotations

from wahost import Context, Message, Status, hookimpl
from wahost.models import TextMessage


@hookimpl
async def on_message(message: Message, ctx: Context) -> bool | None:
    """Echo texts, numbered per conversation; leave other types to other plugins."""
    if not isinstance(message, TextMessage):
        return None  # not handled: the next plugin (or on_unhandled) gets it
    seen = ctx.state.get("seen", 0) + 1
    ctx.state.update(seen=seen)  # committed with the unit's ack, exactly once
    await ctx.reply(text=f"{message.text.body} (message {seen})")
    return True


@hookimpl
async def on_status(status: Status, ctx: Context) -> None:
    """Log what happened to what the bot sent (sent, delivered, read, failed)."""
    ctx.log.info("status", wamid=status.id, status=status.status)
