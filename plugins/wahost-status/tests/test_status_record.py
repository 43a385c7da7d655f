"""The lifecycle record: statuses in any order and any number of times end in one record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from wahost_status import MessageRecord, parse
from wahost_status.record import Transition, apply_status
from wahost_status.store import plan_status

from wahost import Status, StatusKind
from wahost.errors import GraphError, ReengagementError
from wahost.models.statuses import ConversationCategory, PricingModel, PricingType

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"
T0 = 1750263000


def status(kind: str, ts: int, **fields: Any) -> Status:
    item = {"id": WAMID, "status": kind, "timestamp": str(ts), "recipient_id": "16505551234"}
    item.update(fields)
    return msgspec.convert(item, Status)


PRICING = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}
ERROR = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}


def fold(statuses: list[Status]) -> tuple[MessageRecord | None, list[Transition]]:
    record: MessageRecord | None = None
    transitions = []
    for item in statuses:
        transition = apply_status(record, parse(item))
        transitions.append(transition)
        record = transition.after
    return record, transitions


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_in_order_lifecycle_keeps_every_time() -> None:
    record, transitions = fold(
        [
            status("sent", T0, pricing=PRICING),
            status("delivered", T0 + 5, pricing=PRICING),
            status("read", T0 + 60),
        ]
    )
    assert record is not None
    assert record.status is StatusKind.READ
    assert [name for name, _ in record.timeline()] == ["sent", "delivered", "read"]
    assert record.time("delivered") == at(T0 + 5)
    assert not any(step.implied for _, step in record.timeline())
    assert [t.forward for t in transitions] == [True, True, True]
    assert [t.new_steps for t in transitions] == [("sent",), ("delivered",), ("read",)]
    assert [t.priced for t in transitions] == [True, False, False]
    pricing = record.pricing
    assert pricing is not None
    assert pricing.model is PricingModel.PMP and pricing.type is PricingType.REGULAR
    assert pricing.category is ConversationCategory.MARKETING and pricing.charged


def test_read_without_delivered_implies_it_and_a_late_delivered_only_refines_its_time() -> None:
    record, _ = fold([status("sent", T0), status("read", T0 + 60)])
    assert record is not None
    delivered = record.steps["delivered"]
    assert delivered.implied and delivered.at == at(T0 + 60)
    late = apply_status(record, parse(status("delivered", T0 + 5)))
    assert not late.forward and late.new_steps == ()
    assert late.after.status is StatusKind.READ
    assert late.after.steps["delivered"].at == at(T0 + 5)
    assert not late.after.steps["delivered"].implied


def test_duplicate_changes_nothing() -> None:
    record, _ = fold([status("sent", T0), status("delivered", T0 + 5)])
    again = apply_status(record, parse(status("delivered", T0 + 5)))
    assert not again.changed and not again.forward and again.new_steps == ()


def test_failed_is_terminal_and_typed() -> None:
    record, transitions = fold(
        [status("sent", T0), status("failed", T0 + 3, errors=[ERROR]), status("read", T0 + 9)]
    )
    assert record is not None
    assert record.status is StatusKind.FAILED
    assert [t.forward for t in transitions] == [True, True, False]
    assert isinstance(record.error, ReengagementError)
    assert record.error.code == 131047


def test_played_implies_delivered_not_read() -> None:
    record, _ = fold([status("played", T0)])
    assert record is not None
    assert record.status is StatusKind.PLAYED
    assert {name: step.implied for name, step in record.timeline()} == {
        "sent": True,
        "delivered": True,
        "played": False,
    }


def test_unknown_status_is_kept_but_never_moves_the_status() -> None:
    record, _ = fold([status("deleted", T0)])
    assert record is not None
    assert record.status is StatusKind.UNKNOWN
    assert "deleted" in record.steps
    record2, transitions2 = fold([status("sent", T0), status("deleted", T0 + 1)])
    assert record2 is not None and record2.status is StatusKind.SENT
    assert not transitions2[1].forward


def test_parse_types_everything() -> None:
    update = parse(
        status(
            "sent",
            T0,
            pricing=PRICING,
            conversation={
                "id": "c1",
                "expiration_timestamp": str(T0 + 86400),
                "origin": {"type": "authentication_international"},
            },
            biz_opaque_callback_data="order-1",
        )
    )
    assert update.status is StatusKind.SENT and update.timestamp == at(T0)
    assert update.timestamp.tzinfo is UTC
    assert update.conversation is not None
    assert update.conversation.category is ConversationCategory.AUTHENTICATION_INTERNATIONAL
    assert update.conversation.expiration == at(T0 + 86400)
    assert update.tracker == "order-1" and update.error is None
    odd = parse(
        status(
            "sent",
            T0,
            conversation={"id": "c2", "origin": {"type": "brand_new"}},
            pricing={"pricing_model": "XYZ", "type": "promo", "category": "referral_conversion"},
        )
    )
    assert odd.conversation is not None
    assert odd.conversation.category is ConversationCategory.UNKNOWN
    assert odd.pricing is not None
    assert odd.pricing.model is PricingModel.UNKNOWN and odd.pricing.type is PricingType.UNKNOWN
    assert odd.pricing.category is ConversationCategory.REFERRAL_CONVERSION
    unknown_code = parse(status("failed", T0, errors=[{"code": 131049, "title": "x"}])).error
    assert type(unknown_code) is GraphError and unknown_code.code == 131049


# -- property: any order, any duplicates, one final record ----------------------------------

KINDS = ["sent", "delivered", "read", "played", "failed", "deleted"]


@st.composite
def histories(draw: st.DrawFn) -> list[Status]:
    """The statuses Meta may send for one message: a subset of the kinds, each with its own
    time, pricing and conversation, some reported twice (identical or at another time)."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6, unique=True))
    statuses = []
    for kind in kinds:
        ts = draw(st.integers(T0, T0 + 600))
        fields: dict[str, Any] = {}
        if draw(st.booleans()):
            fields["pricing"] = dict(
                PRICING, category=draw(st.sampled_from(["service", "utility"]))
            )
        if draw(st.booleans()):
            fields["conversation"] = {"id": "c", "origin": {"type": "service"}}
        if kind == "failed":
            fields["errors"] = [ERROR]
        statuses.append(status(kind, ts, **fields))
        if draw(st.booleans()):
            statuses.append(status(kind, draw(st.integers(T0, T0 + 600)), **fields))
    return statuses


