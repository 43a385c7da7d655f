"""Units: the pieces one webhook is split into, and what the queue stores.

A webhook POST may carry up to 1000 updates across several entries and changes
(reference/cloudapi.md §3). Ingress splits it into *units* — one per message, status,
value-level error or other change — and enqueues them in one transaction. A unit keeps the
raw JSON of its item, so the queue never re-encodes what Meta sent and the worker decodes it
into the typed models (:mod:`wahost.models`) only when it is handled.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal, TypeVar

import msgspec

from wahost import receipts
from wahost.models.common import DecodeError

UnitKind = Literal["message", "status", "error", "event", "receipt", "dialogue"]


class Unit(msgspec.Struct, frozen=True, gc=False):
    """One update of a webhook, as the queue stores it.

    ``key`` is the deduplication key: ``msg:<wamid>`` for a message,
    ``status:<wamid>:<status>`` for a status (``:<participant>`` appended for the ``delivered``
    and ``read`` of each participant of a group), ``error:<hash>`` / ``event:<hash>`` (a hash
    of the change's raw bytes) for the rest. Meta retries a webhook for days, so the queue
    remembers keys for ``dedupe_ttl``. A status of a send made through the outbox also gives
    a ``receipt:<token>`` unit (:mod:`wahost.receipts`), which the worker hands to the outbox
    rather than to plugins. A ``dialogue`` unit is a dialogue's timeout
    (:mod:`wahost.dialogues`), enqueued by the host itself.

    ``user`` is the other party of the conversation: the user of a one-to-one chat, or the
    group of a group chat (a message with ``group_id``, a status with ``recipient_type:
    "group"``; reference/cloudapi.md §12), whichever participant wrote or received it. The
    participant is in the item (:attr:`wahost.Context.sender`).

    ``conversation`` is the ordering lane: units of one lane are handled one at a time, in
    arrival order. For messages and statuses it is ``<phone_number_id>:<user>``, so every
    participant of a group shares the group's lane; a change with no user (a template status,
    a Flow alert) gets a lane of its own (its key).

    ``body`` is the JSON of a :class:`UnitBody`.
    """

    key: str
    kind: UnitKind
    phone_number_id: str
    user: str
    conversation: str
    body: bytes


#: The value of an absent raw part. msgspec omits a default only when it is this very object
#: (an empty ``Raw`` that is not it would encode as invalid JSON), so always pass this one.
ABSENT = msgspec.Raw()


class UnitBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a unit carries: its item plus the envelope context needed to interpret it.

    ``item`` is the raw JSON of the message, status, error or (for events) the change's whole
    ``value``, byte for byte as Meta sent it. An empty ``Raw`` (falsy) means absent: msgspec
    cannot decode a ``Raw`` inside a union, so ``Raw | None`` would not read back.
    """

    field: str
    item: msgspec.Raw
    waba_id: str = ""
    time: int | None = None
    metadata: msgspec.Raw = ABSENT
    contact: msgspec.Raw = ABSENT
    #: Set by the ingress when metrics or tracing are on (:mod:`wahost.unit_stamp`, which
    #: relies on these two being the last fields): the webhook's arrival, its trace context.
    received_at: float = 0.0
    traceparent: str = ""


def conversation_key(phone_number_id: str, user: str) -> str:
    """The ordering lane and state-store key of the conversation ``(phone_number_id, user)``."""
    return f"{phone_number_id}:{user}"


# -- the splitter ----------------------------------------------------------------------------
#
# split() runs on every webhook POST, so it decodes only what routing and keying need into the
# private structs below and keeps every item (and every non-messages value) as msgspec.Raw:
# the bytes Meta sent are stored as they are, never re-encoded.
#
# Tolerance: a body whose structure is wrong (invalid JSON, no ``object``, ``entry`` or
# ``changes`` of the wrong type, a ``messages`` value whose arrays or metadata have the wrong
# type) raises DecodeError, since ingress cannot tell which updates it holds. Below that level
# nothing is dropped: an item whose routing fields cannot be read still becomes a unit (keyed
# by a hash of its bytes, in a lane of its own), and decode_unit reports it when it is handled.


class _Metadata(msgspec.Struct):
    phone_number_id: str = ""


class _Contact(msgspec.Struct):
    wa_id: str | None = None
    user_id: str | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    group_id: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    user_id: str | None = None


class _Status(msgspec.Struct):
    id: str | None = None
    status: str | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_type: str | None = None
    # The participant of a group status, spelled two ways in Meta's pages (§12.4).
    recipient_participant_id: str | None = None
    participant_recipient_id: str | None = None
    recipient_participant_user_id: str | None = None
    biz_opaque_callback_data: str | None = None


