"""wahost-loyalty: one loyalty point per message, and a hook for other plugins.

An example of a third-party plugin that extends wahost's hook API: it declares
``on_points_awarded`` (:mod:`wahost_loyalty.hookspecs`) through ``wahost_add_hookspecs`` and
calls it with ``host.dispatch``. Send "points" to see the balance.
"""

from __future__ import annotations

from typing import Any

import pluggy

from wahost import Context, Message, Wahost, hookimpl
from wahost.models import TextMessage
from wahost_loyalty import hookspecs

NAMESPACE = "loyalty"
POINTS_PER_MESSAGE = 1


@hookimpl
def wahost_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


async def balance(ctx: Context, user: str) -> int:
    """The user's points (kept with ``ctx.kv_*``, committed with the message's ack)."""
    stored = await ctx.kv_get(NAMESPACE, user)
    return int(stored) if stored is not None else 0


@hookimpl(tryfirst=True)
async def on_message(host: Wahost, message: Message, ctx: Context) -> Any:
    """Count every message before other plugins see it; answer "points" itself."""
    user = message.sender
    if isinstance(message, TextMessage) and message.text.body.strip().lower() == "points":
        await ctx.reply(text=f"You have {await balance(ctx, user)} points.")
        return True
    total = await balance(ctx, user) + POINTS_PER_MESSAGE
    ctx.kv_set(NAMESPACE, user, str(total).encode())
    await host.dispatch.broadcast(
        "on_points_awarded",
        unit=ctx.unit,
        user=user,
        points=POINTS_PER_MESSAGE,
        total=total,
        ctx=ctx,
    )
    return None  # counted, not handled: the next plugin answers the message
