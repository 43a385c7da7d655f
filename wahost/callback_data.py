"""Typed payloads of reply buttons and list rows: :class:`CallbackData`.

A button's or row's id comes back, as it was sent, in the user's answer
(reference/cloudapi.md §3). A :class:`CallbackData` subclass is a msgspec struct packed into that
id behind a prefix, and read back typed by its filter::

    from wahost import CallbackData, Router, filters as F
    from wahost.outbound import ReplyButton, ReplyButtons

    class Pick(CallbackData, prefix="pick"):
        item: str
        qty: int = 1

    await ctx.reply(ReplyButtons("What would you like?", [ReplyButton(Pick(item="tea"), "Tea")]))

    @router.message(Pick.filter())
    async def picked(message, ctx, data: Pick):
        await ctx.reply(f"{data.qty} x {data.item}")

**The packed form** is ``<prefix>:<JSON array of the fields>`` (``pick:["tea",1]``): any type
msgspec encodes is allowed, and a text field may hold ``:`` or quotes. Meta allows 256 characters
in a reply button's id and 200 in a list row's (reference/cloudapi.md §6): :meth:`pack` checks
the limit and raises :class:`ValueError` naming the class and the length.

**Compatibility.** Buttons stay in a chat for days: an id packed by an older version of the
class must still decode. Add fields at the end, with defaults; never reorder or remove fields
(extra trailing values in an old id are ignored). Keep prefixes unique within a bot.

**Never a crash.** An id with another prefix, or one that does not decode into the class (a
changed class, a forged id, a value its constraints refuse), does not match its filter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import msgspec

from wahost.filters.base import MESSAGES, Filter, FilterResult
from wahost.filters.messages import reply_id

if TYPE_CHECKING:
    from wahost.context import Context

__all__ = ["LIST_ROW_ID_MAX", "REPLY_BUTTON_ID_MAX", "CallbackData"]

#: Meta's limit of a reply button's id (reference/cloudapi.md §6).
REPLY_BUTTON_ID_MAX: Final = 256
#: Meta's limit of a list row's id (reference/cloudapi.md §6).
LIST_ROW_ID_MAX: Final = 200
_LIMIT_NAMES: Final = {REPLY_BUTTON_ID_MAX: "a reply button id", LIST_ROW_ID_MAX: "a list row id"}
_PREFIX = re.compile(r"[A-Za-z0-9_.\-]+")
# msgspec raises DecodeError (ValidationError included) for an id that does not fit; a
# __post_init__ of the subclass may raise ValueError or TypeError; deep nesting RecursionError.
_UNDECODABLE = (msgspec.DecodeError, ValueError, TypeError, RecursionError)


class _CallbackDataMeta(msgspec.StructMeta):
    """Takes the ``prefix`` class keyword of :class:`CallbackData` subclasses."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        /,
        *,
        prefix: str | None = None,
        **kwargs: Any,
    ) -> _CallbackDataMeta:
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if bases and bases != (msgspec.Struct,):
            if prefix is None:
                raise TypeError(
                    f"CallbackData {name}: give it a prefix, "
                    f'`class {name}(CallbackData, prefix="{name.lower()}")`'
                )
            if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
                raise ValueError(
                    f"CallbackData {name}: prefix {prefix!r} must be letters, digits, '_', "
                    "'.' or '-' (no ':')"
                )
        cls.__prefix__ = prefix or ""  # type: ignore[attr-defined]
        cls.__decoder__ = None  # type: ignore[attr-defined]
        return cls


class CallbackData(msgspec.Struct, frozen=True, array_like=True, metaclass=_CallbackDataMeta):
    """The base of typed button and list-row payloads; see the module documentation.

    Subclass it with a ``prefix`` and typed fields::

        class Pick(CallbackData, prefix="pick"):
            item: str
            qty: int = 1

    An instance is accepted as the id of :class:`~wahost.outbound.ReplyButton` and
    :class:`~wahost.outbound.Row` (packed there, with that id's limit), and ``Pick.filter()``
    matches the answers that carry one and gives it to the handler as ``data``.
    """

    #: The prefix given in the class statement.
    __prefix__: ClassVar[str]
    __decoder__: ClassVar[msgspec.json.Decoder[Any] | None]

    if TYPE_CHECKING:

        def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None: ...

    def pack(self, *, limit: int = REPLY_BUTTON_ID_MAX) -> str:
        """The id that carries this value: ``<prefix>:<JSON array of the fields>``.

        Raises :class:`ValueError` when it is longer than ``limit`` characters (256, a reply
        button id; a list row id takes ``limit=LIST_ROW_ID_MAX``, 200).
        """
        packed = f"{self.__prefix__}:{msgspec.json.encode(self).decode()}"
        if len(packed) > limit:
            what = _LIMIT_NAMES.get(limit, "this id")
            raise ValueError(
                f"{type(self).__name__}: packs into {len(packed)} characters, more than the "
                f"{limit} of {what}; shorten its values ({packed[:60]}...)"
            )
        return packed

    @classmethod
    def unpack(cls, packed: str) -> Self | None:
        """The value packed in ``packed``, or ``None`` when it has another prefix or does not
        decode into this class. Never raises."""
        prefix = cls.__prefix__
        if (
            not isinstance(packed, str)
            or len(packed) <= len(prefix)
            or packed[len(prefix)] != ":"
            or not packed.startswith(prefix)
        ):
            return None
        decoder = cls.__decoder__
        if decoder is None:  # built on first use: field types may be defined after the class
            decoder = cls.__decoder__ = msgspec.json.Decoder(cls)
        try:
            value: Self = decoder.decode(packed[len(prefix) + 1 :])
        except _UNDECODABLE:
            return None
        return value

    @classmethod
    def filter(cls, **fields: Any) -> Filter:
        """A filter of the answers (reply button, list row, template quick-reply button) that
        carry a value of this class whose ``fields`` equal those given:
        ``Pick.filter(item="tea")``. Gives ``data``, the decoded value."""
        unknown = set(fields) - set(cls.__struct_fields__)
        if unknown:
            raise TypeError(
                f"{cls.__name__}.filter(): no field {', '.join(sorted(unknown))}; "
                f"its fields are {', '.join(cls.__struct_fields__)}"
            )
        return _CallbackDataFilter(cls, fields)


class _CallbackDataFilter(Filter):
    kinds = MESSAGES
    provides = frozenset({"data"})

    def __init__(self, cls: type[CallbackData], fields: Mapping[str, Any]) -> None:
        self.cls = cls
        self.fields = tuple(fields.items())
        self.start = f"{cls.__prefix__}:"

    def check(self, update: Any, ctx: Context) -> FilterResult:
        found = reply_id(update)
        if found is None or not found.startswith(self.start):
            return False
        data = self.cls.unpack(found)
        if data is None:
            return False
        for name, wanted in self.fields:
            if getattr(data, name) != wanted:
                return False
        return {"data": data}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.fields)
        return f"{self.cls.__name__}.filter({fields})"
