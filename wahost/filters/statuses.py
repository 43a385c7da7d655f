"""Filters of statuses (sent, delivered, read, failed, typed trackers) and of other events.
The reference is :mod:`wahost.filters`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from wahost.filters.base import EVENTS, STATUSES, Filter, FilterResult

if TYPE_CHECKING:
    from wahost.context import Context


# -- statuses ----------------------------------------------------------------------------------


class _StatusIs(Filter):
    kinds = STATUSES

    def __init__(self, value: str) -> None:
        self.value = value

    def check(self, update: Any, ctx: Context) -> bool:
        return bool(update.status_raw == self.value)

    def __repr__(self) -> str:
        return f"F.{self.value}"


#: Meta accepted the message and sent it.
sent: Final[Filter] = _StatusIs("sent")
#: The message reached the user's phone.
delivered: Final[Filter] = _StatusIs("delivered")
#: The user read the message.
read: Final[Filter] = _StatusIs("read")
#: The user played a voice message for the first time.
played: Final[Filter] = _StatusIs("played")
#: The message could not be delivered (``status.errors`` says why).
failed: Final[Filter] = _StatusIs("failed")


class _FailedWith(Filter):
    kinds = STATUSES
    provides = frozenset({"error"})

    def __init__(self, codes: frozenset[int]) -> None:
        self.codes = codes

    def check(self, update: Any, ctx: Context) -> FilterResult:
        if update.status_raw != "failed":
            return False
        for error in update.errors:
            if error.code in self.codes:
                return {"error": error}
        return False

    def __repr__(self) -> str:
        return f"F.failed_with({', '.join(map(str, sorted(self.codes)))})"


def failed_with(*codes: int) -> Filter:
    """A ``failed`` status with an error of one of ``codes`` (e.g. 131049, 131026;
    reference/cloudapi.md §7). Gives ``error``, the :class:`wahost.models.Error`."""
    if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise TypeError("F.failed_with() takes one or more error codes")
    return _FailedWith(frozenset(codes))


class _Tracker(Filter):
    kinds = STATUSES
    provides = frozenset({"tracker"})

    def __init__(self, cls: type[msgspec.Struct]) -> None:
        self.cls = cls
        self._decoder = msgspec.json.Decoder(cls)

    def check(self, update: Any, ctx: Context) -> FilterResult:
        data = update.biz_opaque_callback_data
        if not data or data[0] != "{":
            return False
        try:
            found = self._decoder.decode(data)
        except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
            return False
        return {"tracker": found}

    def __repr__(self) -> str:
        return f"F.tracker({self.cls.__qualname__})"


def tracker(cls: type[msgspec.Struct]) -> Filter:
    """A status of a message sent with a tracker of type ``cls`` (``ctx.reply(...,
    tracker=Order(...))``: a msgspec struct, encoded as JSON in ``biz_opaque_callback_data``).
    Gives ``tracker``, the decoded struct. A tagged struct (``tag="order"``) tells its
    trackers apart from others of the same shape; an untagged one matches any JSON object
    that fits it."""
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        raise TypeError(f"F.tracker() takes a msgspec.Struct type, not {cls!r}")
    return _Tracker(cls)


# -- events ------------------------------------------------------------------------------------


class _Event(Filter):
    kinds = EVENTS

    def __init__(self, fields: frozenset[str], types: tuple[type, ...] = ()) -> None:
        self.fields = fields
        self.types = types

    def check(self, update: Any, ctx: Context) -> bool:
        return update.field in self.fields or isinstance(update.value, self.types)

    def __repr__(self) -> str:
        names = [*map(repr, sorted(self.fields)), *(t.__name__ for t in self.types)]
        return f"F.event({', '.join(names)})"


def event(*fields: str | type) -> Filter:
    """An event of one of the webhook ``fields`` (``"calls"``, ``"flows"``,
    ``"user_preferences"``, ``"account_update"``, ...), or whose typed value is an instance of
    one of the given classes (``F.event(CallEvent)``, ``F.event(TemplateQualityUpdate)``: see
    :data:`wahost.models.EVENT_VALUE_TYPES`). A class also matches the value of a field Meta
    sent under another name, as it does for template quality updates."""
    names = frozenset(f for f in fields if isinstance(f, str))
    types = tuple(f for f in fields if isinstance(f, type))
    if not fields or len(names) + len(types) != len(fields) or not all(names):
        raise TypeError("F.event() takes webhook field names or typed event value classes")
    return _Event(names, types)
