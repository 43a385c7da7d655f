"""The journal: what happened in each conversation, kept for the console.

Entries live in the state store's key-value namespace :data:`NAMESPACE`, each with the
``[console] history_ttl``:

* ``c/<conversation>/<time>/<kind>/<wamid>[/<status>]`` — the history of a conversation;
  ``<time>`` is fixed-width, so a prefix scan returns it in time order.
* ``w/<wamid>/<time>/<status>`` — the lifecycle of one message the bot sent.
* ``m/<wamid>`` — where a sent message went (conversation, time).
* ``r/<conversation>`` — the last activity of a conversation (the list of recent ones).
* ``e/<time>/<unit key>`` — value-level webhook errors, which belong to no conversation.
* ``u/<unit key>`` — when the message of a unit that sent replies was received.

Entries of a unit are written through ``ctx.kv_set``: committed with the unit's ack, so a
retried unit leaves one set of entries, and a failed attempt none. A *sent* message is the
exception: it happened even if the unit fails afterwards, and the reply outbox does not
announce it again when the unit is retried, so it is written to the store at once, under keys
made only of the send's own values (its wamid and ``sent_at``): writing it twice is writing
it once. So that a retried message still sorts before the replies an earlier attempt sent,
the first send of a unit also pins the time its message was received
(``u/<unit key>``), which a later attempt reuses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from wahost.slots import SlotKey
from wahost.units import conversation_key

if TYPE_CHECKING:
    from wahost.context import Context
    from wahost.graph import SentMessage
    from wahost.host import Wahost
    from wahost.models import Message, Status, WebhookError

NAMESPACE = "wahost.console"
PREVIEW_CHARS = 200

EntryKind = Literal["in", "out", "status", "error", "event"]


class Entry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of a conversation's history (or of the errors and events list)."""

    kind: EntryKind
    time: float
    conversation: str = ""
    wamid: str = ""
    #: The message type (inbound), the status (statuses), the webhook field (events).
    type: str = ""
    #: A short preview of the message, or an error's text.
    text: str = ""
    errors: list[str] = []


class Recent(msgspec.Struct, kw_only=True):
    """The last activity of a conversation."""

    conversation: str
    phone_number_id: str
    user: str
    time: float
    text: str = ""


class SentRecord(msgspec.Struct, kw_only=True):
    """Where a message the bot sent went."""

    conversation: str
    to: str
    time: float


_encode = msgspec.json.encode

#: Slots of ``ctx.slots``: when this unit's message was received, and whether that is pinned.
_RECEIVED: SlotKey[float] = SlotKey("wahost.console.received")
_PINNED: SlotKey[bool] = SlotKey("wahost.console.pinned")


def _stamp(at: float) -> str:
    """A time as a fixed-width string that sorts like the number (until the year 2286)."""
    return f"{at:017.6f}"


def preview(message: Message) -> str:
    """A short text for a message: its body, caption, choice, emoji or file name."""
    kind = message.type
    text: Any = None
    if kind == "text":
        text = getattr(getattr(message, "text", None), "body", None)
    elif kind == "interactive":
        interactive = getattr(message, "interactive", None)
        reply = None
        if interactive is not None:
            reply = interactive.button_reply or interactive.list_reply
            if reply is None and interactive.nfm_reply is not None:
                text = "(form) " + (interactive.nfm_reply.response_json or "")
        if reply is not None:
            text = reply.title
    elif kind == "button":
        text = getattr(getattr(message, "button", None), "text", None)
    elif kind == "reaction":
        reaction = getattr(message, "reaction", None)
        text = (reaction.emoji or "(removed)") if reaction is not None else None
    elif kind == "location":
        place = getattr(message, "location", None)
        if place is not None:
            text = place.name or f"{place.latitude}, {place.longitude}"
    elif kind in ("image", "video", "audio", "document", "sticker"):
        media = getattr(message, kind, None)
        text = getattr(media, "caption", None) or getattr(media, "filename", None)
    shown = str(text) if text else ""
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


