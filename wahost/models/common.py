"""Building blocks shared by all webhook models: the decode error, open enums, Unix times and
Meta's error object."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Self

import msgspec


class DecodeError(ValueError):
    """A webhook body or a stored unit that cannot be decoded.

    Raised by :func:`wahost.units.split` for a body that is not a webhook envelope (invalid
    JSON, wrong types in the envelope's structure, ``object`` missing) and by
    :func:`wahost.models.decode_unit` for an item that does not match its model. These are the
    only exceptions either function raises.
    """


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
    in ``messages[].errors[]`` of unsupported messages (reference/cloudapi.md §3). ``title``
    and ``message`` carry the same text.
    """

    code: int = 0
    title: str = ""
    message: str = ""
    error_data: ErrorData | None = None
    href: str | None = None

    @property
    def details(self) -> str | None:
        """``error_data.details``: the longer explanation, if Meta sent one."""
        return self.error_data.details if self.error_data is not None else None
