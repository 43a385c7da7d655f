"""The smallest useful bot: answer every text with the same text, numbered per conversation.

A bot is a module with a ``Router``. Run it as it is, without packaging::

    wahost simulate --config config/wahost.toml --bot examples/echo_bot.py   # chat, no Meta
    wahost serve --config config/wahost.toml --bot examples/echo_bot.py --reload

or name it in the configuration (``[bot] modules``); test it with ``wahost_app(bots=[echo_bot])``.
"""

from __future__ import annotations

from wahost import Context, Router, filters as F
from wahost.models import Status, TextMessage

router = Router()


@router.message(F.text)
async def echo(message: TextMessage, ctx: Context) -> None:
    """Echo texts; other types are not this router's, so they go on to other plugins."""
    seen = ctx.state.get("seen", 0) + 1
    ctx.state.update(seen=seen)  # committed with the unit's ack, exactly once
    await ctx.reply(f"{message.text.body} (message {seen})")


@router.status()
async def log_status(status: Status, ctx: Context) -> None:
    """Log what happened to what the bot sent (sent, delivered, read, failed)."""
    ctx.log.info("status", wamid=status.id, status=status.status)
