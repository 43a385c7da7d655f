"""Decoding: a stored unit, a message item or a whole envelope into the typed models.

Decoding degrades per field. Each item is first decoded strictly, the fast path every
well-formed payload takes. An item that does not match its model (Meta's own samples send a
latitude or a quantity as a string) is decoded again on a fallback path: leaves whose value
converts losslessly to the documented type are coerced, the others are dropped (the model
keeps its default, the value stays in ``raw``), each with a warning naming its path, and the
update is still dispatched. A message whose type's own object cannot be read at all becomes
an :class:`UnknownMessage`. Only an item that is not a JSON object, or a unit whose body is
not a unit, raises :class:`DecodeError`.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import structlog

from wahost import receipts
from wahost.models.common import DecodeError
from wahost.models.envelope import Contact, Envelope, Metadata
from wahost.models.events import Event, EventValue, WebhookError, event_value_type
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


log = structlog.get_logger("wahost.models")

_peek_decoder = msgspec.json.Decoder(_TypePeek)
_metadata_decoder = msgspec.json.Decoder(Metadata | None)
_plain_contact_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Contact)
_plain_metadata_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Metadata)
_unknown_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(UnknownMessage)
_status_decoder = msgspec.json.Decoder(Status)
_error_decoder = msgspec.json.Decoder(WebhookError)
_envelope_decoder = msgspec.json.Decoder(Envelope)
_message_decoders: dict[type[Message], msgspec.json.Decoder[Any]] = {
    cls: msgspec.json.Decoder(cls) for cls in set(MESSAGE_TYPES.values())
}
_NO_METADATA = Metadata()

_T = TypeVar("_T")

# How many odd leaves one item may have before it counts as unusable: a bound on the
# fallback's work, far above anything a real payload has shown.
_MAX_ODD_LEAVES = 32

# msgspec's ValidationError ends with the path of the offending value: "... - at `$.a[0].b`".
_ERROR_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def decode_unit(unit: Unit) -> Message | Status | WebhookError | Event:
    """The typed update a unit carries, with its envelope context filled in.

    A ``message`` unit gives a :class:`Message` subclass chosen by ``type`` (an unknown type
    gives :class:`UnknownMessage`), with ``phone_number_id``, ``display_phone_number``,
    ``waba_id`` and the sender's ``contact``; a ``status`` unit a :class:`Status` (a
    ``receipt`` unit too: the status that carried an outbox token, :mod:`wahost.receipts`); an
    ``error`` unit a :class:`WebhookError`; an ``event`` unit an :class:`Event`.

    A field whose value does not have its documented type does not fail the update: it is
    coerced or dropped, listed in the update's ``degraded`` and logged as a warning with its
    path (see the module's docstring). Raises :class:`DecodeError` (and nothing else) only
    when nothing usable is left: the unit's body is not a unit, or its item is not a JSON
    object. Such a unit can never succeed, so park it rather than retry it.
    """
    try:
        return _decode_unit(unit)
    except _FAILURES as exc:
        raise DecodeError(f"unit {unit.key}: {exc}") from exc


def decode_message(item: bytes | msgspec.Raw) -> Message:
    """Decode one ``messages[]`` item (JSON) into its :class:`Message` subclass.

    The envelope fields stay empty; :func:`decode_unit` fills them. Odd fields degrade as in
    :func:`decode_unit`; raises :class:`DecodeError` when the item is not a JSON object.
    """
    try:
        message, degraded = _decode_message(item, "message")
        raw_json = item if isinstance(item, msgspec.Raw) else msgspec.Raw(item)
        return msgspec.structs.replace(message, raw_json=raw_json, degraded=degraded)
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
    metadata = _decode_metadata(body.metadata, unit.key) if body.metadata else _NO_METADATA
    if unit.kind == "message":
        message, degraded = _decode_message(body.item, unit.key)
        contact = _decode_contact(body.contact, unit.key) if body.contact else None
        return msgspec.structs.replace(
            message,
            raw_json=body.item,
            degraded=degraded,
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
            contact=contact,
        )
    if unit.kind in ("status", "receipt"):
        status, degraded = _decode_typed(_status_decoder, Status, body.item, unit.key)
        if status is None:
            raise DecodeError(f"unit {unit.key}: the status item is not a JSON object")
        # Plugins see the author's tracker only, never the outbox's token in front of it.
        tracker = receipts.parse(status.biz_opaque_callback_data)[1]
        return msgspec.structs.replace(
            status,
            biz_opaque_callback_data=tracker,
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
            raw_json=body.item,
            degraded=degraded,
        )
    if unit.kind == "error":
        error, degraded = _decode_typed(_error_decoder, WebhookError, body.item, unit.key)
        if error is None:
            raise DecodeError(f"unit {unit.key}: the error item is not a JSON object")
        return msgspec.structs.replace(
            error,
            phone_number_id=metadata.phone_number_id,
            display_phone_number=metadata.display_phone_number,
            waba_id=body.waba_id,
            raw_json=body.item,
            degraded=degraded,
        )
    if unit.kind == "event":
        return _decode_event(body, metadata, unit.key)
    raise DecodeError(f"unit {unit.key}: unknown kind {unit.kind!r}")


def _decode_message(item: bytes | msgspec.Raw, where: str) -> tuple[Message, tuple[str, ...]]:
    try:
        message_type = _peek_decoder.decode(item).type
    except msgspec.ValidationError:
        message_type = ""  # a "type" that is not a string: nothing to choose a class by
    cls = MESSAGE_TYPES.get(message_type, UnknownMessage)
    decoder = _message_decoders.get(cls) or _unknown_decoder
    message, degraded = _decode_typed(decoder, cls, item, where)
    if message is None and cls is not UnknownMessage:
        # The type's own object is unusable: the message still goes out, untyped.
        message, more = _decode_typed(_unknown_decoder, UnknownMessage, item, where)
        degraded += (*more, f"$.{message_type}: unusable")
        log.warning("message dispatched untyped", unit=where, type=message_type)
    if message is None:
        raise DecodeError("message item is not a JSON object")
    if type(message) is UnknownMessage:
        # Its raw item is all a plugin has: make sure it reads (the typed decode skips
        # fields, and the strings in them, that it does not model).
        msgspec.json.decode(item)
    return message, degraded


def _decode_contact(raw: msgspec.Raw, where: str) -> Contact | None:
    found, _ = _decode_typed(_plain_contact_decoder, Contact, raw, f"{where} contact")
    return found


def _decode_typed(
    decoder: msgspec.json.Decoder[Any], cls: type[_T], item: bytes | msgspec.Raw, where: str
) -> tuple[_T | None, tuple[str, ...]]:
    """``item`` decoded as ``cls``: strictly on the fast path, else field by field.

    Returns the value and its degraded fields (``"<path>: coerced"`` or ``"<path>: dropped"``,
    each logged as a warning), or ``(None, ...)`` when the item is not a JSON object or does
    not fit ``cls`` even with every odd field dropped (a required field is unusable). Raises
    what msgspec raises for invalid JSON.
    """
    try:
        return decoder.decode(item), ()
    except msgspec.ValidationError:
        pass
    data = msgspec.json.decode(item)
    if not isinstance(data, dict):
        return None, ()
    degraded: list[str] = []
    value: _T | None = None
    for _ in range(_MAX_ODD_LEAVES):
        try:
            value = msgspec.convert(data, cls, strict=False)
            break
        except msgspec.ValidationError as exc:
            path, reason = _error_path(exc)
            if not path or not _drop(data, path):
                log.warning(
                    "item unusable as its type", unit=where, type=cls.__name__, error=reason
                )
                return None, tuple(degraded)
            degraded.append(f"{path}: dropped")
            log.warning("field dropped: unexpected type", unit=where, path=path, error=reason)
    if value is None:
        return None, tuple(degraded)
    # What the lax conversion accepted the strict one refuses: those leaves were coerced.
    probe = msgspec.json.decode(item)
    for path in (p.removesuffix(": dropped") for p in degraded):
        _drop(probe, path)
    for _ in range(_MAX_ODD_LEAVES):
        try:
            msgspec.convert(probe, cls)
            break
        except msgspec.ValidationError as exc:
            path, reason = _error_path(exc)
            if not path or not _drop(probe, path):
                break
            degraded.append(f"{path}: coerced")
            log.warning("field coerced: unexpected type", unit=where, path=path, error=reason)
    return value, tuple(degraded)


def _error_path(exc: msgspec.ValidationError) -> tuple[str, str]:
    """The JSON path (``$.location.latitude``; ``""`` for the item itself) and the reason of a
    msgspec validation error."""
    match = _ERROR_PATH.match(str(exc))
    if match is None or not match["path"]:
        return "", str(exc)
    return "$" + match["path"], match["reason"]


def _drop(data: Any, path: str) -> bool:
    """Remove the value at ``path`` from ``data``; False when there is none to remove."""
    parts = [(key, index) for key, index in _PATH_PART.findall(path[1:])]
    if not parts:
        return False
    parent = data
    for key, index in parts[:-1]:
        try:
            parent = parent[key] if key else parent[int(index)]
        except (KeyError, IndexError, TypeError):
            return False
    key, index = parts[-1]
    if key and isinstance(parent, dict) and key in parent:
        del parent[key]
        return True
    if not key and isinstance(parent, list) and int(index) < len(parent):
        del parent[int(index)]
        return True
    return False


def _decode_metadata(raw: msgspec.Raw, where: str) -> Metadata:
    try:
        return _metadata_decoder.decode(raw) or _NO_METADATA
    except msgspec.ValidationError:
        found, _ = _decode_typed(_plain_metadata_decoder, Metadata, raw, f"{where} metadata")
    return found or _NO_METADATA


@functools.cache
def _event_decoder(value_type: type[EventValue]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(value_type)


def _decode_event(body: UnitBody, metadata: Metadata, where: str) -> Event:
    raw = msgspec.json.decode(body.item)
    if not isinstance(raw, dict):
        raise DecodeError(f"the value of a {body.field!r} change is not a JSON object")
    value: EventValue | dict[str, Any] = raw
    degraded: tuple[str, ...] = ()
    value_type = event_value_type(body.field, raw)
    if value_type is not None:
        # A value too far from its documented shape still reaches the plugins, as the dict.
        typed, degraded = _decode_typed(_event_decoder(value_type), value_type, body.item, where)
        if typed is not None:
            value = typed
    return Event(
        field=body.field,
        waba_id=body.waba_id,
        time=body.time,
        phone_number_id=metadata.phone_number_id,
        value=value,
        raw=raw,
        degraded=degraded,
    )
