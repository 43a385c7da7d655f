"""The lifecycle record of one sent message, and how a status updates it.

Statuses arrive out of order and duplicated (reference/cloudapi.md §4, §5), so the record is
built to be *order-independent*: it is a function of the set of statuses received, whatever
their order. That holds because a record is a set of steps (``sent``, ``delivered``, ...),
each the best of every report of that step, where "best" is a fixed total order:

* a step Meta reported beats one only *implied* by a later step (``read`` implies
  ``delivered``: Meta may send ``read`` and never ``delivered``; every step implies ``sent``);
* then the earliest time wins (a ``delivered`` arriving after ``read`` can only make the
  delivered time more precise);
* then the smaller encoding, so that two different reports of one step still agree.

The *status* is derived from the steps and therefore only moves forward: ``failed`` is
terminal, otherwise the furthest of sent < delivered < read < played. ``played`` (first play of
a voice message) implies delivered but not read: users with read receipts off send no ``read``.
A status value wahost does not know (``deleted``) is kept as a step of its raw name but never
moves the status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import msgspec

from wahost.deprecation import moved_names
from wahost.errors import GraphError
from wahost.models import StatusKind
from wahost.models.common import Error
from wahost.models.statuses import Conversation, Pricing
from wahost_status.model import ConversationInfo, PricingInfo, StatusUpdate, graph_error
from wahost_status.trackers import decode_tracker

__all__ = ["MessageRecord", "SendInfo", "Step", "Transition", "apply_status"]

#: Steps that move the status, in order; ``failed`` is terminal.
PROGRESS = (StatusKind.SENT, StatusKind.DELIVERED, StatusKind.READ, StatusKind.PLAYED)
_RANK = {kind.value: rank for rank, kind in enumerate(PROGRESS)}
_ORDER = {**_RANK, StatusKind.FAILED.value: len(PROGRESS)}
#: The steps a reported step implies (reference/cloudapi.md §4: read implies delivered).
IMPLIES: dict[StatusKind, tuple[StatusKind, ...]] = {
    StatusKind.DELIVERED: (StatusKind.SENT,),
    StatusKind.READ: (StatusKind.SENT, StatusKind.DELIVERED),
    StatusKind.PLAYED: (StatusKind.SENT, StatusKind.DELIVERED),
}

_encode = msgspec.json.encode


class Step(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step of the lifecycle: when, whether Meta reported it or a later step implied it,
    and what the report carried (pricing, conversation, errors), as Meta sent them."""

    at: datetime
    implied: bool = False
    pricing: Pricing | None = None
    conversation: Conversation | None = None
    errors: list[Error] = []


class SendInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the host knew when Meta accepted the message (from ``on_message_sent``)."""

    to: str
    phone_number_id: str
    at: datetime
    #: The ``biz_opaque_callback_data`` sent (the encoded tracker).
    tracker: str | None = None
    #: The key of the unit whose handling sent it (``None`` for ``host.send``).
    unit: str | None = None
    wa_id: str | None = None
    ambiguous: bool = False


class MessageRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The lifecycle of one message the business sent.

    ``steps`` maps a step name (a ``StatusKind`` value, or Meta's raw string for unknown
    ones) to its :class:`Step`, in lifecycle order. ``send`` is ``None`` until the send is
    known (a status can arrive before Meta's answer to the send was recorded).
    """

    wamid: str
    recipient: str = ""
    phone_number_id: str = ""
    steps: dict[str, Step] = {}
    #: ``biz_opaque_callback_data`` as echoed by the statuses.
    tracker_raw: str | None = None
    send: SendInfo | None = None

    @property
    def status(self) -> StatusKind | None:
        """The furthest status (``FAILED`` is terminal); ``None`` before any status, and
        ``UNKNOWN`` when only unknown values arrived."""
        if StatusKind.FAILED.value in self.steps:
            return StatusKind.FAILED
        reached = [_RANK[key] for key in self.steps if key in _RANK]
        if reached:
            return PROGRESS[max(reached)]
        return StatusKind.UNKNOWN if self.steps else None

    def timeline(self) -> Iterator[tuple[str, Step]]:
        """The steps in lifecycle order."""
        return iter(self.steps.items())

    def time(self, step: StatusKind | str) -> datetime | None:
        """When ``step`` happened (reported or implied), if it did."""
        found = self.steps.get(str(step))
        return found.at if found is not None else None

    def _latest_first(self) -> Iterator[Step]:
        return reversed(list(self.steps.values()))

    @property
    def pricing(self) -> PricingInfo | None:
        """The pricing of the furthest step that reported one."""
        raw = self.raw_pricing
        return PricingInfo.of(raw) if raw is not None else None

    @property
    def raw_pricing(self) -> Pricing | None:
        return next((s.pricing for s in self._latest_first() if s.pricing is not None), None)

    @property
    def conversation(self) -> ConversationInfo | None:
        """The conversation, its expiration taken from whichever step carried it."""
        found = [s.conversation for s in self._latest_first() if s.conversation is not None]
        if not found:
            return None
        info = ConversationInfo.of(found[0])
        expiration = next((c.expires for c in found if c.expires is not None), None)
        return ConversationInfo(info.id, info.category, expiration)

    @property
    def raw_errors(self) -> list[Error]:
        return [error for step in self.steps.values() for error in step.errors]

    @property
    def errors(self) -> list[GraphError]:
        """The errors reported (on ``failed``), as the Graph client's typed exceptions."""
        return [graph_error(error) for error in self.raw_errors]

    @property
    def error(self) -> GraphError | None:
        errors = self.errors
        return errors[0] if errors else None

    @property
    def tracker(self) -> msgspec.Struct | str | None:
        """The tracker, decoded (see :mod:`wahost_status.trackers`)."""
        raw = self.send.tracker if self.send and self.send.tracker else self.tracker_raw
        return decode_tracker(raw)

    def stored(self) -> MessageRecord:
        """The part a status writes (the send part is stored on its own)."""
        return msgspec.structs.replace(self, send=None)


