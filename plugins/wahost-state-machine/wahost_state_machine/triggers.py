"""The old triggers (deprecated): what a message must be for a state's handler to take it.

**Deprecated:** give a state core filters instead (``from wahost import filters as F``):
``@sm.state("start", F.text("book", ignore_case=True) | F.command("book"))``. Each trigger
names the filter that replaces it (:meth:`Trigger.replacement`), and ``@sm.state(..., on=...)``
warns with the whole rewrite.

A trigger's :meth:`Trigger.match` returns ``None`` when the message does not match, and
otherwise a value describing the match (the text, the :class:`re.Match`, the reply id, the
Flow's response...), which an old-style handler finds in ``current_step(ctx).match``. A
trigger is also a :class:`wahost.filters.Filter` of messages that gives that value as
``match``: the machine runs old and new states the same way.
"""

from __future__ import annotations

import inspect
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from wahost.filters import Filter, FilterResult
from wahost.filters.base import MESSAGES
from wahost.injection import describe

if TYPE_CHECKING:
    from wahost import Context

__all__ = [
    "PASSIVE_TYPES",
    "AnyMessage",
    "FlowCompleted",
    "MessageType",
    "Regex",
    "Reply",
    "Text",
    "Trigger",
    "When",
    "as_triggers",
    "flow_token",
]

#: Message types that are not a turn of the conversation: a reaction, a deleted message, a
#: system notice. A state handler without filters (and :class:`AnyMessage`) does not take
#: them, and when no handler takes them the machine leaves them to other plugins instead of
#: calling ``on_invalid_state``.
PASSIVE_TYPES = frozenset({"reaction", "revoke", "system"})

#: The filter that takes what a handler without filters takes (:class:`AnyMessage`).
NOT_PASSIVE = "~(F.reaction | F.revoke | F.system)"

Predicate = Callable[["Context", Any], "bool | Awaitable[bool]"]

#: Message types with a filter of the same name in :mod:`wahost.filters`.
_TYPE_FILTERS = frozenset(
    {
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "order",
        "system",
        "request_welcome",
        "reaction",
        "revoke",
        "edit",
    }
)


def _text(message: Any) -> str | None:
    if message.type != "text":
        return None
    text = getattr(message, "text", None)
    body = getattr(text, "body", None)
    return body if isinstance(body, str) else None


def _args(*values: object, **options: object) -> str:
    parts = [repr(v) for v in values]
    parts += [f"{name}={value!r}" for name, value in options.items()]
    return ", ".join(parts)


class Trigger(Filter):
    """The base of every trigger: a filter of messages that gives ``match``.

    A subclass implements :meth:`match` (plain, or returning an awaitable) and, for the
    deprecation warning, :meth:`replacement`.
    """

    kinds = MESSAGES
    provides = frozenset({"match"})
    #: Whether :meth:`match` may return an awaitable (a subclass of this base may).
    is_async = True
    #: Where a handler taking arguments by name finds what :meth:`match` gave
    #: (``current_step(ctx).match``); ``""``: nowhere it needs.
    gives = ""

    def match(self, ctx: Context, message: Any) -> Any:
        """``None`` when ``message`` does not match, else the match (may be awaitable)."""
        raise NotImplementedError

    async def check(self, update: Any, ctx: Context) -> FilterResult:
        value = self.match(ctx, update)
        if inspect.isawaitable(value):
            value = await value
        return None if value is None else {"match": value}

    def replacement(self) -> str:
        """The core filter to write instead (``F.text('yes')``); ``""`` for no filter."""
        return f"F.new(...)  # what {self!r} checked, taking (message, ctx) by name"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _SyncTrigger(Trigger):
    """A trigger whose :meth:`match` never returns an awaitable."""

    is_async = False

    def check(self, update: Any, ctx: Context) -> FilterResult:  # type: ignore[override]
        value = self.match(ctx, update)
        return None if value is None else {"match": value}


class AnyMessage(_SyncTrigger):
    """Any message, except the passive ones (:data:`PASSIVE_TYPES`; name those with
    :class:`MessageType` to take them)."""

    gives = "message.type"

    def match(self, ctx: Context, message: Any) -> Any:
        return None if message.type in PASSIVE_TYPES else message.type

    def replacement(self) -> str:
        return ""


