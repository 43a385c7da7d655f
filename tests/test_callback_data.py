"""CallbackData: typed payloads packed into reply-button and list-row ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest

from wahost import CallbackData, Context, Wahost
from wahost.callback_data import LIST_ROW_ID_MAX, REPLY_BUTTON_ID_MAX
from wahost.models import decode_unit
from wahost.outbound import ListMessage, ReplyButton, ReplyButtons, Row, Section, coerce
from wahost.testing import make_config
from wahost.testing.payloads import make_interactive_reply, make_message, make_text
from wahost.units import split


class Pick(CallbackData, prefix="pick"):
    item: str
    qty: int = 1


class Size(msgspec.Struct):
    name: str
    ml: int


class Rich(CallbackData, prefix="rich.v2"):
    note: str
    sizes: list[Size]
    code: int | None = None


class Positive(CallbackData, prefix="pos"):
    n: Annotated[int, msgspec.Meta(gt=0)]


class Checked(CallbackData, prefix="chk"):
    word: str

    def __post_init__(self) -> None:
        if self.word == "bad":
            raise ValueError("no bad words")


@pytest.mark.parametrize(
    "value",
    [
        Pick(item="tea"),
        Pick("cake", 12),
        Pick('a:b "quoted" \\ ünïcödé ☕', -3),
        Rich("x", [Size("small", 250), Size("large", 500)], 7),
        Rich("", []),
    ],
)
def test_round_trip(value: CallbackData) -> None:
    packed = value.pack()
    assert packed.startswith(type(value).__prefix__ + ":")
    assert type(value).unpack(packed) == value


def test_the_packed_form_is_the_prefix_and_a_json_array() -> None:
    assert Pick(item="tea").pack() == 'pick:["tea",1]'


def test_the_limit_is_checked_when_packed() -> None:
    fits = Pick("x" * (REPLY_BUTTON_ID_MAX - len('pick:["",1]')))
    assert len(fits.pack()) == REPLY_BUTTON_ID_MAX
    with pytest.raises(ValueError, match="Pick: packs into 257 characters, more than the 256"):
        Pick(fits.item + "x").pack()
    with pytest.raises(ValueError, match="more than the 200 of a list row id"):
        fits.pack(limit=LIST_ROW_ID_MAX)


def test_buttons_and_rows_take_callback_data_with_their_own_limits() -> None:
    message = ReplyButtons("What would you like?", [ReplyButton(Pick(item="tea"), "Tea")])
    assert message.buttons[0].id == 'pick:["tea",1]'
    assert message.content()["action"]["buttons"][0]["reply"]["id"] == 'pick:["tea",1]'
    listed = ListMessage("Menu", "Open", [Section(rows=[Row(Pick("cake", 2), "Cake")])])
    assert listed.content()["action"]["sections"][0]["rows"][0]["id"] == 'pick:["cake",2]'
    long = Pick("x" * 220)
    ReplyButton(long, "Long")  # 232 characters: a button id may have them
    with pytest.raises(ValueError, match="200 of a list row id"):
        Row(long, "Long")
    with pytest.raises(ValueError, match="256 of a reply button id"):
        ReplyButton(Pick("x" * 300), "Too long")
    shorthand = coerce(buttons=[(Pick(item="tea"), "Tea"), "No"], body="Tea?")
    assert isinstance(shorthand, ReplyButtons)
    assert [button.id for button in shorthand.buttons] == ['pick:["tea",1]', "No"]


@pytest.mark.parametrize(
    "packed",
    [
        "pick",
        "pick:",
        'pickle:["tea",1]',
        'pick;["tea",1]',
        'other:["tea",1]',
        "pick:[]",
        "pick:[1,1]",
        'pick:["tea","one"]',
        'pick:{"item":"tea"}',
        "pick:not json",
        'pick:["tea",1',
        "pick:" + "[" * 10_000,
        "",
    ],
)
def test_a_payload_that_does_not_decode_is_none_never_an_error(packed: str) -> None:
    assert Pick.unpack(packed) is None


def test_constraints_and_post_init_refuse_values_without_raising() -> None:
    assert Positive.unpack("pos:[3]") == Positive(3)
    assert Positive.unpack("pos:[0]") is None
    assert Checked.unpack('chk:["good"]') == Checked("good")
    assert Checked.unpack('chk:["bad"]') is None


def test_an_id_of_an_older_class_decodes_when_fields_were_added_at_the_end() -> None:
    class Old(CallbackData, prefix="evolve"):
        item: str

    class New(CallbackData, prefix="evolve"):
        item: str
        qty: int = 1

    assert New.unpack(Old("tea").pack()) == New("tea", 1)
    assert Old.unpack(New("tea", 5).pack()) == Old("tea")  # extra trailing values ignored


def test_prefixes_are_required_and_checked() -> None:
    with pytest.raises(TypeError, match='prefix="nameless"'):

        class Nameless(CallbackData):
            x: int

    for bad in ("a:b", "", "white space", "ü"):
        with pytest.raises(ValueError, match="prefix"):

            class Bad(CallbackData, prefix=bad):
                x: int


# -- the filter --------------------------------------------------------------------------------


@pytest.fixture
def host(tmp_path: Path) -> Wahost:
    return Wahost(make_config(tmp_path), load_entrypoints=False)


def message_of(host: Wahost, payload: dict[str, Any]) -> tuple[Any, Context]:
    [unit] = split(json.dumps(payload).encode())
    return decode_unit(unit), Context(host, unit)


async def test_the_filter_matches_and_gives_the_decoded_value(host: Wahost) -> None:
    for kind in ("button_reply", "list_reply"):
        message, ctx = message_of(
            host, make_interactive_reply(Pick("tea", 2).pack(), "T", kind=kind)
        )
        assert Pick.filter().check(message, ctx) == {"data": Pick("tea", 2)}
        assert Pick.filter(item="tea").check(message, ctx) == {"data": Pick("tea", 2)}
        assert Pick.filter(item="tea", qty=2).check(message, ctx) == {"data": Pick("tea", 2)}
        assert not Pick.filter(item="cake").check(message, ctx)
        assert not Rich.filter().check(message, ctx)
    template = make_message("button", {"payload": Pick("cake").pack(), "text": "Cake"})
    message, ctx = message_of(host, template)
    assert Pick.filter().check(message, ctx) == {"data": Pick("cake")}


@pytest.mark.parametrize("reply_id", ['pick:["tea","many"]', "pick:", "pick", "pickle", "tea"])
async def test_the_filter_does_not_match_a_payload_that_does_not_decode(
    host: Wahost, reply_id: str
) -> None:
    message, ctx = message_of(host, make_interactive_reply(reply_id, "T"))
    assert Pick.filter().check(message, ctx) is False


async def test_the_filter_ignores_other_messages(host: Wahost) -> None:
    message, ctx = message_of(host, make_text('pick:["tea",1]'))
    assert Pick.filter().check(message, ctx) is False


def test_the_filter_names_unknown_fields() -> None:
    with pytest.raises(TypeError, match="no field itme; its fields are item, qty"):
        Pick.filter(itme="tea")
    assert repr(Pick.filter(item="tea")) == "Pick.filter(item='tea')"
