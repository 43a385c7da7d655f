"""Every status fixture, posted signed to a real host: the records and the hook calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
import wahost_status
from wahost_status import MessageRecord, StatusUpdate, load_record

from wahost import Context, StatusKind, Wahost, hookimpl
from wahost.errors import GraphError
from wahost.models.statuses import ConversationCategory, PricingModel, PricingType
from wahost.testing import BotHarness, fixture_names, load_fixture

STATUS_FIXTURES = [name for name in fixture_names() if name.startswith("status_")]


class Spy:
    """Records ``on_message_status`` calls and what other ``on_status`` implementations see."""

    def __init__(self) -> None:
        self.calls: list[tuple[StatusUpdate, MessageRecord]] = []
        self.extras: list[Any] = []

    @hookimpl(optionalhook=True)
    async def on_message_status(
        self, host: Wahost, status: StatusUpdate, record: MessageRecord, ctx: Context
    ) -> None:
        assert ctx.unit.kind == "status"
        self.calls.append((status, record))

    @hookimpl
    async def on_status(self, ctx: Context) -> None:
        self.extras.append(ctx.slots.get(wahost_status.STATUS_UPDATE))


def wamid_of(name: str) -> str:
    data = json.loads(load_fixture(name))
    return str(data["entry"][0]["changes"][0]["value"]["statuses"][0]["id"])


async def test_every_status_fixture_is_covered() -> None:
    assert set(STATUS_FIXTURES) == {
        "status_sent.json",
        "status_delivered.json",
        "status_read.json",
        "status_played.json",
        "status_failed.json",
        "status_with_callback_data.json",
    }


# One host for the module: the fixtures are posted once, each test reads its part.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def posted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    spy = Spy()
    tmp_path = tmp_path_factory.mktemp("status-fixtures")
    async with BotHarness(tmp_path, plugins=[wahost_status, spy]) as bot:
        for name in STATUS_FIXTURES:
            assert (await bot.post_fixture(name)).status_code == 200
        await bot.idle()
        records = {
            name: await load_record(bot.host.state.kv_get, wamid_of(name))
            for name in STATUS_FIXTURES
        }
        yield records, spy


async def test_sent(posted: Any) -> None:
    records, _ = posted
    record = records["status_sent.json"]
    assert record.status is StatusKind.SENT and record.send is None
    assert record.recipient == "16505551234" and record.phone_number_id == "106540352242922"
    assert record.time("sent") == datetime.fromtimestamp(1750030073, UTC)
    pricing = record.pricing
    assert (pricing.model, pricing.type, pricing.category) == (
        PricingModel.PMP,
        PricingType.REGULAR,
        ConversationCategory.MARKETING,
    )
    assert pricing.charged and pricing.billable
    conversation = record.conversation
    assert conversation.id == "72b14d6bd5407799e66f64d1b338e567"
    assert conversation.category is ConversationCategory.MARKETING
    assert conversation.expiration == datetime.fromtimestamp(1750116480, UTC)


async def test_delivered_then_read(posted: Any) -> None:
    records, spy = posted
    record = records["status_read.json"]
    assert record is records["status_delivered.json"] or record == records["status_delivered.json"]
    assert record.status is StatusKind.READ
    assert record.time("delivered") == datetime.fromtimestamp(1750263773, UTC)
    assert record.time("read") == datetime.fromtimestamp(1750263841, UTC)
    assert record.steps["sent"].implied and not record.steps["delivered"].implied
    # CBP-era pricing has no type: the billable flag decides.
    assert record.pricing.model is PricingModel.CBP and record.pricing.charged
    calls = [s.status for s, r in spy.calls if s.wamid == record.wamid]
    assert calls == [StatusKind.DELIVERED, StatusKind.READ]


async def test_played(posted: Any) -> None:
    records, _ = posted
    record = records["status_played.json"]
    assert record.status is StatusKind.PLAYED
    assert record.pricing is None and record.conversation is None


async def test_failed_with_typed_error(posted: Any) -> None:
    records, spy = posted
    record = records["status_failed.json"]
    assert record.status is StatusKind.FAILED
    error = record.error
    assert isinstance(error, GraphError) and error.code == 131049
    assert error.details is not None and "healthy ecosystem" in error.details
    [(update, seen)] = [(s, r) for s, r in spy.calls if s.wamid == record.wamid]
    assert update.error is not None and update.error.code == 131049
    assert seen.status is StatusKind.FAILED


async def test_callback_data_that_is_not_a_struct_stays_raw(posted: Any) -> None:
    records, spy = posted
    record = records["status_with_callback_data.json"]
    assert record.tracker == "order-7f3a9c;flow=checkout;step=confirm"
    assert record.pricing.category is ConversationCategory.UTILITY
    [update] = [s for s, _ in spy.calls if s.wamid == record.wamid]
    assert update.tracker == "order-7f3a9c;flow=checkout;step=confirm"


async def test_each_forward_transition_calls_the_hook_once(posted: Any) -> None:
    _, spy = posted
    assert len(spy.calls) == len(STATUS_FIXTURES)  # every fixture moves its message forward
    # Other plugins' on_status see the typed status (wahost-status runs first).
    assert len(spy.extras) == len(STATUS_FIXTURES)
    assert all(isinstance(extra, StatusUpdate) for extra in spy.extras)
