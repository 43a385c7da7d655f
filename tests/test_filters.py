"""Filters (wahost.filters): each one on real payloads, their combinations and custom filters."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from wahost import Context, Wahost
from wahost import filters as F
from wahost.filters.base import Filter
from wahost.models import CallEvent, FlowEvent, TemplateQualityUpdate, decode_unit
from wahost.testing import make_config
from wahost.testing.harness import FIXTURES as SHIPPED
from wahost.testing.payloads import (
    make_interactive_reply,
    make_message,
    make_status,
    make_text,
)
from wahost.units import split

#: This suite's own payloads (``router/...``); the rest are the Cloud API fixtures wahost ships.
FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name: str) -> Path:
    return FIXTURES / name if name.startswith("router/") else SHIPPED / name


@pytest.fixture
def host(tmp_path: Path) -> Wahost:
    return Wahost(make_config(tmp_path), load_entrypoints=False)


def update_of(host: Wahost, payload: Mapping[str, Any] | str) -> tuple[Any, Context]:
    """The decoded update of a one-update webhook (a payload or a fixture path) and its ctx."""
    if isinstance(payload, str):
        body = json.dumps(json.loads(_fixture(payload).read_text())).encode()
    else:
        body = json.dumps(payload).encode()
    [unit] = split(body)
    ctx = Context(host, unit)
    update = decode_unit(unit)
    ctx.update = update
    return update, ctx


async def check(flt: Filter, update: Any, ctx: Context) -> Any:
    result = flt.check(update, ctx)
    return await result if flt.is_async else result


async def matches(flt: Filter, update: Any, ctx: Context) -> bool:
    result = await check(flt, update, ctx)
    return result is not None and result is not False


# -- every message filter against every kind of message ----------------------------------------

MESSAGE_FILTERS: dict[str, Filter] = {
    "text": F.text,
    "command": F.command,
    "image": F.image,
    "video": F.video,
    "audio": F.audio,
    "voice": F.voice,
    "document": F.document,
    "sticker": F.sticker,
    "media": F.media,
    "location": F.location,
    "contacts": F.contacts,
    "reaction": F.reaction,
    "order": F.order,
    "system": F.system,
    "unsupported": F.unsupported,
    "request_welcome": F.request_welcome,
    "edit": F.edit,
    "revoke": F.revoke,
    "reply": F.reply,
    "flow_completed": F.flow_completed,
    "group": F.group,
    "private": F.private,
}

EXPECTED = {
    "inbound_text.json": {"text"},
    "inbound_image.json": {"image", "media"},
    "inbound_video.json": {"video", "media"},
    "inbound_audio_voice.json": {"audio", "voice", "media"},
    "inbound_audio_file.json": {"audio", "media"},
    "inbound_document.json": {"document", "media"},
    "inbound_sticker.json": {"sticker", "media"},
    "inbound_location.json": {"location"},
    "inbound_contacts.json": {"contacts"},
    "inbound_reaction.json": {"reaction"},
    "inbound_reaction_removed.json": {"reaction"},
    "inbound_order.json": {"order"},
    "inbound_system.json": {"system"},
    "inbound_unsupported.json": {"unsupported"},
    "inbound_request_welcome.json": {"request_welcome"},
    "inbound_interactive_button_reply.json": {"reply"},
    "inbound_interactive_list_reply.json": {"reply"},
    "inbound_button.json": {"reply"},
    "inbound_interactive_nfm_reply.json": {"flow_completed"},
    "router/inbound_edit.json": {"edit"},
    "router/inbound_revoke.json": {"revoke"},
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
async def test_each_message_filter_matches_its_kind_of_message_only(
    host: Wahost, fixture: str
) -> None:
    update, ctx = update_of(host, fixture)
    found = {name for name, flt in MESSAGE_FILTERS.items() if await matches(flt, update, ctx)}
    assert found == EXPECTED[fixture] | {"private"}


async def test_group_messages_and_statuses_are_told_by_the_raw_payload(host: Wahost) -> None:
    group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    message, ctx = update_of(host, "router/inbound_group_text.json")
    assert await check(F.group, message, ctx) == {"group_id": group}
    assert not await matches(F.private, message, ctx)
    assert await matches(F.text("hello group"), message, ctx)
    status, ctx = update_of(host, "router/status_group_delivered.json")
    assert await check(F.group, status, ctx) == {"group_id": group}
    assert not await matches(F.private, status, ctx)
    status, ctx = update_of(host, make_status("wamid.x", "delivered"))
    assert await matches(F.private, status, ctx)


async def test_a_group_id_of_an_unmodelled_type_is_read_from_its_raw_item(host: Wahost) -> None:
    message, ctx = update_of(host, make_message("poll", {"q": 1}, group_id="G1"))
    assert await check(F.group, message, ctx) == {"group_id": "G1"}


# -- text, commands, regex ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "body", "expected"),
    [
        (F.text("hi"), "hi", True),
        (F.text("hi"), "  hi \n", True),
        (F.text("hi"), "Hi", False),
        (F.text("hi"), "hi there", False),
        (F.text("hi", "hello"), "hello", True),
        (F.text("HI", ignore_case=True), "hi", True),
        (F.text("straße", ignore_case=True), "STRASSE", True),
        (F.text(contains="pizza"), "a large pizza please", True),
        (F.text(contains=["pizza", "pasta"]), "some pasta", True),
        (F.text(contains="Pizza"), "a pizza", False),
        (F.text(contains="Pizza", ignore_case=True), "a PIZZA", True),
        (F.text(startswith="order"), "order 12", True),
        (F.text(startswith=("order", "buy")), "buy 3", True),
        (F.text(startswith="order"), "my order", False),
        (F.text(startswith="/", contains="menu"), "/menu", True),
        (F.text(startswith="/", contains="menu"), "menu /", False),
        (F.text, "anything", True),
    ],
)
async def test_text(host: Wahost, flt: Filter, body: str, expected: bool) -> None:
    message, ctx = update_of(host, make_text(body))
    assert await matches(flt, message, ctx) is expected


def test_text_needs_a_condition_when_called() -> None:
    with pytest.raises(TypeError, match="give texts"):
        F.text()


@pytest.mark.parametrize(
    ("flt", "body", "expected"),
    [
        (F.command("start"), "/start", F.Command("start", "")),
        (F.command("start"), "  /START now please ", F.Command("start", "now please")),
        (F.command("/start"), "/start", F.Command("start", "")),
        (
            F.command("Book", "menu"),
            "/book 4 people\nat 8pm",
            F.Command("Book", "4 people\nat 8pm"),
        ),
        (F.command("start", ignore_case=False), "/START", None),
        (F.command("start"), "/started", None),
        (F.command("start"), "start", None),
        (F.command("start"), "see /start", None),
        (F.command, "/weather Lisbon tomorrow", F.Command("weather", "Lisbon tomorrow")),
        (F.command, "// comment", None),
        (F.command, "/ menu", None),
    ],
)
async def test_command_gives_the_command_with_its_arguments(
    host: Wahost, flt: Filter, body: str, expected: F.Command | None
) -> None:
    message, ctx = update_of(host, make_text(body))
    result = await check(flt, message, ctx)
    if expected is None:
        assert not result
    else:
        assert result == {"command": expected}


def test_command_arguments_split_on_white_space() -> None:
    found = F.parse_command("/order 2  pizzas\tlarge")
    assert found is not None and found.args == ["2", "pizzas", "large"]


async def test_regex_matches_the_whole_text_unless_search(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("order 42"))
    result = await check(F.regex(r"order (\d+)"), message, ctx)
    assert result["match"].group(1) == "42"
    assert not await matches(F.regex(r"order"), message, ctx)
    assert (await check(F.regex(r"\d+", search=True), message, ctx))["match"].group() == "42"
    assert await matches(F.regex("ORDER 42", re.IGNORECASE), message, ctx)
    assert await matches(F.regex(re.compile(r"order \d+")), message, ctx)
    with pytest.raises(ValueError, match="flags"):
        F.regex(re.compile("x"), re.I)
    image, ctx = update_of(host, "inbound_image.json")
    assert not await matches(F.regex(".*"), image, ctx)


# -- answers: reply buttons, list rows, Flows, reactions ---------------------------------------


@pytest.mark.parametrize(
    ("flt", "reply_id", "expected"),
    [
        (F.reply("yes"), "yes", True),
        (F.reply("yes"), "yesno", False),
        (F.reply("pick"), 'pick:["tea",1]', True),
        (F.reply("pick"), "pickle", False),
        (F.reply("a", "b"), "b", True),
        (F.reply, "whatever", True),
        (F.reply("pick", exact=True), "pick", True),
        (F.reply("pick", exact=True), 'pick:["tea",1]', False),
    ],
)
async def test_reply_matches_an_id_or_a_prefix_before_a_colon(
    host: Wahost, flt: Filter, reply_id: str, expected: bool
) -> None:
    for kind in ("button_reply", "list_reply"):
        message, ctx = update_of(host, make_interactive_reply(reply_id, "Title", kind=kind))
        result = await check(flt, message, ctx)
        assert (result == {"reply_id": reply_id}) is expected
        assert bool(result) is expected


async def test_message_type_matches_the_types_named_at_run_time(host: Wahost) -> None:
    image, ctx = update_of(host, "inbound_image.json")
    text, _ = update_of(host, "inbound_text.json")
    either = F.message_type("location", "image")
    assert await matches(either, image, ctx) and not await matches(either, text, ctx)
    assert repr(either) == "F.message_type('image', 'location')"
    assert repr(F.reply("a", exact=True)) == "F.reply('a', exact=True)"
    with pytest.raises(TypeError, match="message type names"):
        F.message_type()


async def test_reply_takes_template_quick_reply_payloads(host: Wahost) -> None:
    message, ctx = update_of(host, "inbound_button.json")
    payload = message.button.payload
    assert await check(F.reply(payload), message, ctx) == {"reply_id": payload}
    text, ctx = update_of(host, make_text("yes"))
    assert not await matches(F.reply("yes"), text, ctx)


def flow_reply(token: str | None) -> dict[str, Any]:
    response = {"answer": "4"} if token is None else {"flow_token": token, "answer": "4"}
    nfm = {"name": "flow", "body": "Sent", "response_json": json.dumps(response)}
    return make_message("interactive", {"type": "nfm_reply", "nfm_reply": nfm}, context="wamid.q")


async def test_flow_completed_by_the_flow_token(host: Wahost) -> None:
    message, ctx = update_of(host, flow_reply("survey:abc123"))
    expected = {"response": {"flow_token": "survey:abc123", "answer": "4"}}
    assert await check(F.flow_completed("survey"), message, ctx) == expected
    assert await check(F.flow_completed, message, ctx) == expected
    assert not await matches(F.flow_completed("surv"), message, ctx)
    exact, ctx = update_of(host, flow_reply("survey"))
    assert await matches(F.flow_completed("survey"), exact, ctx)
    tokenless, ctx = update_of(host, flow_reply(None))
    assert not await matches(F.flow_completed("survey"), tokenless, ctx)
    assert await matches(F.flow_completed, tokenless, ctx)
    with pytest.raises(ValueError, match="no ':'"):
        F.flow_completed("a:b")


async def test_an_interactive_message_without_its_object_matches_nothing(host: Wahost) -> None:
    message, ctx = update_of(host, make_message("interactive", None, errors=[{"code": 131000}]))
    for flt in (F.reply, F.flow_completed, F.reply("x")):
        assert not await matches(flt, message, ctx)


async def test_reaction_with_emoji(host: Wahost) -> None:
    message, ctx = update_of(host, make_message("reaction", {"message_id": "m", "emoji": "👍"}))
    assert await matches(F.reaction("👍", "❤️"), message, ctx)
    assert not await matches(F.reaction("❤️"), message, ctx)
    removed, ctx = update_of(host, "inbound_reaction_removed.json")
    assert await matches(F.reaction, removed, ctx)
    assert not await matches(F.reaction("👍"), removed, ctx)


# -- who, where, state -------------------------------------------------------------------------


async def test_from_users_and_sent_to(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi", sender="16505551234", phone_number_id="111"))
    assert await matches(F.from_users("+16505551234"), message, ctx)
    assert await matches(F.from_users("1", "16505551234"), message, ctx)
    assert not await matches(F.from_users("16505550000"), message, ctx)
    assert await matches(F.sent_to("111"), message, ctx)
    assert not await matches(F.sent_to("222"), message, ctx)
    status, ctx = update_of(host, make_status("wamid.s", "read", phone_number_id="222"))
    assert await matches(F.sent_to("222"), status, ctx)


async def test_state_is_the_conversations_state_name(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("Ada"))
    assert await matches(F.state(None), message, ctx)
    assert not await matches(F.state("ask_name"), message, ctx)
    ctx.state.set("ask_name")
    assert await matches(F.state("ask_name", "ask_age"), message, ctx)
    assert not await matches(F.state(None), message, ctx)


# -- statuses and events -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sent", "delivered", "read", "played", "failed"])
async def test_status_filters(host: Wahost, kind: str) -> None:
    status, ctx = update_of(host, make_status("wamid.s", kind))
    flags = {name: getattr(F, name) for name in ("sent", "delivered", "read", "played", "failed")}
    assert {name for name, flt in flags.items() if await matches(flt, status, ctx)} == {kind}


async def test_failed_with_gives_the_error(host: Wahost) -> None:
    status, ctx = update_of(host, make_status("wamid.s", "failed", errors=131049))
    result = await check(F.failed_with(131026, 131049), status, ctx)
    assert result["error"].code == 131049
    assert not await matches(F.failed_with(131026), status, ctx)
    read, ctx = update_of(host, make_status("wamid.s", "read"))
    assert not await matches(F.failed_with(131049), read, ctx)
    with pytest.raises(TypeError):
        F.failed_with(True)


class Order(msgspec.Struct, tag="order"):
    id: str
    step: str = "confirm"


class Survey(msgspec.Struct, tag="survey"):
    id: str


async def test_tracker_decodes_the_callback_data_into_its_type(host: Wahost) -> None:
    data = msgspec.json.encode(Order("7f3a")).decode()
    status, ctx = update_of(host, make_status("wamid.s", "read", biz_opaque_callback_data=data))
    assert await check(F.tracker(Order), status, ctx) == {"tracker": Order("7f3a")}
    assert not await matches(F.tracker(Survey), status, ctx)  # another tag
    for raw in ("plain text", '{"type":"order"}', "{not json", '{"type":"order","id":5}'):
        status, ctx = update_of(host, make_status("wamid.s", "read", biz_opaque_callback_data=raw))
        assert not await matches(F.tracker(Order), status, ctx)
    with pytest.raises(TypeError):
        F.tracker(dict)  # type: ignore[arg-type]


async def test_event_by_field(host: Wahost) -> None:
    event, ctx = update_of(host, "flow_status_change.json")
    assert await matches(F.event("flows"), event, ctx)
    assert await matches(F.event("account_update", "flows"), event, ctx)
    assert not await matches(F.event("account_update"), event, ctx)


async def test_event_by_typed_value(host: Wahost) -> None:
    def shipped(name: str) -> Any:
        return json.loads((SHIPPED / name).read_text(encoding="utf-8"))

    call, ctx = update_of(host, shipped("pywa_call_connect_user_initiated.json"))
    assert await matches(F.event(CallEvent), call, ctx)
    assert await matches(F.event("flows", CallEvent), call, ctx)
    assert not await matches(F.event(FlowEvent), call, ctx)
    # Meta's sample sends a quality update under the status field: the class still finds it.
    quality, ctx = update_of(host, shipped("meta_message_template_quality_update.json"))
    assert quality.field == "message_template_status_update"
    assert await matches(F.event(TemplateQualityUpdate), quality, ctx)
    assert repr(F.event("flows", CallEvent)) == "F.event('flows', CallEvent)"
    for wrong in ((), ("",), (1,)):
        with pytest.raises(TypeError):
            F.event(*wrong)  # type: ignore[arg-type]


# -- combinations ------------------------------------------------------------------------------


class Spy(Filter):
    """A filter that records its calls and returns a fixed result."""

    def __init__(self, name: str, result: Any) -> None:
        self.name = name
        self.result = result
        self.calls = 0

    def check(self, update: Any, ctx: Context) -> Any:
        self.calls += 1
        return self.result

    def __repr__(self) -> str:
        return self.name


async def test_and_or_not(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi"))
    yes, no = F.text("hi"), F.image
    assert await matches(yes & yes, message, ctx)
    assert not await matches(yes & no, message, ctx)
    assert await matches(no | yes, message, ctx)
    assert not await matches(no | no, message, ctx)
    assert await matches(~no, message, ctx)
    assert not await matches(~yes, message, ctx)
    assert await matches(~~yes, message, ctx)
    assert await matches((no | yes) & ~no, message, ctx)


async def test_values_and_merges_them_right_wins_or_takes_the_side_that_matched(
    host: Wahost,
) -> None:
    message, ctx = update_of(host, make_text("hi"))
    left, right = Spy("left", {"a": 1, "b": 1}), Spy("right", {"b": 2})
    assert await check(left & right, message, ctx) == {"a": 1, "b": 2}
    assert await check(right & left, message, ctx) == {"a": 1, "b": 1}
    assert await check(Spy("no", False) | right | left, message, ctx) == {"b": 2}
    assert await check(~Spy("no", None), message, ctx) is True
    assert await check(Spy("t", True) & Spy("t2", True), message, ctx) is True


async def test_combinations_stop_as_soon_as_the_result_is_known(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi"))
    after_false, after_true = Spy("after_false", True), Spy("after_true", True)
    assert not await matches(Spy("false", False) & after_false, message, ctx)
    assert await matches(Spy("true", True) | after_true, message, ctx)
    assert after_false.calls == after_true.calls == 0


def test_nested_combinations_are_flattened_and_shown() -> None:
    combined = F.image | F.video | F.audio
    assert repr(combined) == "(F.image | F.video | F.audio)"
    assert repr(~F.group & F.text("hi", ignore_case=True)) == (
        "(~F.group & F.text('hi', ignore_case=True))"
    )


def test_filters_of_different_kinds_cannot_be_combined() -> None:
    with pytest.raises(TypeError, match="different kinds"):
        F.text & F.failed
    with pytest.raises(TypeError, match="different kinds"):
        F.image | F.event("flows")
    assert (F.state("x") & F.failed).kinds == {"status"}


def test_a_filter_has_no_truth_value_and_combines_only_with_filters() -> None:
    with pytest.raises(TypeError, match="&, \\| and ~"):
        bool(F.text)
    with pytest.raises(TypeError, match=r"F\.new"):
        F.text & (lambda message: True)  # type: ignore[operator]


# -- custom filters ----------------------------------------------------------------------------


async def test_custom_filters_take_their_arguments_by_name(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi"))
    seen: list[Any] = []

    def everything(message: Any, update: Any, ctx: Context, host: Wahost, state: Any) -> bool:
        seen.extend([message, update, ctx, host, state])
        return True

    assert await check(F.new(everything), message, ctx) is True
    assert seen == [message, message, ctx, host, ctx.state]
    assert await check(F.new(lambda message: message.text.body == "no"), message, ctx) is False
    assert await check(F.new(lambda: 1), message, ctx) is True


async def test_async_custom_filters_and_their_values(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi"))

    async def customer(message: Any) -> Any:
        return {"customer": message.sender} if message.text.body == "hi" else None

    known = F.new(customer, provides=["customer"])
    assert known.is_async and known.provides == {"customer"}
    assert await check(known, message, ctx) == {"customer": message.sender}
    combined = F.text & known & Spy("sync", {"x": 1})
    assert combined.is_async
    assert await check(combined, message, ctx) == {"customer": message.sender, "x": 1}
    assert await check(F.image | known, message, ctx) == {"customer": message.sender}
    assert await check(~known, message, ctx) is False

    class Callable:
        async def __call__(self, message: Any) -> bool:
            return True

    assert F.new(Callable()).is_async


async def test_a_sync_custom_filter_returning_a_coroutine_is_an_error(host: Wahost) -> None:
    message, ctx = update_of(host, make_text("hi"))

    async def later() -> bool:
        return True

    flt = F.new(lambda: later())
    with pytest.raises(TypeError, match="async def"):
        await check(flt, message, ctx)


def test_custom_filter_signatures_are_checked_once_when_made() -> None:
    with pytest.raises(TypeError, match="'mesage'"):
        F.new(lambda mesage: True)
    with pytest.raises(ValueError, match="reserved"):
        F.new(lambda: True, provides=["ctx"])
    with pytest.raises(TypeError, match="by name"):
        F.new(lambda *args: True)
