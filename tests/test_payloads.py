"""wahost.testing.payloads: webhook builders that split and decode like Meta's own payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from wahost import hookimpl
from wahost.models import (
    InteractiveMessage,
    LocationMessage,
    Message,
    Status,
    TextMessage,
    decode_unit,
)
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, BotHarness
from wahost.testing.harness import FIXTURES
from wahost.testing.payloads import (
    DISPLAY_PHONE_NUMBER,
    USER,
    WABA_ID,
    make_interactive_reply,
    make_message,
    make_status,
    make_text,
    make_webhook,
    new_wamid,
    signed_webhook,
)
from wahost.units import Unit, split


def units(payload: dict[str, Any]) -> list[Unit]:
    return split(signed_webhook(payload)[0])


def test_make_text_matches_metas_fixture_shape() -> None:
    fixture = json.loads((FIXTURES / "inbound_text.json").read_text())
    built = make_text(
        "Does it come in another color?",
        wamid=fixture["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
        timestamp="1749416383",
    )
    assert built == fixture


def test_make_text_splits_and_decodes() -> None:
    [unit] = units(make_text("héllo", context="wamid.quoted"))
    message = decode_unit(unit)
    assert isinstance(message, TextMessage)
    assert message.text.body == "héllo"
    assert unit.key == f"msg:{message.id}" and unit.user == USER
    assert (message.phone_number_id, message.display_phone_number, message.waba_id) == (
        TEST_PHONE_NUMBER_ID,
        DISPLAY_PHONE_NUMBER,
        WABA_ID,
    )
    assert message.contact is not None and message.contact.name == "Sheena Nelson"
    assert message.context is not None
    assert (message.context.id, message.context.from_) == ("wamid.quoted", DISPLAY_PHONE_NUMBER)
    assert message.timestamp is not None and str(message.timestamp).isdigit()


def test_wamids_are_unique_and_look_like_metas() -> None:
    wamids = {new_wamid() for _ in range(1000)} | {new_wamid(outbound=True) for _ in range(1000)}
    assert len(wamids) == 2000
    assert all(w.startswith("wamid.HBgL") and len(w) <= 128 for w in wamids)
    first = make_text("a")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    second = make_text("a")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert first != second


def test_interactive_replies_decode() -> None:
    [button] = units(make_interactive_reply("yes", "Yes", context="wamid.asked"))
    message = decode_unit(button)
    assert isinstance(message, InteractiveMessage) and message.interactive is not None
    assert message.interactive.type == "button_reply"
    assert message.interactive.button_reply is not None
    assert (message.interactive.button_reply.id, message.interactive.button_reply.title) == (
        "yes",
        "Yes",
    )
    assert message.context is not None and message.context.id == "wamid.asked"

    [row] = units(make_interactive_reply("x", "Express", kind="list_reply", description="1 day"))
    listed = decode_unit(row)
    assert isinstance(listed, InteractiveMessage) and listed.interactive is not None
    assert listed.interactive.list_reply is not None
    assert listed.interactive.list_reply.description == "1 day"
    assert listed.context is not None and listed.context.id  # Meta always sends one


def test_make_message_is_generic() -> None:
    payload = make_message(
        "location",
        {"latitude": 37.48, "longitude": -122.14, "name": "HQ"},
        sender="4915112345678",
        context={"forwarded": True},
    )
    [unit] = units(payload)
    message = decode_unit(unit)
    assert isinstance(message, LocationMessage)
    assert message.location.name == "HQ" and message.from_ == "4915112345678"
    assert message.context is not None and message.context.forwarded
    assert unit.conversation == f"{TEST_PHONE_NUMBER_ID}:4915112345678"


def test_a_message_without_contacts_or_object() -> None:
    payload = make_message("request_welcome", None, name=None)
    value = payload["entry"][0]["changes"][0]["value"]
    assert "contacts" not in value and "request_welcome" not in value["messages"][0]
    [unit] = units(payload)
    message = decode_unit(unit)
    assert isinstance(message, Message) and message.type == "request_welcome"


def test_make_status_decodes_with_pricing_on_sent_and_delivered_only() -> None:
    for kind, priced in [("sent", True), ("delivered", True), ("read", False)]:
        [unit] = units(make_status("wamid.out", kind, biz_opaque_callback_data="track-1"))
        status = decode_unit(unit)
        assert isinstance(status, Status)
        assert unit.key == f"status:wamid.out:{kind}" and unit.user == USER
        assert status.biz_opaque_callback_data == "track-1"
        assert (status.pricing is not None) == priced
    forced = make_status("w", "read", pricing={"category": "utility"})
    assert forced["entry"][0]["changes"][0]["value"]["statuses"][0]["pricing"] == {
        "category": "utility"
    }
    bare = make_status("w", "sent", pricing=False)
    assert "pricing" not in bare["entry"][0]["changes"][0]["value"]["statuses"][0]


def test_failed_statuses_carry_errors() -> None:
    [default] = units(make_status("w", "failed"))
    [coded] = units(make_status("w", "failed", errors=131049))
    [given] = units(make_status("w", "failed", errors=[{"code": 7, "title": "t"}]))
    codes = []
    for unit in (default, coded, given):
        status = decode_unit(unit)
        assert isinstance(status, Status)
        codes.append([error.code for error in status.errors])
    assert codes == [[131000], [131049], [7]]
    item = make_status("w", "failed", errors=131049)["entry"][0]["changes"][0]["value"]
    fixture = json.loads((FIXTURES / "status_failed.json").read_text())
    expected = fixture["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"]
    assert item["statuses"][0]["errors"][0].keys() == expected[0].keys()


def test_make_webhook_batches_by_phone_number_id_and_kind() -> None:
    a = make_text("one")
    b = make_text("two", sender="16505550000", name="Other")
    c = make_text("three")
    s = make_status("wamid.out", "read")
    other_number = make_text("elsewhere", phone_number_id="999")
    template = json.loads((FIXTURES / "template_status_update.json").read_text())
    inputs = [a, b, c, s, other_number, template]
    before = copy.deepcopy(inputs)

    merged = make_webhook(*inputs)
    assert inputs == before  # not modified
    assert [entry["id"] for entry in merged["entry"]] == [WABA_ID]
    changes = merged["entry"][0]["changes"]
    assert [change["field"] for change in changes] == [
        "messages",
        "messages",
        "messages",
        "message_template_status_update",
    ]
    first = changes[0]["value"]
    assert [m["text"]["body"] for m in first["messages"]] == ["one", "two", "three"]
    assert [contact["wa_id"] for contact in first["contacts"]] == [USER, "16505550000"]
    assert changes[1]["value"]["statuses"][0]["id"] == "wamid.out"
    assert changes[2]["value"]["metadata"]["phone_number_id"] == "999"

    split_units = units(merged)
    assert [unit.kind for unit in split_units] == [
        "message",
        "message",
        "message",
        "status",
        "message",
        "event",
    ]
    decoded = [decode_unit(unit) for unit in split_units]
    names = [m.contact.name for m in decoded[:3] if isinstance(m, TextMessage) and m.contact]
    assert names == ["Sheena Nelson", "Other", "Sheena Nelson"]


def test_make_webhook_of_system_messages_sends_no_contacts() -> None:
    system = make_message("system", {"body": "changed", "type": "user_changed_number"}, name=None)
    merged = make_webhook(system, make_message("system", {"body": "again"}, name=None))
    value = merged["entry"][0]["changes"][0]["value"]
    assert "contacts" not in value and len(value["messages"]) == 2


def test_signed_webhook_is_compact_escaped_and_signed() -> None:
    body, headers = signed_webhook(make_text("äöå 😀"))
    assert body.isascii() and b"\\u00e4\\u00f6\\u00e5" in body and b", " not in body
    expected = hmac.new(TEST_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers == {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={expected}",
    }
    raw = b'{"object":"whatsapp_business_account","entry":[]}'
    same, other = signed_webhook(raw, "another-secret")
    assert same is raw
    assert other["X-Hub-Signature-256"] == (
        "sha256=" + hmac.new(b"another-secret", raw, hashlib.sha256).hexdigest()
    )


async def test_a_running_host_accepts_the_signed_payloads(tmp_path: Path) -> None:
    seen: list[str] = []

    class Recorder:
        @hookimpl
        async def on_message(self, message: Any) -> None:
            seen.append(message.text.body)

    async with BotHarness(tmp_path, plugins=[Recorder()]) as bot:
        assert bot.http is not None
        body, headers = signed_webhook(make_webhook(make_text("one"), make_text("two")))
        response = await bot.http.post(bot.webhook_url, content=body, headers=headers)
        assert response.status_code == 200
        await bot.idle()
    assert seen == ["one", "two"]
