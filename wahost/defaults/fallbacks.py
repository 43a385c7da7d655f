"""The built-in fallbacks: what happens when no plugin handles a message."""

from __future__ import annotations

from typing import Any

from wahost.hookspecs import hookimpl


@hookimpl(trylast=True)
def on_unhandled(message: Any, ctx: Any) -> bool:
    """Log a message that no plugin handled, so it is visible and not silently dropped."""
    ctx.log.info("message not handled by any plugin", type=message.type, sender=message.sender)
    return True
