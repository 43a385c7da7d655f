"""wahost.units.split: one webhook body into units, routed and keyed, items kept byte for byte."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec
import pytest

from wahost.models import DecodeError, Event, TextMessage, decode_unit
from wahost.testing.harness import FIXTURES
from wahost.units import Unit, UnitBody, conversation_key, split

PNID = "106540352242922"
WABA = "102290129340398"


def webhook_fixtures() -> dict[str, Any]:
    """Every fixture that is a webhook body, found by content."""
    found = {}
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("object") == "whatsapp_business_account":
            found[path.stem] = data
    return found


WEBHOOKS = webhook_fixtures()


def compact(data: Any) -> bytes:
    """As Meta sends it: compact JSON, non-ASCII escaped as \\uXXXX."""
    return json.dumps(data).encode()


def envelope(value: Any, field: str = "messages", **entry: Any) -> bytes:
    return compact(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA, **entry, "changes": [{"value": value, "field": field}]}],
        }
    )


def messages_value(**value: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
        **value,
    }


def stored(unit: Unit) -> UnitBody:
    return msgspec.json.decode(unit.body, type=UnitBody)


def test_the_webhook_fixtures_are_found() -> None:
    assert len(WEBHOOKS) >= 40
    assert "webhook_signature_vectors" not in WEBHOOKS  # mentions the object, is not one


@pytest.mark.parametrize("name", sorted(WEBHOOKS))
def test_every_fixture_splits_into_units_that_keep_the_bytes(name: str) -> None:
    body = compact(WEBHOOKS[name])
    units = split(body)
    assert units
    for unit in units:
        assert isinstance(unit, Unit)
        assert (
            unit.key.split(":")[0]
            == {
                "message": "msg",
                "status": "status",
                "error": "error",
                "event": "event",
            }[unit.kind]
        )
        parts = stored(unit)
        # Nothing is re-encoded: the item is a slice of what Meta sent.
        assert bytes(parts.item) in body
        if parts.metadata:
            assert bytes(parts.metadata) in body
        if parts.contact:
            assert bytes(parts.contact) in body
        if unit.user:
            assert unit.conversation == conversation_key(unit.phone_number_id, unit.user)
        else:
            assert unit.conversation == unit.key
    assert split(body) == units  # deterministic keys: a retried webhook deduplicates


@pytest.mark.parametrize("name", sorted(WEBHOOKS))
def test_pretty_printed_bodies_route_the_same(name: str) -> None:
    compact_units = split(compact(WEBHOOKS[name]))
    pretty_units = split((FIXTURES / f"{name}.json").read_bytes())
    assert [(u.kind, u.phone_number_id, u.user) for u in pretty_units] == [
        (u.kind, u.phone_number_id, u.user) for u in compact_units
    ]
    for pretty, plain in zip(pretty_units, compact_units, strict=True):
        if pretty.kind in ("message", "status"):
            assert pretty.key == plain.key


def test_inbound_text_unit() -> None:
    (unit,) = split(compact(WEBHOOKS["inbound_text"]))
    assert unit.key == "msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert unit.kind == "message"
    assert unit.phone_number_id == PNID
    assert unit.user == "16505551234"
    assert unit.conversation == f"{PNID}:16505551234"
    parts = stored(unit)
    assert parts.field == "messages"
    assert parts.waba_id == WABA
    assert parts.time is None
    assert json.loads(bytes(parts.item))["text"] == {"body": "Does it come in another color?"}
    assert json.loads(bytes(parts.metadata))["phone_number_id"] == PNID
    assert json.loads(bytes(parts.contact)) == {
        "profile": {"name": "Sheena Nelson"},
        "wa_id": "16505551234",
    }


def test_batch_multi_entry_gives_every_update() -> None:
    units = split(compact(WEBHOOKS["batch_multi_entry"]))
    sheena, pablo, lucia = "16505551234", "16505550199", "5511955550123"
    other_pnid = "110200300400501"
    status_wamid = "wamid.HBgLMTY1MDU1NTAxOTkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    assert [(u.key, u.kind, u.phone_number_id, u.user, u.conversation) for u in units] == [
        (
            "msg:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTAxQkIyQ0MzREQ0RUU1RkY2NwA=",
            "message",
            PNID,
            sheena,
            f"{PNID}:{sheena}",
        ),
        (
            "msg:wamid.HBgLMTY1MDU1NTAxOTkVAgASGBQzQTAyQkIzQ0M0REQ1RUU2RkY3OAA=",
            "message",
            PNID,
            pablo,
            f"{PNID}:{pablo}",
        ),
        (
            "msg:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTAzQkI0Q0M1REQ2RUU3RkY4OQA=",
            "message",
            PNID,
            sheena,
            f"{PNID}:{sheena}",
        ),
        (f"status:{status_wamid}:delivered", "status", PNID, pablo, f"{PNID}:{pablo}"),
        (f"status:{status_wamid}:read", "status", PNID, pablo, f"{PNID}:{pablo}"),
        (
            "msg:wamid.HBgNNTUxMTk1NTU1MDEyMxUCABIYFDNBQjlGMDk4N0MxRTI0RDVBNkIzAA==",
            "message",
            other_pnid,
            lucia,
            f"{other_pnid}:{lucia}",
        ),
    ]
    # Each message carries its own sender's contact, and the envelope of its own entry.
    names = [json.loads(bytes(stored(u).contact))["profile"]["name"] for u in units[:3]]
    assert names == ["Sheena Nelson", "Pablo Morales", "Sheena Nelson"]
    assert not stored(units[3]).contact
    last = stored(units[5])
    assert last.waba_id == "109876543210987"
    assert json.loads(bytes(last.item))["interactive"]["button_reply"]["id"] == "confirm_yes"


def test_statuses_key_by_wamid_and_status() -> None:
    (unit,) = split(compact(WEBHOOKS["status_failed"]))
    assert unit.key == "status:wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA:failed"
    assert unit.user == "16505551234"
    assert unit.conversation == f"{PNID}:16505551234"
    assert not stored(unit).contact


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(b"%d:" % len(part))
        h.update(part)
    return h.hexdigest()


def test_value_level_errors_get_their_own_lane() -> None:
    body = compact(WEBHOOKS["webhook_value_errors"])
    (unit,) = split(body)
    item = bytes(stored(unit).item)
    assert unit.kind == "error"
    assert unit.key == f"error:{digest(PNID.encode(), item)}"
    assert (unit.phone_number_id, unit.user, unit.conversation) == (PNID, "", unit.key)
    assert json.loads(item)["code"] == 130429


@pytest.mark.parametrize(
    "name, field",
    [
        ("template_status_update", "message_template_status_update"),
        ("template_status_update_rejected", "message_template_status_update"),
        ("flow_alert", "flows"),
        ("flow_alert_endpoint_error_rate", "flows"),
        ("flow_alert_endpoint_latency", "flows"),
        ("flow_status_change", "flows"),
        ("account_update_violation", "account_update"),
    ],
)
def test_other_fields_become_one_event_each(name: str, field: str) -> None:
    data = WEBHOOKS[name]
    body = compact(data)
    (unit,) = split(body)
    entry = data["entry"][0]
    parts = stored(unit)
    assert unit.kind == "event"
    assert (unit.phone_number_id, unit.user, unit.conversation) == ("", "", unit.key)
    assert parts.field == field
    assert parts.waba_id == entry["id"]
    assert parts.time == entry["time"]
    assert json.loads(bytes(parts.item)) == entry["changes"][0]["value"]
    expected = digest(
        field.encode(), entry["id"].encode(), str(entry["time"]).encode(), bytes(parts.item)
    )
    assert unit.key == f"event:{expected}"


def test_event_keys_differ_by_entry_time() -> None:
    value = {"event": "APPROVED", "message_template_id": 1}
    field = "message_template_status_update"
    first = split(envelope(value, field, time=1751247548))
    again = split(envelope(value, field, time=1751247548))
    later = split(envelope(value, field, time=1751247549))
    assert first == again
    assert first[0].key != later[0].key


def test_event_with_metadata_routes_to_its_number() -> None:
    value = {"metadata": {"phone_number_id": PNID}, "event": "x"}
    (unit,) = split(envelope(value, "smb_message_echoes"))
    assert (unit.kind, unit.phone_number_id, unit.user) == ("event", PNID, "")
    assert json.loads(bytes(stored(unit).metadata)) == {"phone_number_id": PNID}


@pytest.mark.parametrize("value", [5, None, "text", [1, 2], {"metadata": 7}])
def test_unknown_field_with_any_value_is_kept(value: Any) -> None:
    (unit,) = split(envelope(value, "brand_new_field"))
    assert unit.kind == "event"
    assert unit.phone_number_id == ""
    assert json.loads(bytes(stored(unit).item)) == value


@pytest.mark.parametrize(
    "value",
    [
        messages_value(),
        messages_value(messages=[], statuses=[], errors=[]),
        messages_value(messages=None, contacts=[{"wa_id": "1"}]),
        {},
    ],
)
def test_an_empty_messages_change_becomes_one_event(value: dict[str, Any]) -> None:
    (unit,) = split(envelope(value))
    assert unit.kind == "event"
    assert stored(unit).field == "messages"
    assert unit.phone_number_id == (PNID if "metadata" in value else "")


def text(wamid: str | None = "wamid.A", **fields: Any) -> dict[str, Any]:
    message = {"timestamp": "1750000000", "type": "text", "text": {"body": "hi"}, **fields}
    if wamid is not None:
        message["id"] = wamid
    return message


def test_message_without_contacts() -> None:
    (unit,) = split(envelope(messages_value(messages=[text(**{"from": "123"})])))
    assert unit.user == "123"
    assert not stored(unit).contact


def test_missing_from_uses_the_contacts_user_id() -> None:
    contact = {"profile": {"name": "A", "username": "@a"}, "user_id": "US.1", "wa_id": None}
    value = messages_value(contacts=[contact], messages=[text()])
    (unit,) = split(envelope(value))
    assert unit.user == "US.1"
    assert unit.conversation == f"{PNID}:US.1"
    assert json.loads(bytes(stored(unit).contact))["user_id"] == "US.1"


@pytest.mark.parametrize("key", ["from_user_id", "user_id"])
def test_missing_from_uses_the_messages_user_id_and_matches_its_contact(key: str) -> None:
    contacts = [{"user_id": "US.9", "profile": {"name": "B"}}, {"user_id": "US.1"}]
    value = messages_value(contacts=contacts, messages=[text(**{key: "US.1"})])
    (unit,) = split(envelope(value))
    assert unit.user == "US.1"
    assert json.loads(bytes(stored(unit).contact)) == {"user_id": "US.1"}


def test_contacts_are_matched_by_wa_id() -> None:
    contacts = [{"wa_id": "1", "profile": {"name": "One"}}, {"wa_id": "2"}]
    messages = [text("wamid.2", **{"from": "2"}), text("wamid.1", **{"from": "1"})]
    units = split(envelope(messages_value(contacts=contacts, messages=messages)))
    assert [json.loads(bytes(stored(u).contact))["wa_id"] for u in units] == ["2", "1"]


def test_unmatched_sender_among_several_contacts_gets_no_contact() -> None:
    contacts = [{"wa_id": "1"}, {"wa_id": "2"}]
    (unit,) = split(envelope(messages_value(contacts=contacts, messages=[text(**{"from": "3"})])))
    assert unit.user == "3"
    assert not stored(unit).contact


def test_status_recipient_user_id() -> None:
    status = {"id": "wamid.S", "status": "read", "recipient_user_id": "US.7"}
    (unit,) = split(envelope(messages_value(statuses=[status])))
    assert (unit.key, unit.user) == ("status:wamid.S:read", "US.7")


def test_message_without_id_is_keyed_by_its_bytes() -> None:
    body = envelope(messages_value(messages=[text(None, **{"from": "1"})]))
    (unit,) = split(body)
    item = bytes(stored(unit).item)
    assert unit.key == f"msg:sha256:{digest(PNID.encode(), item)}"
    assert unit.user == "1"


def test_status_without_id_or_status_is_keyed_by_its_bytes() -> None:
    statuses = [{"status": "sent", "recipient_id": "1"}, {"id": "wamid.X", "recipient_id": "1"}]
    units = split(envelope(messages_value(statuses=statuses)))
    assert [u.key.startswith("status:sha256:") for u in units] == [True, True]
    assert units[0].key != units[1].key


@pytest.mark.parametrize("item", [42, "x", None, [1], {"id": 5, "from": ["1"]}])
def test_unreadable_items_are_kept_in_a_lane_of_their_own(item: Any) -> None:
    value = messages_value(messages=[item, text(**{"from": "1"})], statuses=[item])
    units = split(envelope(value))
    assert [u.kind for u in units] == ["message", "message", "status"]
    odd_message, good, odd_status = units
    assert odd_message.key.startswith("msg:sha256:")
    assert odd_message.user == ""
    assert odd_message.conversation == odd_message.key
    assert good.key == "msg:wamid.A"
    assert odd_status.key.startswith("status:sha256:")
    assert json.loads(bytes(stored(odd_message).item)) == item


def test_unknown_fields_and_nulls_are_ignored() -> None:
    value = messages_value(
        contacts=None,
        statuses=None,
        errors=None,
        brand_new=[{"x": 1}],
        messages=[{**text(**{"from": "1"}), "new_field": {"deep": [1, 2]}}],
    )
    body = compact(
        {
            "object": "whatsapp_business_account",
            "new_top_level": True,
            "entry": [
                {"id": WABA, "time": None, "changes": [{"value": value, "field": "messages"}]}
            ],
        }
    )
    (unit,) = split(body)
    assert unit.key == "msg:wamid.A"


def test_entries_without_changes_give_nothing() -> None:
    body = compact({"object": "whatsapp_business_account", "entry": [{"id": WABA}, {}]})
    assert split(body) == []


def test_every_entry_and_change_is_split() -> None:
    def change(n: int) -> dict[str, Any]:
        messages = [text(f"wamid.{n}.{i}", **{"from": str(i)}) for i in range(10)]
        return {"field": "messages", "value": messages_value(messages=messages)}

    body = compact(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": str(e), "changes": [change(e * 10 + c) for c in range(10)]}
                for e in range(10)
            ],
        }
    )
    units = split(body)
    assert len(units) == 1000
    assert len({u.key for u in units}) == 1000


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'{"entry": []}',
        b'{"object": "whatsapp_business_account"}',
        b'{"object": 1, "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b'{"object": "whatsapp_business_account", "entry": [1]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": {}}]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "x"}]}]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]}',
        envelope(None),
        envelope([]),
        envelope({"messages": {}}),
        envelope({"statuses": "x"}),
        envelope({"errors": 1}),
        envelope({"contacts": {}, "messages": [{}]}),
        envelope({"metadata": [], "messages": [{}]}),
        envelope({"metadata": {"phone_number_id": 1}, "messages": [{}]}),
        b'{"object": "\xff", "entry": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"object": "x", "entry": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    ],
)
def test_what_is_not_an_envelope_raises_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        split(body)


@pytest.mark.parametrize(
    ("entry", "waba_id", "time"),
    [
        ({"id": 102290129340398, "time": 1743451903}, "102290129340398", 1743451903),
        ({"id": "102290129340398", "time": "1743451903"}, "102290129340398", 1743451903),
        ({"id": {"x": 1}, "time": "soon"}, "", None),
        ({"id": True, "time": 1.5}, "", None),
    ],
)
def test_odd_entry_id_or_time_never_costs_the_body(
    entry: dict[str, Any], waba_id: str, time: int | None
) -> None:
    message = {"from": "16505551234", "id": "wamid.a", "type": "text", "text": {"body": "hi"}}
    value = {"metadata": {"phone_number_id": "106540352242922"}, "messages": [message]}
    changes = [{"field": "messages", "value": value}, {"field": "security", "value": {}}]
    body = {"object": "whatsapp_business_account", "entry": [{**entry, "changes": changes}]}
    units = split(json.dumps(body).encode())
    assert units[0].key == "msg:wamid.a" and len(units) == 2
    first, second = (decode_unit(unit) for unit in units)
    assert isinstance(first, TextMessage) and first.text.body == "hi"
    assert first.waba_id == waba_id
    assert isinstance(second, Event) and (second.waba_id, second.time) == (waba_id, time)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)
