"""The built-in fallbacks: what happens when no plugin handles a message."""

from __future__ import annotations

import logging
from typing import Any

from wahost.hookspecs import hookimpl

#: The standard library logger behind ``ctx.log``, asked first: at "warning" the line (and the
#: logger bound to the unit) would be made for every unhandled message only to be dropped.
_UNIT = logging.getLogger("wahost.unit")


@hookimpl(trylast=True)
def on_unhandled(message: Any, ctx: Any) -> bool:
    """Log a message that no plugin handled, so it is visible and not silently dropped."""
    if _UNIT.isEnabledFor(logging.INFO):
        ctx.log.info("message not handled by any plugin", type=message.type, sender=message.sender)
    return True
