"""The benchmark's echo bot as a wahost plugin: every text answered with the same text."""

from __future__ import annotations

from typing import Any

from wahost import hookimpl


@hookimpl
async def on_message(message: Any, ctx: Any) -> Any:
    if message.type == "text":
        await ctx.reply(text=message.text.body)
        return True
    return None