class MessageType(_SyncTrigger):
    """A message of one of the given types: ``MessageType("image", "document")``."""

    gives = "message.type"

    def __init__(self, *types: str) -> None:
        if not types or not all(isinstance(t, str) and t for t in types):
            raise ValueError("MessageType() takes one or more message type names")
        self.types = frozenset(types)

    def match(self, ctx: Context, message: Any) -> Any:
        return message.type if message.type in self.types else None

    def replacement(self) -> str:
        named = sorted(self.types & _TYPE_FILTERS)
        other = sorted(self.types - _TYPE_FILTERS)
        parts = [f"F.{name}" for name in named]
        if other:
            parts.append(f"F.new(lambda message: message.type in {other!r})")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"MessageType({', '.join(map(repr, sorted(self.types)))})"


class Text(_SyncTrigger):
    """A text message: any text with no argument, else one equal to one of ``texts``.

    Equality is exact, after stripping surrounding whitespace (``strip=False`` keeps it);
    ``ignore_case=True`` compares case-insensitively (``str.casefold``). Matches the text.
    """

    gives = "message.text.body"

    def __init__(self, *texts: str, ignore_case: bool = False, strip: bool = True) -> None:
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("Text() takes strings")
        self.texts = texts
        self.ignore_case = ignore_case
        self.strip = strip
        self._wanted = frozenset(self._norm(t) for t in texts)

    def _norm(self, text: str) -> str:
        if self.strip:
            text = text.strip()
        return text.casefold() if self.ignore_case else text

    def match(self, ctx: Context, message: Any) -> Any:
        body = _text(message)
        if body is None:
            return None
        if self.texts and self._norm(body) not in self._wanted:
            return None
        return body

    def replacement(self) -> str:
        if not self.texts:
            return "F.text"
        if not self.strip and not self.ignore_case:
            # F.text always strips; a whole-text regex of the literals keeps the spaces.
            return f"F.regex({'|'.join(re.escape(t) for t in self.texts)!r})"
        options = {"ignore_case": True} if self.ignore_case else {}
        return f"F.text({_args(*self.texts, **options)})"

    def __repr__(self) -> str:
        options = ", ignore_case=True" if self.ignore_case else ""
        return f"Text({', '.join(map(repr, self.texts))}{options})"


class Regex(_SyncTrigger):
    """A text message whose *whole* text matches ``pattern`` (``re.fullmatch``): ``/start``
    does not match ``/started``. Matches the :class:`re.Match` (groups for the handler)."""

    gives = "match"

    def __init__(self, pattern: str | re.Pattern[str], flags: int = 0) -> None:
        self.pattern = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        if flags and not isinstance(pattern, str):
            raise ValueError("Regex(): give flags with a pattern string, not a compiled one")

    def match(self, ctx: Context, message: Any) -> Any:
        body = _text(message)
        return None if body is None else self.pattern.fullmatch(body)

    def replacement(self) -> str:
        flags = self.pattern.flags & ~re.UNICODE
        if not flags:
            return f"F.regex({self.pattern.pattern!r})"
        return f"F.regex({self.pattern.pattern!r}, {re.RegexFlag(flags)!r})"

    def __repr__(self) -> str:
        return f"Regex({self.pattern.pattern!r})"


class Reply(_SyncTrigger):
    """The user's tap on a reply button or choice of a list row with one of ``ids`` (any id
    with no argument); also a template quick-reply button whose payload is one of them.
    Matches the id."""

    gives = "reply_id"

    def __init__(self, *ids: str) -> None:
        if not all(isinstance(i, str) for i in ids):
            raise TypeError("Reply() takes id strings")
        self.ids = frozenset(ids)

    def match(self, ctx: Context, message: Any) -> Any:
        reply_id: str | None = None
        if message.type == "interactive":
            reply_id = getattr(message, "reply_id", None)
        elif message.type == "button":
            reply_id = getattr(getattr(message, "button", None), "payload", None)
        if reply_id is None or (self.ids and reply_id not in self.ids):
            return None
        return reply_id

    def replacement(self) -> str:
        return f"F.reply({_args(*sorted(self.ids))})" if self.ids else "F.reply"

    def __repr__(self) -> str:
        return f"Reply({', '.join(map(repr, sorted(self.ids)))})"


