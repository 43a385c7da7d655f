"""Decoding: a stored unit, a message item or a whole envelope into the typed models."""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any

import msgspec

from wahost import receipts
from wahost.models.common import DecodeError
from wahost.models.envelope import Contact, Envelope, Metadata
from wahost.models.events import EVENT_VALUE_TYPES, Event, EventValue, WebhookError
from wahost.models.messages import MESSAGE_TYPES, Message, UnknownMessage
from wahost.models.statuses import Status

if TYPE_CHECKING:  # wahost.units imports this package for DecodeError
    from wahost.units import Unit, UnitBody


@functools.cache
def _body_decoder() -> msgspec.json.Decoder[UnitBody]:
    from wahost.units import UnitBody

    return msgspec.json.Decoder(UnitBody)


# What msgspec raises on bad input: DecodeError (incl. ValidationError), UnicodeDecodeError
# for invalid UTF-8 inside a string, RecursionError for too deeply nested JSON.
_FAILURES = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


class _TypePeek(msgspec.Struct):
    type: str = ""


_peek_decoder = msgspec.json.Decoder(_TypePeek)
_metadata_decoder = msgspec.json.Decoder(Metadata | None)
_contact_decoder = msgspec.json.Decoder(Contact | None)
_status_decoder = msgspec.json.Decoder(Status)
_error_decoder = msgspec.json.Decoder(WebhookError)
_envelope_decoder = msgspec.json.Decoder(Envelope)
_message_decoders: dict[type[Message], msgspec.json.Decoder[Any]] = {
    cls: msgspec.json.Decoder(cls) for cls in set(MESSAGE_TYPES.values())
}
_NO_METADATA = Metadata()


def decode_unit(unit: Unit) -> Message | Status | WebhookError | Event:
    """The typed update a unit carries, with its envelope context filled in.

    A ``message`` unit gives a :class:`Message` subclass chosen by ``type`` (an unknown type
    gives :class:`UnknownMessage`), with ``phone_number_id``, ``display_phone_number``,
    ``waba_id`` and the sender's ``contact``; a ``status`` unit a :class:`Status` (a
    ``receipt`` unit too: the status that carried an outbox token, :mod:`wahost.receipts`); an
    ``error`` unit a :class:`WebhookError`; an ``event`` unit an :class:`Event`.

    Raises :class:`DecodeError` (and nothing else) when the unit's body or item does not match
    its model: such a unit can never succeed, so park it rather than retry it.
    """
    try:
        return _decode_unit(unit)
    except _FAILURES as exc:
        raise DecodeError(f"unit {unit.key}: {exc}") from exc


def decode_message(item: bytes | msgspec.Raw) -> Message:
    """Decode one ``messages[]`` item (JSON) into its :class:`Message` subclass.

    The envelope fields stay empty; :func:`decode_unit` fills them. Raises
    :class:`DecodeError` when the item is not a JSON object or does not match its type.
    """
    try:
        return _decode_message(item)
    except _FAILURES as exc:
        raise DecodeError(f"message: {exc}") from exc


def decode_envelope(body: bytes) -> Envelope:
    """Decode a whole webhook body into an :class:`Envelope`, raising :class:`DecodeError`.

    For tests and tools; the ingress uses :func:`wahost.units.split`.
    """
    try:
        return _envelope_decoder.decode(body)
    except _FAILURES as exc:
        raise DecodeError(f"not a webhook envelope: {exc}") from exc


def _decode_unit(unit: Unit) -> Message | Status | WebhookError | Event:
    body = _body_decoder().decode(unit.body)
    metadata = (_metadata_decoder.decode(body.metadata) if body.metadata else None) or (
        _NO_METADATA
    )
    if unit.kind == "message":
        message = _decode_message(body.item)
        contact = _contact_decoder.decode(body.contact) if body.contact else None
        return msgspec.structs.replace(
            message,
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
            contact=contact,
        )
    if unit.kind in ("status", "receipt"):
        status = _status_decoder.decode(body.item)
        # Plugins see the author's tracker only, never the outbox's token in front of it.
        tracker = receipts.parse(status.biz_opaque_callback_data)[1]
        return msgspec.structs.replace(
            status,
            biz_opaque_callback_data=tracker,
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
        )
    if unit.kind == "error":
        return msgspec.structs.replace(
            _error_decoder.decode(body.item),
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
        )
    if unit.kind == "event":
        return _decode_event(body, metadata)
    raise DecodeError(f"unit {unit.key}: unknown kind {unit.kind!r}")


def _decode_message(item: bytes | msgspec.Raw) -> Message:
    message_type = _peek_decoder.decode(item).type
    cls = MESSAGE_TYPES.get(message_type)
    if cls is not None:
        message: Message = _message_decoders[cls].decode(item)
        return message
    raw = msgspec.json.decode(item)
    if not isinstance(raw, dict):
        raise DecodeError("message item is not a JSON object")
    unknown = msgspec.convert(raw, UnknownMessage)
    return msgspec.structs.replace(unknown, raw=raw)


def _decode_event(body: UnitBody, metadata: Metadata) -> Event:
    raw = msgspec.json.decode(body.item)
    if not isinstance(raw, dict):
        raise DecodeError(f"the value of a {body.field!r} change is not a JSON object")
    value: EventValue | dict[str, Any] = raw
    value_type = EVENT_VALUE_TYPES.get(body.field)
    if value_type is not None:
        # The typed view is a convenience: a value Meta shaped differently than documented
        # still reaches the plugins as the raw dict.
        with contextlib.suppress(msgspec.ValidationError):
            value = msgspec.convert(raw, value_type)
    return Event(
        field=body.field,
        waba_id=body.waba_id,
        time=body.time,
        phone_number_id=metadata.phone_number_id,
        value=value,
        raw=raw,
    )
