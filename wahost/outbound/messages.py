"""Text, location, reaction and pin messages."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

from wahost.outbound.base import Outbound, check_optional_text, check_text, compact

__all__ = ["Location", "Pin", "Reaction", "Text"]

TEXT_MAX = 4096
"""The body of a text message (reference/cloudapi.md §6)."""


class Text(Outbound, frozen=True):
    """A text message.

    ``preview_url=True`` asks the WhatsApp client to render a preview of the first http(s) URL in
    the body. It is always sent, ``false`` included, so that the request says what it means;
    Meta treats an omitted ``preview_url`` as false (a plain clickable link).
    """

    type: ClassVar[str] = "text"

    body: str
    """Up to 4096 characters; URLs become links."""

    preview_url: bool = False
    """Render a link preview of the first URL in the body."""

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, TEXT_MAX)
        if not isinstance(self.preview_url, bool):
            raise ValueError(
                f"{path}.preview_url: must be a bool (got {type(self.preview_url).__name__})"
            )

    def content(self) -> dict[str, Any]:
        return {"preview_url": self.preview_url, "body": self.body}


class Location(Outbound, frozen=True):
    """A location pin, in decimal degrees.

    The coordinates are sent as strings (``"37.44216251868683"``): Meta's parameter table for
    location messages types them as String and its example sends strings
    (reference/cloudapi.md §6). The string is Python's shortest ``repr`` of the float, so no
    precision is lost and the same float always gives the same string.
    """

    type: ClassVar[str] = "location"

    latitude: float
    """-90 to 90."""

    longitude: float
    """-180 to 180."""

    name: str | None = None
    """The name of the place, shown above the address."""

    address: str | None = None
    """The address of the place."""

    def _check(self, path: str) -> None:
        check_coordinate(f"{path}.latitude", self.latitude, 90)
        check_coordinate(f"{path}.longitude", self.longitude, 180)
        check_optional_text(f"{path}.name", self.name)
        check_optional_text(f"{path}.address", self.address)

    def content(self) -> dict[str, Any]:
        return compact(
            latitude=repr(float(self.latitude)),
            longitude=repr(float(self.longitude)),
            name=self.name,
            address=self.address,
        )


def check_coordinate(path: str, value: object, bound: int) -> None:
    """A finite number between ``-bound`` and ``bound``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{path}: must be a number (got {type(value).__name__})")
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ValueError(f"{path}: must be between -{bound} and {bound} (got {value!r})")


class Reaction(Outbound, frozen=True):
    """An emoji reaction to a message, or its removal (``emoji=""``, see :meth:`remove`).

    The message reacted to must be at most 30 days old, not deleted and not itself a reaction;
    otherwise Meta accepts the request and reports error 131009 in a status webhook. A reaction
    cannot be sent as a reply (:func:`~wahost.outbound.message_body` refuses ``reply_to``)
    (reference/cloudapi.md §6). Removal with ``""`` is what pywa sends; Meta's text does not
    show it (UNVERIFIED).
    """

    type: ClassVar[str] = "reaction"

    message_id: str
    """The wamid of the message reacted to."""

    emoji: str
    """One emoji, or ``""`` to remove the reaction."""

    @classmethod
    def remove(cls, message_id: str) -> Self:
        """Remove the business's reaction to ``message_id``."""
        return cls(message_id, "")

    def _check(self, path: str) -> None:
        check_text(f"{path}.message_id", self.message_id)
        if not isinstance(self.emoji, str):
            raise ValueError(f"{path}.emoji: must be a string (got {type(self.emoji).__name__})")

    def content(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "emoji": self.emoji}


PIN_DAYS_MAX = 30
"""How long a pin may last, in days (reference/cloudapi.md §12.3)."""


class Pin(Outbound, frozen=True):
    """Pin a message of a group chat for ``expiration_days`` (1 to 30), or unpin it
    (:meth:`unpin`). Only a group takes it (send with ``group=True``), from a group admin; a
    group has at most 3 pinned messages, and a 4th pin unpins the oldest (reference/cloudapi.md
    §12.3)."""

    type: ClassVar[str] = "pin"

    message_id: str
    """The wamid of the message to pin or unpin."""

    expiration_days: int | None = 7
    """Days the pin lasts (1 to 30); ``None`` for an unpin."""

    @classmethod
    def unpin(cls, message_id: str) -> Self:
        """Unpin ``message_id``."""
        return cls(message_id, None)

    def _check(self, path: str) -> None:
        check_text(f"{path}.message_id", self.message_id)
        days = self.expiration_days
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= PIN_DAYS_MAX
        ):
            raise ValueError(f"{path}.expiration_days: 1 to {PIN_DAYS_MAX} days (got {days!r})")

    def content(self) -> dict[str, Any]:
        if self.expiration_days is None:
            return {"type": "unpin", "message_id": self.message_id}
        return {
            "type": "pin",
            "message_id": self.message_id,
            "expiration_days": self.expiration_days,
        }
