"""The base classes of outbound messages and the checks their ``validate()`` methods share.

Every check raises :class:`ValueError` with a message that starts with the path of the field
from the message down, e.g. ``ReplyButtons.buttons[1].title: at most 20 characters (got 23)``.

Lengths are counted as Python's ``len()`` of the string, i.e. in Unicode code points. Meta's
limits say "characters" without defining them; an emoji made of several code points (a flag, a
skin tone, a family) or outside the Basic Multilingual Plane may count differently on Meta's side
(UNVERIFIED), so keep a margin when a text close to a limit carries emoji.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import msgspec

__all__ = ["Outbound", "Part"]


class Part(msgspec.Struct, frozen=True):
    """A piece of an outbound message (a button, a list row, a contact, a template parameter).

    Parts are checked when the message that holds them is checked, so that an error names the
    whole path (``ListMessage.sections[0].rows[2].id``); :meth:`validate` checks one on its own.
    """

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the field and the limit when a value breaks one."""
        self._check(type(self).__name__)

    def _check(self, path: str) -> None:
        """Check this part; ``path`` names it in error messages. Subclasses extend it."""

    def content(self) -> Any:
        """The JSON value (plain dicts, lists and strings) this part encodes to."""
        raise NotImplementedError


class Outbound(Part, frozen=True):
    """A message that can be sent with ``POST /<PHONE_NUMBER_ID>/messages``.

    ``type`` is the Cloud API type string, and :meth:`content` the object sent under that key
    (reference/cloudapi.md §6). Messages are checked when they are built (a broken message
    raises :class:`ValueError` at the line that builds it) and again by
    :func:`wahost.outbound.message_body`, since the lists inside a message can still be changed
    after it is built.
    """

    type: ClassVar[str]
    endpoint: ClassVar[str] = "messages"
    """The path after ``/<PHONE_NUMBER_ID>/`` that sends it (``marketing_messages`` for
    :class:`~wahost.outbound.MarketingTemplate`)."""

    def __post_init__(self) -> None:
        self.validate()

    def request_fields(self) -> dict[str, Any]:
        """Fields the message adds at the top of the request body, next to ``type``."""
        return {}

    def content(self) -> dict[str, Any] | list[dict[str, Any]]:
        """The object sent under the ``type`` key of the request body."""
        raise NotImplementedError


def check_text(path: str, value: object, limit: int | None = None) -> None:
    """A required string: present, not empty, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise ValueError(f"{path}: must be a string (got {type(value).__name__})")
    if not value:
        raise ValueError(f"{path}: must not be empty")
    check_length(path, value, limit)


def check_optional_text(path: str, value: object, limit: int | None = None) -> None:
    """An optional string: None, or a non-empty string of at most ``limit`` characters."""
    if value is not None:
        check_text(path, value, limit)


def check_length(path: str, value: str, limit: int | None) -> None:
    """At most ``limit`` characters (counted with ``len()``, see the module docstring)."""
    if limit is not None and len(value) > limit:
        raise ValueError(f"{path}: at most {limit} characters (got {len(value)})")


def check_items(
    path: str, value: object, kind: type | tuple[type, ...], low: int, high: int | None, noun: str
) -> Sequence[Any]:
    """A list of ``low`` to ``high`` items, each an instance of ``kind``; returns the list.
    ``noun`` is the singular name of an item, for the error message."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{path}: must be a list (got {type(value).__name__})")
    if len(value) < low:
        raise ValueError(f"{path}: at least {low} {plural(noun, low)} (got {len(value)})")
    if high is not None and len(value) > high:
        raise ValueError(f"{path}: at most {high} {plural(noun, high)} (got {len(value)})")
    for index, item in enumerate(value):
        check_instance(f"{path}[{index}]", item, kind)
    return value


def plural(noun: str, count: int) -> str:
    """``noun`` for ``count`` items: "1 button", "3 buttons", "2 addresses"."""
    if count == 1:
        return noun
    return noun + ("es" if noun.endswith("s") else "s")


def check_instance(path: str, value: object, kind: type | tuple[type, ...]) -> None:
    """``value`` is an instance of ``kind``."""
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ValueError(f"{path}: must be {names} (got {type(value).__name__})")


def check_url(path: str, value: object) -> None:
    """An absolute http or https URL."""
    check_text(path, value)
    assert isinstance(value, str)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{path}: must be an http:// or https:// URL (got {value!r})")


def check_choice(path: str, value: object, choices: tuple[str, ...]) -> None:
    """One of a fixed set of strings."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{path}: must be one of {allowed} (got {value!r})")


def check_unique(values: Sequence[tuple[str, str]], what: str) -> None:
    """No value appears twice; ``values`` are ``(path of the value, value)`` pairs."""
    seen: dict[str, str] = {}
    for where, value in values:
        if value in seen:
            raise ValueError(f"{where}: duplicate {what} {value!r} (also at {seen[value]})")
        seen[value] = where


def compact(**fields: Any) -> dict[str, Any]:
    """The fields that are not None, in the order given."""
    return {key: value for key, value in fields.items() if value is not None}
