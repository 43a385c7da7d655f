"""Sends and statuses through a real host and the fake Graph API: trackers round trip, the
unit that sent, out-of-order and duplicate webhooks, races with the send, retention."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import wahost_status
from wahost_status import MessageRecord, StatusUpdate, load_record, tracker
from wahost_status.trackers import registry

from wahost import Context, Message, StatusKind, hookimpl, receipts
from wahost.errors import ReengagementError
from wahost.graph import SentMessage, encode_tracker
from wahost.testing import make_status, make_text, make_webhook
from wahost.testing.payloads import new_wamid


class Order(msgspec.Struct, tag="order", omit_defaults=True):
    id: str
    step: str = "confirm"
    items: list[int] = []


@pytest.fixture(autouse=True)
def order_type() -> Iterator[None]:
    tracker(Order)
    yield
    registry.unregister(Order)


class Bot:
    """Replies to every text with a tracked message."""

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool:
        await ctx.reply("Confirm your order?", tracker=Order("7f3a9c", items=[1, 2]))
        return True


class Spy:
    def __init__(self) -> None:
        self.calls: list[tuple[StatusUpdate, MessageRecord]] = []

    @hookimpl(optionalhook=True)
    def on_message_status(self, status: StatusUpdate, record: MessageRecord) -> None:
        self.calls.append((status, record))


async def test_tracker_round_trip_through_the_fake_graph_api(
    wahost_app: Any, fake_graph: Any
) -> None:
    spy = Spy()
    inbound = make_text("hi")
    async with wahost_app(plugins=[wahost_status, Bot(), spy]) as bot:
        await bot.post(inbound)
        await bot.idle()
        [sent] = fake_graph.sent
        data = sent["biz_opaque_callback_data"]
        # The outbox's send token travels in front of the tracker (wahost.receipts).
        token, own = receipts.parse(data)
        assert token is not None and own is not None
        assert msgspec.json.decode(own) == {"type": "order", "id": "7f3a9c", "items": [1, 2]}
        # What the host recorded when Meta accepted it.
        record = await load_record(bot.host.state.kv_get, sent["wamid"])
        assert record is not None and record.status is None
        inbound_wamid = inbound["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        assert record.send.unit == f"msg:{inbound_wamid}"
        assert record.send.tracker == own
        assert record.tracker == Order("7f3a9c", items=[1, 2])
        # Meta echoes the data in the statuses.
        for kind in ("sent", "delivered"):
            await bot.post(make_status(sent["wamid"], kind, biz_opaque_callback_data=data))
        await bot.idle()
    [(first, _), (second, record)] = spy.calls
    assert first.status is StatusKind.SENT and second.status is StatusKind.DELIVERED
    assert isinstance(second.tracker, Order) and second.tracker == Order("7f3a9c", items=[1, 2])
    assert record.send is not None and record.send.to == "16505551234"
    assert record.tracker == Order("7f3a9c", items=[1, 2])


async def test_host_send_is_recorded_without_a_unit(wahost_app: Any, fake_graph: Any) -> None:
    async with wahost_app(plugins=[wahost_status]) as bot:
        sent = await bot.host.send("16505551234", "hello", tracker="campaign-42")
        record = await load_record(bot.host.state.kv_get, sent.id)
    assert record is not None
    assert record.send.unit is None and record.tracker == "campaign-42"
    assert record.send.phone_number_id == "106540352242922"


def test_tracker_limit_is_checked_when_encoding() -> None:
    assert encode_tracker(Order("x" * 400)) is not None
    with pytest.raises(ValueError, match="at most 512"):
        encode_tracker(Order("x" * 500))


def test_tracker_types_need_a_tag() -> None:
    class Untagged(msgspec.Struct):
        id: str

    class Other(msgspec.Struct, tag="order"):
        x: int

    with pytest.raises(TypeError, match="needs a tag"):
        tracker(Untagged)
    with pytest.raises(ValueError, match="is taken"):
        tracker(Other)
    assert tracker(Order) is Order  # registering again is harmless


@pytest.mark.parametrize(
    "data",
    [
        '{"type":"order","id":5}',  # wrong field type
        '{"type":"order"}',  # missing field
        '{"type":"order","id":"1"',  # not JSON
        '["order"]',
        '{"type":"coupon","id":"1"}',  # unknown tag
        "order-1",
        "",
    ],
)
def test_malformed_tracker_is_kept_raw(data: str) -> None:
    assert wahost_status.decode_tracker(data) == data


async def test_malformed_tracker_on_an_incoming_status(wahost_bot: Any) -> None:
    spy = Spy()
    wamid = new_wamid(outbound=True)
    async with wahost_bot(plugins=[wahost_status, spy]) as bot:
        await bot.post(make_status(wamid, "sent", biz_opaque_callback_data='{"type":"order"}'))
        await bot.idle()
    [(update, record)] = spy.calls
    assert update.tracker == '{"type":"order"}' and record.tracker == '{"type":"order"}'


async def test_out_of_order_and_duplicated_webhooks(wahost_bot: Any) -> None:
    spy = Spy()
    wamid = new_wamid(outbound=True)
    webhooks = [
        make_status(wamid, "read", timestamp=1750000060),
        make_status(wamid, "sent", timestamp=1750000000),
        make_status(wamid, "read", timestamp=1750000060),  # Meta's retry: dropped by the queue
        make_status(wamid, "delivered", timestamp=1750000005),
        make_webhook(
            make_status(wamid, "delivered", timestamp=1750000005),
            make_status(wamid, "sent", timestamp=1750000000),
        ),
    ]
    async with wahost_bot(plugins=[wahost_status, spy]) as bot:
        for webhook in webhooks:
            assert (await bot.post(webhook)).status_code == 200
        await bot.idle()
        record = await load_record(bot.host.state.kv_get, wamid)
    assert [s.status for s, _ in spy.calls] == [StatusKind.READ]  # sent, delivered: not forward
    assert record is not None and record.status is StatusKind.READ
    assert {name: (int(step.at.timestamp()), step.implied) for name, step in record.timeline()} == {
        "sent": (1750000000, False),
        "delivered": (1750000005, False),
        "read": (1750000060, False),
    }


async def test_status_before_its_send_record(wahost_bot: Any) -> None:
    """Meta's webhook can beat the answer to the send: the status creates the record, and the
    send completes it without either overwriting the other."""
    wamid = new_wamid(outbound=True)
    async with wahost_bot(plugins=[wahost_status]) as bot:
        await bot.post(make_status(wamid, "delivered", biz_opaque_callback_data="t-1"))
        await bot.idle()
        early = await load_record(bot.host.state.kv_get, wamid)
        # Meta's answer to the send arrives now.
        sent = SentMessage(
            id=wamid, to="16505551234", phone_number_id="106540352242922", callback_data="t-1"
        )
        await bot.host.dispatch.broadcast("on_message_sent", sent=sent, ctx=None)
        late = await load_record(bot.host.state.kv_get, wamid)
        await bot.post(make_status(wamid, "read", biz_opaque_callback_data="t-1"))
        await bot.idle()
        final = await load_record(bot.host.state.kv_get, wamid)
    assert early is not None and early.send is None and early.status is StatusKind.DELIVERED
    assert early.tracker == "t-1" and early.recipient == "16505551234"
    assert late is not None and late.send is not None and late.status is StatusKind.DELIVERED
    assert final is not None and final.send == late.send and final.status is StatusKind.READ


async def test_failed_status_with_error(wahost_bot: Any) -> None:
    spy = Spy()
    wamid = new_wamid(outbound=True)
    async with wahost_bot(plugins=[wahost_status, spy]) as bot:
        await bot.post(make_status(wamid, "sent"))
        await bot.post(make_status(wamid, "failed", errors=131047))
        await bot.post(make_status(wamid, "delivered"))  # after failed: terminal
        await bot.idle()
        record = await load_record(bot.host.state.kv_get, wamid)
    assert [s.status for s, _ in spy.calls] == [StatusKind.SENT, StatusKind.FAILED]
    failed, _ = spy.calls[1]
    assert isinstance(failed.error, ReengagementError) and failed.error.code == 131047
    assert record is not None and record.status is StatusKind.FAILED
    assert isinstance(record.error, ReengagementError)


async def test_a_failing_hook_retries_the_unit_without_applying_twice(wahost_bot: Any) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        @hookimpl(optionalhook=True)
        def on_message_status(self) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("downstream unavailable")

    flaky = Flaky()
    wamid = new_wamid(outbound=True)
    async with wahost_bot(plugins=[wahost_status, flaky]) as bot:
        await bot.post(make_status(wamid, "sent"))
        await bot.idle()
        record = await load_record(bot.host.state.kv_get, wamid)
        events = await bot.host.state.kv_scan("wahost-status", "e:")
    assert flaky.calls == 2  # retried, and the retry saw the same transition
    assert record is not None and record.status is StatusKind.SENT
    assert [key.rsplit(":", 1)[1] for key, _ in events].count("sent") == 1


async def test_records_expire_after_the_retention(wahost_app: Any, fake_graph: Any) -> None:
    config = {"plugins": {"status": {"retention": 1.0}}}
    async with wahost_app(plugins=[wahost_status], config=config) as bot:
        sent = await bot.host.send("16505551234", "hi")
        await bot.post(make_status(sent.id, "sent"))
        await bot.idle()
        assert await load_record(bot.host.state.kv_get, sent.id) is not None
        await asyncio.sleep(1.1)
        assert await load_record(bot.host.state.kv_get, sent.id) is None
        assert await bot.host.state.kv_scan("wahost-status") == []


async def test_a_store_failure_never_makes_a_send_look_failed(
    wahost_app: Any, fake_graph: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wahost_app(plugins=[wahost_status]) as bot:

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(bot.host.state, "kv_set", broken)
        sent = await bot.host.send("16505551234", "hi")  # does not raise: it was sent
        assert sent.id == fake_graph.sent[0]["wamid"]


def test_the_hook_is_declared_and_documented(tmp_path: Any) -> None:
    from wahost_status import hookspecs

    from wahost.plugins import build_plugin_manager

    pm, _ = build_plugin_manager(plugins=[wahost_status], load_entrypoints=False)
    spec = pm.hook.on_message_status.spec
    assert spec is not None and spec.namespace is hookspecs
    assert spec.argnames == ("host", "status", "record", "ctx")
    doc = hookspecs.on_message_status.__doc__ or ""
    assert "**When:**" in doc and "**Mode:** broadcast" in doc
