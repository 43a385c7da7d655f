"""Filters of who sent an update and where: users, the business's number, group or one-to-one
chat, the conversation's state. The reference is :mod:`wahost.filters`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from wahost.filters.base import MESSAGES, NO_VALUES, Filter, FilterResult
from wahost.injection import UpdateKind

if TYPE_CHECKING:
    from wahost.context import Context


# -- who and where -----------------------------------------------------------------------------


class _FromUsers(Filter):
    kinds = MESSAGES

    def __init__(self, users: frozenset[str]) -> None:
        self.users = users

    def check(self, update: Any, ctx: Context) -> bool:
        return update.sender in self.users

    def __repr__(self) -> str:
        return f"F.from_users({', '.join(map(repr, sorted(self.users)))})"


def from_users(*users: str) -> Filter:
    """A message from one of ``users``: phone numbers (``"16505551234"``; a leading ``+`` is
    ignored) or business-scoped user ids, compared with :attr:`Message.sender
    <wahost.models.Message.sender>`."""
    if not users or not all(isinstance(u, str) and u for u in users):
        raise TypeError("F.from_users() takes one or more user ids")
    return _FromUsers(frozenset(u.removeprefix("+") for u in users))


class _SentTo(Filter):
    def __init__(self, numbers: frozenset[str]) -> None:
        self.numbers = numbers

    def check(self, update: Any, ctx: Context) -> bool:
        return getattr(update, "phone_number_id", None) in self.numbers

    def __repr__(self) -> str:
        return f"F.sent_to({', '.join(map(repr, sorted(self.numbers)))})"


def sent_to(*phone_number_ids: str) -> Filter:
    """An update of one of the business's phone numbers, by phone number id (for a host that
    serves several numbers). Applies to messages, statuses and events (an event of a field
    without metadata, e.g. ``flows``, has none and does not match)."""
    if not phone_number_ids or not all(isinstance(p, str) and p for p in phone_number_ids):
        raise TypeError("F.sent_to() takes one or more phone number ids")
    return _SentTo(frozenset(phone_number_ids))


def group_id(update: Any, ctx: Context) -> str | None:
    """The group a message was sent in, or a status's group; ``None`` for a one-to-one chat.

    Read from the typed ``group_id`` of :class:`~wahost.models.Message` and
    :class:`~wahost.models.Status` (``messages[].group_id`` is the only marker of a group
    message; a status of a group send has ``recipient_type: "group"``, reference/cloudapi.md
    §12), the same reading as :attr:`Context.group_id <wahost.Context.group_id>`.
    """
    found = getattr(update, "group_id", None)
    return found if isinstance(found, str) and found else None


class _Chat(Filter):
    kinds: frozenset[UpdateKind] = frozenset({"message", "status"})

    def __init__(self, in_group: bool) -> None:
        self.in_group = in_group
        self.provides = frozenset({"group_id"}) if in_group else NO_VALUES

    def check(self, update: Any, ctx: Context) -> FilterResult:
        found = group_id(update, ctx)
        if self.in_group:
            return None if found is None else {"group_id": found}
        return found is None

    def __repr__(self) -> str:
        return "F.group" if self.in_group else "F.private"


#: A message sent in a group chat, or a status of a message sent to a group. Gives
#: ``group_id``.
group: Final[Filter] = _Chat(True)
#: A message or status of a one-to-one chat (``~F.group``).
private: Final[Filter] = _Chat(False)


class _State(Filter):
    kinds: frozenset[UpdateKind] = frozenset({"message", "status"})

    def __init__(self, names: frozenset[str | None]) -> None:
        self.names = names

    def check(self, update: Any, ctx: Context) -> bool:
        return ctx.state.name in self.names

    def __repr__(self) -> str:
        return f"F.state({', '.join(map(repr, sorted(self.names, key=str)))})"


def state(*names: str | None) -> Filter:
    """The conversation is in one of the states ``names`` (``ctx.state.name``); ``None`` is
    the state of a conversation that has none."""
    if not names or not all(n is None or (isinstance(n, str) and n) for n in names):
        raise TypeError("F.state() takes one or more state names (or None)")
    return _State(frozenset(names))
