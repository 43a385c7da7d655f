"""A status as a typed value: :class:`StatusUpdate`, built from the core's ``Status``.

The core model (``wahost.models.Status``) keeps Meta's payload as sent, with enum properties.
:func:`parse` turns it into what a plugin wants to reason about: an aware UTC timestamp, the
conversation and pricing with enum members, the errors as the Graph client's typed exceptions
(:mod:`wahost.errors`) and the tracker decoded into its struct (:mod:`wahost_status.trackers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from wahost.errors import FAMILIES, GraphError
from wahost.models import Status, StatusKind
from wahost.models.common import Error
from wahost.models.statuses import (
    Conversation,
    ConversationCategory,
    Pricing,
    PricingModel,
    PricingType,
)
from wahost_status.trackers import decode_tracker

__all__ = [
    "ConversationInfo",
    "PricingInfo",
    "StatusUpdate",
    "graph_error",
    "is_billable",
    "parse",
]

_FAMILY_BY_CODE: dict[int, type[GraphError]] = {
    code: family for family in FAMILIES for code in family.codes
}


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """``statuses[].conversation`` (left out by v24.0+ webhooks outside free-entry-point
    windows; ``expiration`` comes with ``sent`` only)."""

    id: str | None
    category: ConversationCategory
    expiration: datetime | None

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationInfo:
        return cls(conversation.id, conversation.category, conversation.expires)


@dataclass(frozen=True, slots=True)
class PricingInfo:
    """``statuses[].pricing``. ``billable`` is Meta's flag (being deprecated); prefer
    :attr:`charged`, which reads ``type`` when Meta sent one."""

    billable: bool | None
    model: PricingModel
    type: PricingType
    category: ConversationCategory

    @classmethod
    def of(cls, pricing: Pricing) -> PricingInfo:
        return cls(pricing.billable, pricing.pricing_model, pricing.type, pricing.category)

    @property
    def charged(self) -> bool:
        """Whether the message is charged: ``type == regular`` when Meta sent a type (PMP),
        else the ``billable`` flag (CBP-era webhooks)."""
        if self.type is not PricingType.UNKNOWN:
            return self.type is PricingType.REGULAR
        return bool(self.billable)


def is_billable(pricing: Pricing) -> bool:
    """:attr:`PricingInfo.charged` of a raw ``Pricing``."""
    return PricingInfo.of(pricing).charged


def graph_error(error: Error) -> GraphError:
    """A status error as the Graph client's typed exception for its code (``GraphError``
    itself for codes outside the client's families, e.g. 131049)."""
    family = _FAMILY_BY_CODE.get(error.code, GraphError)
    return family(
        error.title or error.message or f"error {error.code}",
        code=error.code,
        details=error.details,
    )


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One status of a message the business sent, typed.

    ``status`` is ``StatusKind.UNKNOWN`` for a value this version does not know (Meta's
    ``deleted``, future values); ``status_raw`` is what Meta sent. ``timestamp`` is Meta's
    time, or the time it was read when Meta sent none. ``tracker`` is the decoded
    ``biz_opaque_callback_data``: the registered struct, the raw string, or ``None``.
    """

    wamid: str
    status: StatusKind
    status_raw: str
    timestamp: datetime
    recipient: str
    phone_number_id: str
    conversation: ConversationInfo | None
    pricing: PricingInfo | None
    errors: tuple[GraphError, ...]
    tracker: msgspec.Struct | str | None
    tracker_raw: str | None
    raw: Status

    @property
    def error(self) -> GraphError | None:
        """The first error (``failed`` statuses carry one)."""
        return self.errors[0] if self.errors else None


def parse(status: Status) -> StatusUpdate:
    """The typed value of a core ``Status``; never raises for what Meta may send."""
    return StatusUpdate(
        wamid=status.id,
        status=status.status,
        status_raw=status.status_raw,
        timestamp=status.time or datetime.now(UTC),
        recipient=status.recipient,
        phone_number_id=status.phone_number_id,
        conversation=ConversationInfo.of(status.conversation) if status.conversation else None,
        pricing=PricingInfo.of(status.pricing) if status.pricing else None,
        errors=tuple(graph_error(error) for error in status.errors),
        tracker=decode_tracker(status.biz_opaque_callback_data),
        tracker_raw=status.biz_opaque_callback_data,
        raw=status,
    )
