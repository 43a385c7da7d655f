"""A plugin that reacts to wahost-loyalty's hook when wahost-loyalty is installed.

``optionalhook=True``: without wahost-loyalty, ``on_points_awarded`` is an unknown hook and
wahost would refuse to start (a misspelled hook must not pass silently); marked optional, the
implementation is simply never called.
"""

from __future__ import annotations

from wahost import Context, hookimpl

BADGES = {3: "bronze", 10: "silver", 50: "gold"}


@hookimpl(optionalhook=True)
async def on_points_awarded(total: int, ctx: Context) -> None:
    """Congratulate the user when a balance reaches a badge."""
    badge = BADGES.get(total)
    if badge is not None:
        await ctx.reply(text=f"You earned the {badge} badge ({total} points)!")
