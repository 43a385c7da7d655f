"""Phone numbers (reference/cloudapi.md §18.4, §18.5): wahost.account.PhoneNumbersApi
against the fake Graph API over loopback HTTP (the commands: test_account_cli.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost.account import PhoneNumbersApi
from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config

PNID = "106540352242922"
WABA = "102290129340398"


@pytest.fixture
async def numbers(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[PhoneNumbersApi]:
    config = make_config(
        tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}}
    )
    client = GraphClient(config)
    yield PhoneNumbersApi(client, WABA)
    await client.aclose()


async def test_list_and_show_quality_and_limits(
    numbers: PhoneNumbersApi, fake_graph: FakeGraph
) -> None:
    number = fake_graph.add_number(PNID, WABA, "+1 555-010-1234")
    number.quality_rating = "YELLOW"
    fake_graph.add_number("999", "other-waba")
    [listed] = await numbers.list()
    assert (listed.id, listed.display_phone_number, listed.quality_rating) == (
        PNID,
        "+1 555-010-1234",
        "YELLOW",
    )
    shown = await numbers.get()
    assert shown.messaging_limit_tier == "TIER_1K"
    assert shown.throughput == {"level": "STANDARD"}
    assert shown.status == "PENDING"


async def test_register_deregister_and_meta_s_rate_limit(
    numbers: PhoneNumbersApi, fake_graph: FakeGraph
) -> None:
    number = fake_graph.add_number(PNID, WABA)
    await numbers.register("123456", data_localization_region="DE")
    assert fake_graph.requests[-1].json == {
        "messaging_product": "whatsapp",
        "pin": "123456",
        "data_localization_region": "DE",
    }
    assert (number.status, number.data_localization_region) == ("CONNECTED", "DE")
    await numbers.deregister()
    assert number.status == "DISCONNECTED"
    for _ in range(8):
        await numbers.deregister()
    with pytest.raises(GraphError) as limited:  # the 11th in 72 hours
        await numbers.register("123456")
    assert limited.value.code == 133016
    assert len([r for r in fake_graph.requests if r.path.endswith("/register")]) == 2  # no retry


async def test_request_and_verify_a_code(numbers: PhoneNumbersApi, fake_graph: FakeGraph) -> None:
    number = fake_graph.add_number(PNID, WABA)
    await numbers.request_code(method="VOICE", language="es")
    assert fake_graph.requests[-1].params == {"code_method": "VOICE", "language": "es"}
    assert number.pending_code is not None
    with pytest.raises(GraphError) as wrong:
        await numbers.verify_code("000000" if number.pending_code != "000000" else "111111")
    assert wrong.value.code == 136025
    await numbers.verify_code(f"{number.pending_code[:3]}-{number.pending_code[3:]}")
    assert number.code_verification_status == "VERIFIED"


async def test_display_name_goes_to_review(numbers: PhoneNumbersApi, fake_graph: FakeGraph) -> None:
    fake_graph.add_number(PNID, WABA)
    await numbers.set_display_name("  Lucky Shrub  ")
    assert fake_graph.requests[-1].params == {"new_display_name": "Lucky Shrub"}
    shown = await numbers.get(fields=["new_display_name", "new_name_status"])
    assert (shown.new_display_name, shown.new_name_status) == ("Lucky Shrub", "PENDING_REVIEW")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda n: n.register("12345"), "pin: must be 6 digits"),
        (lambda n: n.register("12345a"), "pin: must be 6 digits"),
        (lambda n: n.register("123456", data_localization_region="de"), "2-letter country"),
        (lambda n: n.request_code(method="EMAIL"), "method: must be 'SMS' or 'VOICE'"),
        (lambda n: n.request_code(language="english"), "language: a code such as en"),
        (lambda n: n.verify_code("12a456"), "code: the digits Meta sent"),
        (lambda n: n.set_display_name("  "), "name: must not be empty"),
        (lambda n: n.get(fields=["pin"]), "fields: unknown pin"),
        (lambda n: n.get("../me"), "phone_number_id: '../me' is not a phone number id"),
        (lambda n: PhoneNumbersApi(n.client).list(), r"waba_id: needed .*\[whatsapp\] waba_id"),
    ],
)
async def test_bad_input_fails_before_any_request(
    numbers: PhoneNumbersApi, fake_graph: FakeGraph, call: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await call(numbers)
    assert fake_graph.requests == []
