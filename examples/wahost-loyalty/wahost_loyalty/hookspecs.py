"""The hook wahost-loyalty adds for other plugins.

Other plugins implement it with ``@hookimpl(optionalhook=True)`` so that they still load when
wahost-loyalty is not installed.
"""

from __future__ import annotations

from typing import Any

from wahost import hookspec


@hookspec
async def on_points_awarded(host: Any, user: str, points: int, total: int, ctx: Any) -> None:
    """A user earned loyalty points.

    **When:** after wahost-loyalty counted an inbound message, while that message is handled
    (``ctx`` is its context: ``ctx.reply`` answers the user). **Mode:** broadcast — every
    implementation runs; an exception fails the message, which is retried.

    ``points`` were just added; ``total`` is the user's balance including them.
    """