class Journal:
    """Writes and reads the journal of one host."""

    def __init__(self, host: Wahost) -> None:
        self.host = host
        self.ttl = host.config.console.history_ttl

    # -- writing --------------------------------------------------------------------------

    def _write(self, ctx: Context, key: str, value: msgspec.Struct) -> None:
        ctx.kv_set(NAMESPACE, key, _encode(value), ttl=self.ttl)

    async def message(self, message: Message, ctx: Context) -> None:
        """An inbound message, committed with its unit."""
        unit = ctx.unit
        conversation = conversation_key(unit.phone_number_id, unit.user)
        at = time.time()
        if ctx.attempt > 1:
            pinned = await self.host.state.kv_get(NAMESPACE, f"u/{unit.key}")
            if pinned is not None:
                at = float(pinned)
        ctx.slots[_RECEIVED] = at
        text = preview(message)
        entry = Entry(
            kind="in",
            time=at,
            conversation=conversation,
            wamid=message.id,
            type=message.type,
            text=text,
            errors=[_error_text(error) for error in message.errors],
        )
        self._write(ctx, f"c/{conversation}/{_stamp(at)}/in/{message.id}", entry)
        recent = Recent(
            conversation=conversation,
            phone_number_id=unit.phone_number_id,
            user=unit.user,
            time=at,
            text=text or f"({message.type})",
        )
        self._write(ctx, f"r/{conversation}", recent)

    def status(self, status: Status, ctx: Context) -> None:
        """A status of a sent message, committed with its unit."""
        unit = ctx.unit
        conversation = conversation_key(unit.phone_number_id, unit.user)
        at = time.time()
        errors = [_error_text(error) for error in status.errors]
        entry = Entry(
            kind="status",
            time=at,
            conversation=conversation,
            wamid=status.id,
            type=status.status_raw,
            errors=errors,
        )
        stamp = _stamp(at)
        self._write(ctx, f"c/{conversation}/{stamp}/status/{status.id}/{status.status_raw}", entry)
        self._write(ctx, f"w/{status.id}/{stamp}/{status.status_raw}", entry)

    def other(self, kind: EntryKind, what: str, text: str, ctx: Context) -> None:
        """A webhook error or event, committed with its unit."""
        at = time.time()
        entry = Entry(kind=kind, time=at, type=what, text=text[:PREVIEW_CHARS])
        self._write(ctx, f"e/{_stamp(at)}/{ctx.unit.key}", entry)

    def webhook_error(self, error: WebhookError, ctx: Context) -> None:
        self.other("error", str(error.code), _error_text(error), ctx)

    async def sent(self, sent: SentMessage, ctx: Context | None) -> None:
        """A message Meta accepted: written at once (see the module docstring)."""
        store = self.host.state
        if ctx is not None and _RECEIVED in ctx.slots and not ctx.slots.get(_PINNED):
            received = str(ctx.slots[_RECEIVED]).encode()
            await store.kv_set(NAMESPACE, f"u/{ctx.unit.key}", received, ttl=self.ttl)
            ctx.slots[_PINNED] = True
        # The user's id as Meta resolved it: the key inbound messages of the user have.
        user = sent.wa_id or sent.to
        conversation = conversation_key(sent.phone_number_id, user)
        at = sent.sent_at or time.time()
        entry = Entry(
            kind="out",
            time=at,
            conversation=conversation,
            wamid=sent.id,
            type=sent.type or "sent",
            text=sent.preview or "",
        )
        stamp = _stamp(at)
        await store.kv_set(
            NAMESPACE, f"c/{conversation}/{stamp}/out/{sent.id}", _encode(entry), ttl=self.ttl
        )
        record = SentRecord(conversation=conversation, to=user, time=at)
        await store.kv_set(NAMESPACE, f"m/{sent.id}", _encode(record), ttl=self.ttl)
        recent = Recent(
            conversation=conversation,
            phone_number_id=sent.phone_number_id,
            user=user,
            time=at,
            text=sent.preview or "(bot sent a message)",
        )
        await store.kv_set(NAMESPACE, f"r/{conversation}", _encode(recent), ttl=self.ttl)

    # -- reading --------------------------------------------------------------------------

    async def history(self, conversation: str, *, last: int = 200) -> list[Entry]:
        """The conversation's latest ``last`` entries, oldest first."""
        rows = await self.host.state.kv_scan(NAMESPACE, f"c/{conversation}/", limit=100_000)
        return [msgspec.json.decode(value, type=Entry) for _, value in rows[-last:]]

    async def lifecycle(self, wamid: str) -> tuple[SentRecord | None, list[Entry]]:
        """Where a sent message went and the statuses received for it, in order."""
        raw = await self.host.state.kv_get(NAMESPACE, f"m/{wamid}")
        record = msgspec.json.decode(raw, type=SentRecord) if raw is not None else None
        rows = await self.host.state.kv_scan(NAMESPACE, f"w/{wamid}/")
        return record, [msgspec.json.decode(value, type=Entry) for _, value in rows]

    async def recent(self, *, limit: int = 50) -> list[Recent]:
        """The most recently active conversations, newest first."""
        rows = await self.host.state.kv_scan(NAMESPACE, "r/", limit=10_000)
        found = [msgspec.json.decode(value, type=Recent) for _, value in rows]
        found.sort(key=lambda recent: recent.time, reverse=True)
        return found[:limit]

    async def others(self, *, last: int = 20) -> list[Entry]:
        """The latest webhook errors, newest first."""
        rows = await self.host.state.kv_scan(NAMESPACE, "e/", limit=100_000)
        return [msgspec.json.decode(value, type=Entry) for _, value in reversed(rows[-last:])]


def _error_text(error: Any) -> str:
    parts = [str(getattr(error, "code", "") or ""), getattr(error, "title", "") or ""]
    details = getattr(error, "details", None)
    if details:
        parts.append(details)
    return " ".join(part for part in parts if part)[:PREVIEW_CHARS]