class _MessagesValue(msgspec.Struct):
    metadata: msgspec.Raw = msgspec.Raw()
    contacts: list[msgspec.Raw] | None = None
    messages: list[msgspec.Raw] | None = None
    statuses: list[msgspec.Raw] | None = None
    errors: list[msgspec.Raw] | None = None


class _EventValue(msgspec.Struct):
    metadata: msgspec.Raw = msgspec.Raw()


class _Change(msgspec.Struct):
    field: str
    value: msgspec.Raw


class _Entry(msgspec.Struct):
    # Not needed for routing, so any JSON value is taken (an integer id, a string time, as in
    # Meta's own samples) rather than failing every update of the body; see _entry_context.
    id: Any = None
    time: Any = None
    changes: list[_Change] | None = None


class _Envelope(msgspec.Struct):
    object: str
    entry: list[_Entry]


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_messages_value_decoder = msgspec.json.Decoder(_MessagesValue)
_event_value_decoder = msgspec.json.Decoder(_EventValue)
_metadata_decoder = msgspec.json.Decoder(_Metadata | None)
_contact_decoder = msgspec.json.Decoder(_Contact)
_message_decoder = msgspec.json.Decoder(_Message)
_status_decoder = msgspec.json.Decoder(_Status)
_body_encoder = msgspec.json.Encoder()

# What msgspec raises on bad input: DecodeError (incl. ValidationError), UnicodeDecodeError
# for invalid UTF-8 inside a string, RecursionError for too deeply nested JSON.
_FAILURES = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)

_R = TypeVar("_R")

_NO_MESSAGE = _Message()
_NO_STATUS = _Status()
_NO_CONTACT = _Contact()


def split(body: bytes) -> list[Unit]:
    """Split a webhook body into units: one per message, status, value-level error or other
    change, over every entry and change (reference/cloudapi.md §3: up to 1000 updates).

    For a ``messages`` change: ``msg:<wamid>`` units (user: the message's ``group_id`` for a
    message sent in a group, else ``from``, else the message's ``from_user_id``/``user_id``,
    else its contact's ``user_id``/``wa_id``),
    ``status:<wamid>:<status>`` units (user: ``recipient_id``, else ``recipient_user_id``; a
    group's status per participant has the participant appended to its key) and
    ``error:<hash>`` units; a ``messages`` change with none of these becomes an event. Any
    other field gives one ``event:<hash>`` unit. A message or status without id (or without a
    status) is keyed ``msg:sha256:<hash>`` / ``status:sha256:<hash>``. Hashes are the hex
    SHA-256 of the length-prefixed parts: phone_number_id and the raw item for messages,
    statuses and errors; field, entry id, entry time and the raw value for events.

    Messages and statuses are laned by :func:`conversation_key`; errors, events and items
    whose user is unknown get a lane of their own (their key).

    Raises :class:`wahost.models.DecodeError` (only) when ``body`` is not a webhook envelope.
    A lone UTF-16 surrogate escape (``"\\ud800"``) fails only the units that hold it (see
    :func:`_split_around_lone_surrogates`).
    """
    try:
        envelope = _envelope_decoder.decode(body)
        units: list[Unit] = []
        for entry in envelope.entry:
            waba_id, time = _entry_context(entry)
            for change in entry.changes or ():
                if change.field == "messages":
                    _split_messages(change, waba_id, time, units)
                else:
                    units.append(_event_unit(change, waba_id, time))
        return units
    except _FAILURES as exc:
        recovered = _split_around_lone_surrogates(body)
        if recovered is None:
            raise DecodeError(f"not a webhook envelope: {exc}") from exc
        return recovered


def _entry_context(entry: _Entry) -> tuple[str, int | None]:
    """``entry.id`` as a string and ``entry.time`` as Unix seconds, read losslessly: a number
    id is written in digits, a time of digits is a number, anything else counts as absent."""
    waba_id = entry.id if isinstance(entry.id, str) else ""
    if isinstance(entry.id, int) and not isinstance(entry.id, bool):
        waba_id = str(entry.id)
    time = entry.time if isinstance(entry.time, int) and not isinstance(entry.time, bool) else None
    if isinstance(entry.time, str) and entry.time.isdigit():
        time = int(entry.time)
    return waba_id, time


