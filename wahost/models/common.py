"""Building blocks shared by all webhook models: the decode error, open enums, Unix times and
Meta's error object."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Self

import msgspec

from wahost.errors import DecodeError as DecodeError

#: The ``raw_json`` of a model built by hand rather than decoded. msgspec omits a default
#: ``Raw`` only when it is this very object, so always use this one.
NO_RAW = msgspec.Raw()


def raw_dict(raw_json: msgspec.Raw) -> dict[str, Any]:
    """The JSON object ``raw_json`` as a new dict; ``{}`` when absent, not an object, or not
    decodable (invalid UTF-8 in a field the typed model skipped).

    Behind the ``raw`` property of the typed updates: decoded on each read, so that the hot
    path never pays for it and a plugin can change the dict it gets without harm.
    """
    if not raw_json:
        return {}
    try:
        decoded = msgspec.json.decode(raw_json)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


class OpenEnum(enum.StrEnum):
    """A string enum that accepts values it does not know.

    Meta adds values to its enums without notice (reference/cloudapi.md §4: ``deleted`` statuses,
    new pricing categories). Models therefore keep the string as Meta sent it in a ``*_raw``
    field and expose the member through a property built with :meth:`parse`, which maps any
    unknown value to the ``UNKNOWN`` member instead of raising. Every subclass defines
    ``UNKNOWN``.
    """

    @classmethod
    def parse(cls, value: str | None) -> Self:
        """The member whose value is ``value``, or ``UNKNOWN`` for anything else (incl. None)."""
        if value is not None:
            try:
                return cls(value)
            except ValueError:
                pass
        return cls["UNKNOWN"]


def unix_time(timestamp: str | int | None) -> datetime | None:
    """An aware UTC datetime for a Unix timestamp in seconds, sent as a string or an int.

    Meta sends ``timestamp`` as a *string* of seconds (reference/cloudapi.md §3); some older
    payloads and other fields use an int. Returns None when the value is missing or not a
    number of seconds, so that reading a model's ``time`` never raises.
    """
    if timestamp is None or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


class ErrorData(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ``error_data`` object of a Meta error."""

    details: str | None = None


class Error(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An error as Meta reports it in a webhook.

    Appears in ``value.errors[]`` (see :class:`WebhookError`), in ``statuses[].errors[]`` and
    in ``messages[].errors[]`` of unsupported messages (reference/cloudapi.md §3), and in the
    calls, groups and history events (§14.11). ``title`` and ``message`` carry the same text;
    call errors have no ``title``. A ``code`` sent as a string of digits is read as the number.
    """

    code: int = 0
    title: str = ""
    message: str = ""
    error_data: ErrorData | None = None
    href: str | None = None
    flat_details: str | None = msgspec.field(default=None, name="details")

    @property
    def details(self) -> str | None:
        """The longer explanation, if Meta sent one: ``error_data.details``, else a
        ``details`` beside ``code`` and ``title`` (some payloads put it there)."""
        if self.error_data is not None and self.error_data.details is not None:
            return self.error_data.details
        return self.flat_details