@dataclass(frozen=True, slots=True)
class Transition:
    """What one status did to a record.

    ``new_steps`` were reached for the first time (reported or implied; each is counted once
    in the statistics); ``forward`` is true when the status moved to a known status (not from
    nothing to ``UNKNOWN``); ``priced`` when the record got its first pricing.
    """

    before: MessageRecord | None
    after: MessageRecord
    new_steps: tuple[str, ...]
    forward: bool
    priced: bool

    @property
    def changed(self) -> bool:
        return self.before is None or self.after.stored() != self.before.stored()


def step_name(update: StatusUpdate) -> str:
    """The step a status reports: its ``StatusKind`` value, or Meta's raw value (``:`` removed,
    it separates parts of storage keys) for values wahost does not know."""
    if update.status is not StatusKind.UNKNOWN:
        return update.status.value
    return update.status_raw.replace(":", "_") or StatusKind.UNKNOWN.value


def _best(a: Step, b: Step) -> Step:
    key_a = (a.implied, a.at, _encode(a))
    key_b = (b.implied, b.at, _encode(b))
    return a if key_a <= key_b else b


def _sort_key(name: str) -> tuple[int, str]:
    return (_ORDER.get(name, len(_ORDER)), name)


def _first(*values: str | None) -> str | None:
    present = [value for value in values if value]
    return min(present) if present else None


def apply_status(record: MessageRecord | None, update: StatusUpdate) -> Transition:
    """The record after ``update``: commutative, associative and idempotent over statuses."""
    before = record or MessageRecord(wamid=update.wamid)
    raw = update.raw
    reported = {
        step_name(update): Step(
            at=update.timestamp,
            pricing=raw.pricing,
            conversation=raw.conversation,
            errors=list(raw.errors),
        )
    }
    for implied in IMPLIES.get(update.status, ()):
        reported.setdefault(implied.value, Step(at=update.timestamp, implied=True))
    steps = dict(before.steps)
    for name, step in reported.items():
        steps[name] = _best(steps[name], step) if name in steps else step
    after = msgspec.structs.replace(
        before,
        recipient=_first(before.recipient, update.recipient) or "",
        phone_number_id=_first(before.phone_number_id, update.phone_number_id) or "",
        steps={name: steps[name] for name in sorted(steps, key=_sort_key)},
        tracker_raw=_first(before.tracker_raw, update.tracker_raw),
    )
    return Transition(
        before=record,
        after=after,
        new_steps=tuple(name for name in after.steps if name not in before.steps),
        forward=after.status != before.status and after.status is not StatusKind.UNKNOWN,
        priced=before.raw_pricing is None and after.raw_pricing is not None,
    )


#: ``apply`` until the next minor release.
__getattr__ = moved_names(__name__, {"apply": "wahost_status.record.apply_status"})