def _split_messages(change: _Change, waba_id: str, time: int | None, units: list[Unit]) -> None:
    value = _messages_value_decoder.decode(change.value)
    metadata_raw = ABSENT
    phone_number_id = ""
    if value.metadata:
        metadata = _metadata_decoder.decode(value.metadata)
        if metadata is not None:
            metadata_raw = value.metadata
            phone_number_id = metadata.phone_number_id
    if not (value.messages or value.statuses or value.errors):
        units.append(_event_unit(change, waba_id, time, metadata_raw, phone_number_id))
        return
    if value.messages:
        contacts = [
            (_route(_contact_decoder, raw, _NO_CONTACT), raw) for raw in value.contacts or ()
        ]
        for item in value.messages:
            message = _route(_message_decoder, item, _NO_MESSAGE)
            contact, contact_raw = _match_contact(message, contacts)
            # A group message belongs to the group's conversation, whoever wrote it
            # (reference/cloudapi.md §12.2: ``group_id`` is the only marker of one).
            user = (
                message.group_id
                or message.from_
                or message.from_user_id
                or message.user_id
                or contact.user_id
                or contact.wa_id
                or ""
            )
            if message.id:
                key = f"msg:{message.id}"
            else:  # cannot be deduplicated by wamid; its bytes are the next best identity
                key = f"msg:sha256:{_digest(phone_number_id, item)}"
            body = UnitBody("messages", item, waba_id, time, metadata_raw, contact_raw)
            units.append(_unit(key, "message", phone_number_id, user, body))
    for item in value.statuses or ():
        status = _route(_status_decoder, item, _NO_STATUS)
        # A status of a group send names the group as ``recipient_id`` (the participant is a
        # field of its own, reference/cloudapi.md §12.4): it is laned with the group's messages.
        user = status.recipient_id or status.recipient_user_id or ""
        if status.id and status.status:
            key = f"status:{status.id}:{status.status}"
            if status.recipient_type == "group":
                # One message to a group is delivered and read once per participant: each is
                # an update of its own, not a retry of the first.
                participant = (
                    status.recipient_participant_id
                    or status.participant_recipient_id
                    or status.recipient_participant_user_id
                )
                if participant:
                    key = f"{key}:{participant}"
        else:
            key = f"status:sha256:{_digest(phone_number_id, item)}"
        body = UnitBody("messages", item, waba_id, time, metadata_raw)
        units.append(_unit(key, "status", phone_number_id, user, body))
        token = receipts.parse(status.biz_opaque_callback_data)[0]
        if token is not None and status.id:
            # A status of a send made through the outbox: tell the outbox it went out, in a
            # lane of its own (the unit that waits for it holds the user's lane).
            units.append(_unit(f"receipt:{token}", "receipt", phone_number_id, "", body))
    for item in value.errors or ():
        key = f"error:{_digest(phone_number_id, item)}"
        body = UnitBody("messages", item, waba_id, time, metadata_raw)
        units.append(_unit(key, "error", phone_number_id, "", body))


def _event_unit(
    change: _Change,
    waba_id: str,
    time: int | None,
    metadata_raw: msgspec.Raw = ABSENT,
    phone_number_id: str = "",
) -> Unit:
    if not metadata_raw and change.field != "messages":
        # Most fields have no metadata, and the value's shape is unknown: read it if it is there.
        try:
            raw = _event_value_decoder.decode(change.value).metadata
            metadata = _metadata_decoder.decode(raw) if raw else None
        except _FAILURES:
            metadata = None
        if metadata is not None:
            metadata_raw, phone_number_id = raw, metadata.phone_number_id
    stamp = "" if time is None else str(time)
    key = f"event:{_digest(change.field, waba_id, stamp, change.value)}"
    body = UnitBody(change.field, change.value, waba_id, time, metadata_raw)
    return _unit(key, "event", phone_number_id, "", body)


def _route(decoder: msgspec.json.Decoder[_R], item: msgspec.Raw, fallback: _R) -> _R:
    """The routing fields of one item, or ``fallback`` when they cannot be read."""
    try:
        return decoder.decode(item)
    except _FAILURES:
        return fallback


def _match_contact(
    message: _Message, contacts: list[tuple[_Contact, msgspec.Raw]]
) -> tuple[_Contact, msgspec.Raw]:
    """The entry of ``value.contacts`` that describes the sender of ``message``.

    Matched by ``wa_id == from`` or by user id; a lone contact is the sender (Meta sends one
    per message author; system messages come with none, reference/cloudapi.md §3).
    """
    user_ids = {message.from_user_id, message.user_id} - {None}
    for contact, raw in contacts:
        if (contact.wa_id and contact.wa_id == message.from_) or (
            contact.user_id and contact.user_id in user_ids
        ):
            return contact, raw
    if len(contacts) == 1:
        return contacts[0]
    return _NO_CONTACT, ABSENT


