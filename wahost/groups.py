"""Group chats: whether a unit belongs to a group, and which participant it is about.

A message sent in a group carries ``group_id`` (its only marker); a status of a message sent
to a group has ``recipient_type: "group"``, the group as ``recipient_id`` and, for
``delivered`` and ``read``, the participant (reference/cloudapi.md §12.2, §12.4). The
conversation of both is the group: :func:`wahost.units.split` lanes them by
``<phone_number_id>:<group id>``, so ``unit.user`` is the group and the participant is read
here, from the unit's item.
"""

from __future__ import annotations

from typing import Any

import msgspec

from wahost.units import Unit

__all__ = ["Chat", "chat_of"]


class Chat(msgspec.Struct, frozen=True):
    """The chat of a unit: ``group_id`` (``None`` for a one-to-one chat) and ``participant``,
    the member of the group who wrote the message, or whom the status is about (``""`` when
    Meta names none: the ``sent`` and ``failed`` statuses of a group send, one per message)."""

    group_id: str | None = None
    participant: str = ""


class _Item(msgspec.Struct):
    item: msgspec.Raw = msgspec.Raw()


class _Fields(msgspec.Struct):
    # Messages (§12.2).
    group_id: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    user_id: str | None = None
    # Statuses (§12.4). Meta's pages spell the participant two ways; both are read.
    recipient_type: str | None = None
    recipient_id: str | None = None
    recipient_participant_id: str | None = None
    participant_recipient_id: str | None = None
    recipient_participant_user_id: str | None = None


_item_decoder = msgspec.json.Decoder(_Item)
_fields_decoder = msgspec.json.Decoder(_Fields)
_FAILURES = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
_ONE_TO_ONE = Chat()


def chat_of(unit: Unit, update: Any = None) -> Chat:
    """The chat of ``unit`` (a message or a status; any other kind is one-to-one).

    ``update`` is the unit's decoded :class:`~wahost.models.Message` or
    :class:`~wahost.models.Status`: its typed ``group_id`` and participant (``sender``,
    ``participant``) are used. Without one (a context made before decoding), the unit's raw
    item is read.
    """
    if unit.kind not in ("message", "status"):
        return _ONE_TO_ONE
    if update is not None and hasattr(update, "group_id"):
        group = update.group_id
        if not group:
            return _ONE_TO_ONE
        who = update.sender if unit.kind == "message" else update.participant
        return Chat(group, who or "")
    try:
        raw = _item_decoder.decode(unit.body).item
        fields = _fields_decoder.decode(raw) if raw else _Fields()
    except _FAILURES:  # an item whose fields cannot be read: its unit was laned as one-to-one
        return _ONE_TO_ONE
    if unit.kind == "message":
        if not fields.group_id:
            return _ONE_TO_ONE
        return Chat(fields.group_id, fields.from_ or fields.from_user_id or fields.user_id or "")
    if fields.recipient_type != "group" or not fields.recipient_id:
        return _ONE_TO_ONE
    participant = (
        fields.recipient_participant_id
        or fields.participant_recipient_id
        or fields.recipient_participant_user_id
        or ""
    )
    return Chat(fields.recipient_id, participant)
