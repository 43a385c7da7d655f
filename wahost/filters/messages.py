"""Filters of messages: their type, their text, commands, and answers to what the business
sent (reply buttons, list rows, Flows). The reference is :mod:`wahost.filters`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from wahost.filters.base import MESSAGES, Filter, FilterResult
from wahost.models.messages import (
    AudioMessage,
    ButtonMessage,
    InteractiveMessage,
    ReactionMessage,
    TextMessage,
)

if TYPE_CHECKING:
    from wahost.context import Context


# -- messages: types -----------------------------------------------------------------------


class _Type(Filter):
    kinds = MESSAGES

    def __init__(self, name: str, *types: str) -> None:
        self.name = name
        self.types = frozenset(types)

    def check(self, update: Any, ctx: Context) -> bool:
        return update.type in self.types

    def __repr__(self) -> str:
        return f"F.{self.name}"


def message_type(*types: str) -> Filter:
    """A message whose ``type`` is one of ``types``, Meta's names (``"image"``, ``"location"``,
    ``"interactive"``...): for a type named at run time, as a configuration gives it;
    ``F.image`` is ``F.message_type("image")``."""
    if not types or not all(isinstance(t, str) and t for t in types):
        raise TypeError("F.message_type() takes one or more message type names")
    return _Type(f"message_type({', '.join(map(repr, sorted(set(types))))})", *types)


class _Voice(Filter):
    kinds = MESSAGES

    def check(self, update: Any, ctx: Context) -> bool:
        return isinstance(update, AudioMessage) and update.audio.voice

    def __repr__(self) -> str:
        return "F.voice"


#: An image.
image: Final[Filter] = _Type("image", "image")
#: A video.
video: Final[Filter] = _Type("video", "video")
#: An audio file or a voice recording (``F.voice`` for recordings only).
audio: Final[Filter] = _Type("audio", "audio")
#: A voice recording (an audio made with WhatsApp's microphone button).
voice: Final[Filter] = _Voice()
#: A document.
document: Final[Filter] = _Type("document", "document")
#: A sticker.
sticker: Final[Filter] = _Type("sticker", "sticker")
#: Any media: image, video, audio (voice included), document or sticker.
media: Final[Filter] = _Type("media", "image", "video", "audio", "document", "sticker")
#: A shared location.
location: Final[Filter] = _Type("location", "location")
#: Shared contact cards.
contacts: Final[Filter] = _Type("contacts", "contacts")
#: A cart sent from a catalog.
order: Final[Filter] = _Type("order", "order")
#: A system notice (the user changed number, ...).
system: Final[Filter] = _Type("system", "system")
#: A message the Cloud API cannot deliver (``unsupported``, or its older name ``unknown``).
unsupported: Final[Filter] = _Type("unsupported", "unsupported", "unknown")
#: The user opened the chat for the first time (welcome messages enabled).
request_welcome: Final[Filter] = _Type("request_welcome", "request_welcome")
#: The user deleted a message (``revoke``; coexistence numbers only).
revoke: Final[Filter] = _Type("revoke", "revoke")
#: The user edited a message (``edit``; coexistence numbers only). wahost does not model
#: edits yet: the message is an :class:`~wahost.models.UnknownMessage` whose ``raw["edit"]``
#: holds ``original_message_id`` and the new ``message``.
edit: Final[Filter] = _Type("edit", "edit")


class _Reaction(Filter):
    """``F.reaction``: any reaction (removals included); ``F.reaction("👍", "❤️")``: one of
    these emoji."""

    kinds = MESSAGES

    def __init__(self, emoji: Iterable[str] = ()) -> None:
        self.emoji = frozenset(emoji)

    def __call__(self, *emoji: str) -> Filter:
        if not emoji or not all(isinstance(e, str) and e for e in emoji):
            raise TypeError("F.reaction() takes one or more emoji")
        return _Reaction(emoji)

    def check(self, update: Any, ctx: Context) -> bool:
        if not isinstance(update, ReactionMessage):
            return False
        return not self.emoji or update.reaction.emoji in self.emoji

    def __repr__(self) -> str:
        if not self.emoji:
            return "F.reaction"
        return f"F.reaction({', '.join(map(repr, sorted(self.emoji)))})"


reaction: Final = _Reaction()


# -- messages: text ------------------------------------------------------------------------


def _strings(name: str, value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise TypeError(f"F.text({name}=...) takes a non-empty string or several")
    return values


class _Text(Filter):
    """``F.text``: any text message. Called, it matches the text's body (stripped of
    surrounding white space): equal to one of ``texts``, containing one of ``contains``,
    starting with one of ``startswith`` — every condition given must hold."""

    kinds = MESSAGES

    def __init__(
        self,
        texts: tuple[str, ...] = (),
        *,
        ignore_case: bool = False,
        contains: tuple[str, ...] = (),
        startswith: tuple[str, ...] = (),
    ) -> None:
        self.ignore_case = ignore_case
        norm = str.casefold if ignore_case else str
        self.texts = frozenset(norm(t.strip()) for t in texts)
        self.contains = tuple(norm(t) for t in contains)
        self.startswith = tuple(norm(t) for t in startswith)
        self._args = (texts, contains, startswith)

    def __call__(
        self,
        *texts: str,
        ignore_case: bool = False,
        contains: str | Iterable[str] | None = None,
        startswith: str | Iterable[str] | None = None,
    ) -> Filter:
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("F.text() takes strings")
        if not texts and contains is None and startswith is None:
            raise TypeError("F.text(): give texts, contains= or startswith= (or use F.text)")
        return _Text(
            texts,
            ignore_case=ignore_case,
            contains=_strings("contains", contains),
            startswith=_strings("startswith", startswith),
        )

    def check(self, update: Any, ctx: Context) -> bool:
        if not isinstance(update, TextMessage):
            return False
        body = update.text.body.strip()
        if self.ignore_case:
            body = body.casefold()
        if self.texts and body not in self.texts:
            return False
        if self.contains and not any(part in body for part in self.contains):
            return False
        return not self.startswith or body.startswith(self.startswith)

    def __repr__(self) -> str:
        texts, contains, startswith = self._args
        args = [repr(t) for t in texts]
        if contains:
            args.append(f"contains={contains!r}")
        if startswith:
            args.append(f"startswith={startswith!r}")
        if self.ignore_case:
            args.append("ignore_case=True")
        return f"F.text({', '.join(args)})" if args else "F.text"


text: Final = _Text()


class Command(msgspec.Struct, frozen=True):
    """A ``/name arguments`` text, as ``F.command`` gives it to the handler (``command``)."""

    #: The command's name without ``/``, spelled as in ``F.command(...)`` (as typed when the
    #: filter names none).
    name: str
    #: The text after the name, stripped (``""`` when there is none).
    arguments: str = ""

    @property
    def args(self) -> list[str]:
        """The arguments split on white space."""
        return self.arguments.split()


def parse_command(
    body: str, names: Iterable[str] | None = None, *, ignore_case: bool = True
) -> Command | None:
    """The command in a text, or ``None``.

    A typed or tapped command arrives as an ordinary text (reference/cloudapi.md §11): the
    body, stripped, is ``/`` immediately followed by the name, which ends at the first white
    space; the rest, stripped, is the arguments. ``names`` are the accepted names (``None``:
    any); ``ignore_case`` compares them with ``str.casefold``.
    """
    body = body.strip()
    if len(body) < 2 or body[0] != "/" or body[1].isspace() or body[1] == "/":
        return None
    head = body[1:].split(maxsplit=1)
    name = head[0]
    arguments = head[1].strip() if len(head) > 1 else ""
    if names is not None:
        wanted = name.casefold() if ignore_case else name
        for candidate in names:
            if (candidate.casefold() if ignore_case else candidate) == wanted:
                return Command(candidate, arguments)
        return None
    return Command(name, arguments)


class _Command(Filter):
    """``F.command``: any ``/name`` text; ``F.command("start", "help")``: one of these names.
    Gives ``command``, a :class:`Command` with the arguments."""

    kinds = MESSAGES
    provides = frozenset({"command"})

    def __init__(self, names: tuple[str, ...] | None = None, ignore_case: bool = True) -> None:
        self.names = names
        self.ignore_case = ignore_case

    def __call__(self, *names: str, ignore_case: bool = True) -> Filter:
        cleaned = tuple(n.removeprefix("/") for n in names if isinstance(n, str))
        if not names or len(cleaned) != len(names) or not all(cleaned):
            raise TypeError("F.command() takes one or more command names")
        if any(any(c.isspace() for c in n) for n in cleaned):
            raise ValueError("F.command(): a command name has no white space")
        return _Command(cleaned, ignore_case)

    def check(self, update: Any, ctx: Context) -> FilterResult:
        if not isinstance(update, TextMessage):
            return False
        found = parse_command(update.text.body, self.names, ignore_case=self.ignore_case)
        return None if found is None else {"command": found}

    def __repr__(self) -> str:
        if self.names is None:
            return "F.command"
        return f"F.command({', '.join(map(repr, self.names))})"


command: Final = _Command()


class _Regex(Filter):
    kinds = MESSAGES
    provides = frozenset({"match"})

    def __init__(self, pattern: re.Pattern[str], search: bool) -> None:
        self.pattern = pattern
        self.search = search
        self._match = pattern.search if search else pattern.fullmatch

    def check(self, update: Any, ctx: Context) -> FilterResult:
        if not isinstance(update, TextMessage):
            return False
        found = self._match(update.text.body)
        return None if found is None else {"match": found}

    def __repr__(self) -> str:
        return f"F.regex({self.pattern.pattern!r}{', search=True' if self.search else ''})"


def regex(pattern: str | re.Pattern[str], flags: int = 0, *, search: bool = False) -> Filter:
    """A text message whose *whole* body matches ``pattern`` (``re.fullmatch``: ``r"hi"``
    does not match ``"hi there"``); ``search=True`` matches anywhere (``re.search``).
    Gives ``match``, the :class:`re.Match`."""
    if isinstance(pattern, str):
        compiled = re.compile(pattern, flags)
    elif flags:
        raise ValueError("F.regex(): give flags with a pattern string, not a compiled pattern")
    else:
        compiled = pattern
    return _Regex(compiled, search)


# -- messages: answers to what the business sent ---------------------------------------------


def reply_id(message: Any) -> str | None:
    """The id of the reply button or list row the user chose, or the payload of the template
    quick-reply button they tapped; ``None`` for any other message."""
    if isinstance(message, InteractiveMessage):
        return message.reply_id
    if isinstance(message, ButtonMessage):
        return message.button.payload
    return None


class _Reply(Filter):
    """``F.reply``: any reply-button or list-row answer (and template quick-reply buttons);
    ``F.reply("yes", "pick")``: an id equal to one of these or starting with one of them
    followed by ``:`` (the prefix of a :class:`~wahost.CallbackData`); with ``exact=True``,
    only an id equal to one of them. Gives ``reply_id``."""

    kinds = MESSAGES
    provides = frozenset({"reply_id"})

    def __init__(self, ids: tuple[str, ...] = (), exact: bool = False) -> None:
        self.ids = frozenset(ids)
        self.exact = exact
        self.prefixes = () if exact else tuple(f"{i}:" for i in ids)

    def __call__(self, *ids: str, exact: bool = False) -> Filter:
        if not ids or not all(isinstance(i, str) and i for i in ids):
            raise TypeError("F.reply() takes one or more ids or id prefixes")
        return _Reply(ids, exact)

    def check(self, update: Any, ctx: Context) -> FilterResult:
        found = reply_id(update)
        if found is None:
            return False
        if self.ids and found not in self.ids and not found.startswith(self.prefixes):
            return False
        return {"reply_id": found}

    def __repr__(self) -> str:
        if not self.ids:
            return "F.reply"
        exact = ", exact=True" if self.exact else ""
        return f"F.reply({', '.join(map(repr, sorted(self.ids)))}{exact})"


reply: Final = _Reply()


class _FlowCompleted(Filter):
    """``F.flow_completed``: any completed WhatsApp Flow (an ``nfm_reply``);
    ``F.flow_completed("survey")``: one whose ``flow_token`` is ``"survey"`` or starts with
    ``"survey:"``. The reply carries no Flow id, only the token the business sent
    (reference/cloudapi.md §9), so send the Flow with such a token. Gives ``response``, the
    decoded ``response_json`` (with ``flow_token`` and the Flow's fields)."""

    kinds = MESSAGES
    provides = frozenset({"response"})

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def __call__(self, name: str) -> Filter:
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError("F.flow_completed(): the flow name is non-empty and has no ':'")
        return _FlowCompleted(name)

    def check(self, update: Any, ctx: Context) -> FilterResult:
        if not isinstance(update, InteractiveMessage) or update.interactive is None:
            return False
        nfm = update.interactive.nfm_reply
        if nfm is None:
            return False
        response = nfm.response or {}
        if self.name is not None:
            token = response.get("flow_token")
            if not isinstance(token, str):
                return False
            if token != self.name and not token.startswith(self.name + ":"):
                return False
        return {"response": response}

    def __repr__(self) -> str:
        return f"F.flow_completed({self.name!r})" if self.name else "F.flow_completed"


flow_completed: Final = _FlowCompleted()