def _unit(key: str, kind: UnitKind, phone_number_id: str, user: str, body: UnitBody) -> Unit:
    conversation = conversation_key(phone_number_id, user) if user else key
    return Unit(key, kind, phone_number_id, user, conversation, _body_encoder.encode(body))


def _digest(*parts: str | msgspec.Raw) -> str:
    """Hex SHA-256 of ``parts``, each prefixed by its length so that no two lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else memoryview(part)
        digest.update(b"%d:" % len(data))
        digest.update(data)
    return digest.hexdigest()


# -- lone surrogates ---------------------------------------------------------------------------
#
# msgspec refuses a lone UTF-16 surrogate escape ("\ud800" without its pair) anywhere in a
# document, even inside a part it only skips into a Raw, so one such character in one message
# would fail the whole body and every other update in it. Only then, on that failure path, the
# body is split again around them.

# Every backslash escape, read from left to right so that an escaped backslash ("\\ud800" is
# the text \ud800) or a valid surrogate pair is never taken for a lone surrogate; group 1 and 2
# are set for a lone one: the "d" (or "D") and the three hex digits after it.
_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|u([dD])([89a-fA-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)


def _mark_lone_surrogates(body: bytes, lower: bytes, upper: bytes) -> bytes:
    """``body`` with the ``d`` of each lone surrogate escape replaced by ``lower`` (``D`` by
    ``upper``): ``\\ud800`` becomes ``\\ue800`` or ``\\uf800``, a code point msgspec reads."""

    def replace(match: re.Match[bytes]) -> bytes:
        if match[1] is None:
            return match[0]
        return b"\\u" + (lower if match[1] == b"d" else upper) + match[2]

    return _ESCAPE.sub(replace, body)


def _unmark(low: bytes, high: bytes) -> bytes | None:
    """The original bytes of a unit body split from both marked copies: each byte where they
    differ is a mark, put back to ``d``/``D``. ``None`` when a difference is not a mark inside
    an escape (the surrogate was in a string msgspec decoded and encoded again)."""
    if len(low) != len(high):
        return None
    restored = bytearray(low)
    for index, (one, other) in enumerate(zip(low, high, strict=True)):
        if one == other:
            continue
        if (one, other) not in ((0x65, 0x66), (0x45, 0x46)) or low[index - 2 : index] != b"\\u":
            return None
        restored[index] = one - 1  # e -> d, E -> D
    return bytes(restored)


def _split_around_lone_surrogates(body: bytes) -> list[Unit] | None:
    """The units of a body that msgspec refused for its lone surrogate escapes; ``None`` when
    it has none, or cannot be split for another reason too.

    Two copies are split, each lone ``\\uDxxx`` written ``\\uExxx`` in one and ``\\uFxxx`` in
    the other: a unit that comes out the same from both holds none, and is exactly what
    :func:`split` gives for it alone. A unit that differs gets the original escapes back in its
    body, byte for byte as Meta sent it, so the worker's ``decode_unit`` reports it and parks it
    (dead, listable, replayable) while the other units of the batch are handled. It keeps its
    key and lane unless they depend on the surrogate; then it is keyed by a hash of its body, in
    a lane of its own, like any item whose routing fields cannot be read. A surrogate in a field
    of the envelope itself (an entry's id, a change's ``field``) leaves the body undecodable.
    """
    if b"\\u" not in body:
        return None
    low = _mark_lone_surrogates(body, b"e", b"E")
    if low == body:
        return None
    try:
        first, second = split(low), split(_mark_lone_surrogates(body, b"f", b"F"))
    except DecodeError:
        return None
    if len(first) != len(second):
        return None
    units: list[Unit] = []
    for one, other in zip(first, second, strict=True):
        if one == other:
            units.append(one)
            continue
        restored = _unmark(one.body, other.body)
        if restored is None or one.kind != other.kind:
            return None
        key = one.key
        if key != other.key:
            key = f"{key.partition(':')[0]}:sha256:{hashlib.sha256(restored).hexdigest()}"
        user = one.user if one.user == other.user else ""
        phone_number_id = one.phone_number_id
        if phone_number_id != other.phone_number_id:
            phone_number_id = ""
        conversation = conversation_key(phone_number_id, user) if user else key
        units.append(Unit(key, one.kind, phone_number_id, user, conversation, restored))
    return units
