"""Filters: what an update must be for a router's handler to take it.

Import the module as ``F``::

    from wahost import Router, filters as F

    @router.message(F.text("hi", ignore_case=True) | F.command("start"))
    async def greet(message, ctx): ...

    @router.message(F.image | F.video, ~F.group)
    async def media(message, ctx): ...

    @router.status(F.failed_with(131049))
    async def not_delivered(status, error, ctx): ...

**Combining.** ``a & b`` matches when both match, ``a | b`` when either does, ``~a`` when
``a`` does not. Several filters given to one handler are combined with ``&``. Both sides are
evaluated left to right and stop as soon as the result is known.

**Values.** Some filters produce values that the handler takes by name (see
:mod:`wahost.injection`): ``F.regex`` gives ``match``, ``F.command`` gives ``command``,
``F.reply`` gives ``reply_id``, ``F.flow_completed`` gives ``response``, ``F.group`` gives
``group_id``, ``F.failed_with`` gives ``error``, ``F.tracker`` gives ``tracker`` and a
``CallbackData.filter()`` gives ``data``. Under ``a & b`` the values of both are kept (on the
same name, the right-hand one wins); under ``a | b`` the values of the side that matched; ``~a``
gives none.

**Kinds.** A filter applies to messages, statuses or events (:attr:`Filter.kinds`);
``F.text`` given to ``@router.status`` is refused when the handler is registered, as is
``F.text & F.failed``, which nothing can match.

**Custom filters.** ``F.new(fn)`` turns a function, sync or ``async def``, into a filter. It
takes its arguments by name like a handler (``message``, ``ctx``, ``state``, ...) and returns
a truth value, or a dict of values for the handler (``provides=`` names them).

Filters never raise on an update they do not understand: a payload of an unexpected shape
does not match.
"""

from wahost.filters.base import Filter, FilterResult, new
from wahost.filters.chat import from_users, group, group_id, private, sent_to, state
from wahost.filters.messages import (
    Command,
    audio,
    command,
    contacts,
    document,
    edit,
    flow_completed,
    image,
    location,
    media,
    message_type,
    order,
    parse_command,
    reaction,
    regex,
    reply,
    reply_id,
    request_welcome,
    revoke,
    sticker,
    system,
    text,
    unsupported,
    video,
    voice,
)
from wahost.filters.statuses import (
    delivered,
    event,
    failed,
    failed_with,
    played,
    read,
    sent,
    tracker,
)

__all__ = [
    "Command",
    "Filter",
    "FilterResult",
    "audio",
    "command",
    "contacts",
    "delivered",
    "document",
    "edit",
    "event",
    "failed",
    "failed_with",
    "flow_completed",
    "from_users",
    "group",
    "group_id",
    "image",
    "location",
    "media",
    "message_type",
    "new",
    "order",
    "parse_command",
    "played",
    "private",
    "reaction",
    "read",
    "regex",
    "reply",
    "reply_id",
    "request_welcome",
    "revoke",
    "sent",
    "sent_to",
    "state",
    "sticker",
    "system",
    "text",
    "tracker",
    "unsupported",
    "video",
    "voice",
]
