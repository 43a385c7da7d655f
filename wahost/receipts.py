"""Send tokens: how the outbox learns from Meta's statuses that a send went out.

A send whose outcome is unknown (the request left, then the connection dropped or the answer
came too late) may or may not have been accepted by Meta. Sending it again blindly can show
the user the same reply twice. So every send made through the outbox carries a short token
of its outbox key in ``biz_opaque_callback_data``, in front of the author's own tracker: Meta
echoes that value in the message's status webhooks (reference/cloudapi.md §4, §6). The
ingress turns each status that carries a token into a *receipt* unit (a lane of its own, so a
receipt is never queued behind the very unit that waits for it), and the worker writes the
receipt into the outbox. An ambiguous send is then sent again only when no receipt arrived
within a bounded wait (:mod:`wahost.outbox`).

The encoded value is ``wh1:<16 characters>;<the author's tracker>``. The author's part is
what plugins see as ``Status.biz_opaque_callback_data``: the token never reaches them.
"""

from __future__ import annotations

import base64
import hashlib

PREFIX = "wh1:"
#: Characters of a token: 12 bytes of BLAKE2b, URL-safe base64.
TOKEN_CHARS = 16
#: What a token takes of the 512 characters of ``biz_opaque_callback_data``.
OVERHEAD = len(PREFIX) + TOKEN_CHARS + 1
_SEPARATOR_AT = len(PREFIX) + TOKEN_CHARS


def make_token(outbox_key: str) -> str:
    """The token of one send: a digest of its outbox key ``(unit key, n)``."""
    digest = hashlib.blake2b(outbox_key.encode(), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode()


def attach(token: str, tracker: str | None) -> str:
    """``biz_opaque_callback_data`` carrying ``token`` and the author's ``tracker``."""
    return f"{PREFIX}{token};{tracker or ''}"


def parse(callback_data: str | None) -> tuple[str | None, str | None]:
    """``(token, the author's tracker)`` of an echoed ``biz_opaque_callback_data``.

    A value wahost did not write comes back whole, with no token.
    """
    if (
        callback_data is None
        or not callback_data.startswith(PREFIX)
        or len(callback_data) < OVERHEAD
        or callback_data[_SEPARATOR_AT] != ";"
    ):
        return None, callback_data
    return callback_data[len(PREFIX) : _SEPARATOR_AT], callback_data[OVERHEAD:] or None