class FlowCompleted(_SyncTrigger):
    """The user completed a WhatsApp Flow (an ``interactive`` ``nfm_reply``).

    ``nfm_reply.response_json`` carries no Flow id, only the ``flow_token`` the business sent
    (reference/cloudapi.md §9), so the Flow is recognised by its token: ``flow`` matches a
    token equal to it or starting with ``flow + ":"`` — send the Flow with
    ``flow_token=flow_token("survey")``. Without ``flow``, any completed Flow matches.
    Matches the decoded response (a dict with ``flow_token`` and the Flow's fields).
    """

    gives = "response"

    def __init__(self, flow: str | None = None) -> None:
        if flow is not None and (not flow or ":" in flow):
            raise ValueError("FlowCompleted(): the flow name is non-empty and has no ':'")
        self.flow = flow

    def match(self, ctx: Context, message: Any) -> Any:
        interactive = (
            getattr(message, "interactive", None) if message.type == "interactive" else None
        )
        reply = getattr(interactive, "nfm_reply", None)
        if reply is None:
            return None
        response: dict[str, Any] = reply.response or {}
        if self.flow is None:
            return response
        token = response.get("flow_token")
        if not isinstance(token, str):
            return None
        if token == self.flow or token.startswith(self.flow + ":"):
            return response
        return None

    def replacement(self) -> str:
        return f"F.flow_completed({self.flow!r})" if self.flow else "F.flow_completed"

    def __repr__(self) -> str:
        return f"FlowCompleted({self.flow!r})" if self.flow else "FlowCompleted()"


def flow_token(flow: str) -> str:
    """A fresh, unpredictable ``flow_token`` for sending the Flow ``flow``, which
    ``F.flow_completed(flow)`` (and the old :class:`FlowCompleted`) recognises when the user
    completes it."""
    if not flow or ":" in flow:
        raise ValueError("flow_token(): the flow name is non-empty and has no ':'")
    return f"{flow}:{secrets.token_urlsafe(16)}"


class When(Trigger):
    """A predicate ``fn(ctx, message) -> bool`` (plain or ``async``); matches ``True``."""

    def __init__(self, predicate: Predicate) -> None:
        if not callable(predicate):
            raise TypeError("When() takes a callable")
        self.predicate = predicate

    async def _match(self, ctx: Context, message: Any) -> Any:
        result = self.predicate(ctx, message)
        if inspect.isawaitable(result):
            result = await result
        return True if result else None

    def match(self, ctx: Context, message: Any) -> Any:
        return self._match(ctx, message)

    def replacement(self) -> str:
        return f"F.new({describe(self.predicate)})"

    def __repr__(self) -> str:
        return f"When({getattr(self.predicate, '__qualname__', self.predicate)!r})"


def as_triggers(on: Trigger | Predicate | Sequence[Trigger | Predicate]) -> list[Trigger]:
    """``on=`` of a state as a list of triggers: a trigger, a predicate, or a list of them
    (the handler runs when any of them matches)."""
    items: Sequence[Any] = on if isinstance(on, list | tuple) else [on]
    if not items:
        raise ValueError("on= needs at least one trigger")
    triggers: list[Trigger] = []
    for item in items:
        if isinstance(item, Trigger):
            triggers.append(item)
        elif isinstance(item, type) and issubclass(item, Trigger):
            raise TypeError(f"on=: use an instance, {item.__name__}(), not the class")
        elif isinstance(item, Filter):
            raise TypeError(
                f"on= takes the old triggers; give filters such as {item!r} without on=: "
                f"@sm.state('name', {item!r})"
            )
        elif callable(item):
            triggers.append(When(item))
        else:
            raise TypeError(f"on=: expected a trigger or a predicate, not {item!r}")
    return triggers


def replacement(triggers: Sequence[Trigger]) -> str:
    """The filter expression replacing ``on=triggers`` (any of which matched); ``""`` when
    the state handler needs no filter."""
    parts = [trigger.replacement() for trigger in triggers]
    if len(parts) == 1:
        return parts[0]
    return " | ".join(part or NOT_PASSIVE for part in parts)