@settings(max_examples=200, deadline=None)
@given(history=histories(), data=st.data())
def test_any_order_ends_in_the_same_record(history: list[Status], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(history))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(history), max_size=4))
    first, _ = fold(history)
    second, transitions = fold(repeated)
    assert first == second
    assert msgspec.json.encode(first) == msgspec.json.encode(second)
    # Each step is reached once, so each is counted once in the statistics.
    reached = [name for t in transitions for name in t.new_steps]
    assert second is not None
    assert sorted(reached) == sorted(second.steps)
    assert sum(t.priced for t in transitions) == (1 if second.raw_pricing else 0)
    # The status only moves forward, and the hook fires once per move.
    order = {None: -1, "unknown": -1, "sent": 0, "delivered": 1, "read": 2, "played": 3}
    statuses = [t.after.status for t in transitions]
    for before, after in zip([None, *statuses], statuses, strict=False):
        if before is StatusKind.FAILED:
            assert after is StatusKind.FAILED
        elif after is not StatusKind.FAILED:
            assert order[after and after.value] >= order[before and before.value]
    moves = sum(t.forward for t in transitions)
    assert moves == len(set(statuses) - {StatusKind.UNKNOWN})


@settings(max_examples=100, deadline=None)
@given(history=histories(), data=st.data())
def test_writes_commit_once_per_step(history: list[Status], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(history))
    record = None
    keys: list[str] = []
    for item in shuffled:
        transition, writes = plan_status(
            record, parse(item), at=datetime(2025, 6, 18, tzinfo=UTC), retention=60
        )
        record = transition.after
        keys += [w.key for w in writes if w.key.startswith("e:")]
        assert all(w.ttl == 60 for w in writes)
    assert len(keys) == len(set(keys))
