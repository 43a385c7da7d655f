"""Mutated real webhooks: split and decode_unit raise nothing but DecodeError, and reading any
property of a decoded model never raises."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wahost.models import MESSAGE_TYPES, DecodeError, decode_unit
from wahost.testing.harness import FIXTURES
from wahost.units import split


def webhook_fixtures() -> list[Any]:
    """Every fixture that is a webhook body, found by content."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("object") == "whatsapp_business_account":
            found.append(data)
    return found


WEBHOOKS = webhook_fixtures()

# Keys that matter to routing and decoding, so that mutations hit them often.
KEYS = sorted(
    {"object", "entry", "id", "time", "changes", "field", "value", "metadata", "contacts"}
    | {"messages", "statuses", "errors", "from", "from_user_id", "user_id", "wa_id", "type"}
    | {"status", "recipient_id", "timestamp", "context", "referral", "raw", "contact", "emoji"}
    | {"interactive", "nfm_reply", "response_json", "pricing", "conversation", "origin"}
    | {"phone_number_id", "event", "message_template_id", "error_data", "code"}
    | set(MESSAGE_TYPES)
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(KEYS)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def containers(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every dict and list in ``doc``."""
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        found.append(path)
        for key, child in doc.items():
            found.extend(containers(child, (*path, key)))
    elif isinstance(doc, list):
        found.append(path)
        for index, child in enumerate(doc):
            found.extend(containers(child, (*path, index)))
    return found


def at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated_webhooks(draw: st.DrawFn) -> bytes:
    doc = copy.deepcopy(draw(st.sampled_from(WEBHOOKS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        target = at(doc, draw(st.sampled_from(containers(doc))))
        action = draw(st.sampled_from(["drop", "replace", "insert", "duplicate"]))
        if isinstance(target, dict):
            if action == "insert" or not target:
                target[draw(st.sampled_from(KEYS))] = draw(json_values)
                continue
            key = draw(st.sampled_from(sorted(target)))
            if action == "drop":
                del target[key]
            elif action == "replace":
                target[key] = draw(json_values)
            else:
                target[key] = [target[key], copy.deepcopy(target[key])]
        else:
            if action == "insert" or not target:
                target.insert(draw(st.integers(0, len(target))), draw(json_values))
                continue
            index = draw(st.integers(0, len(target) - 1))
            if action == "drop":
                del target[index]
            elif action == "replace":
                target[index] = draw(json_values)
            else:
                target.insert(index, copy.deepcopy(target[index]))
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def corrupted_bytes(draw: st.DrawFn) -> bytes:
    body = bytearray(json.dumps(draw(st.sampled_from(WEBHOOKS))).encode())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(0, len(body)))
        junk = draw(st.binary(min_size=0, max_size=4))
        body[position : position + draw(st.integers(0, 4))] = junk
    return bytes(body)


def touch(obj: Any, depth: int = 0) -> None:
    """Read every field and property of a decoded model, recursively."""
    if depth > 20:
        return
    if isinstance(obj, msgspec.Struct):
        for name in obj.__struct_fields__:
            touch(getattr(obj, name), depth + 1)
        for cls in type(obj).__mro__:
            for name, member in vars(cls).items():
                if isinstance(member, property):
                    touch(getattr(obj, name), depth + 1)
    elif isinstance(obj, list):
        for item in obj:
            touch(item, depth + 1)


def split_and_decode(body: bytes) -> None:
    try:
        units = split(body)
    except DecodeError:
        return
    for unit in units:
        assert unit.key and unit.conversation
        try:
            update = decode_unit(unit)
        except DecodeError:
            continue
        touch(update)


FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(mutated_webhooks())
def test_mutated_webhooks_raise_only_decode_error(body: bytes) -> None:
    split_and_decode(body)


@FAST
@given(corrupted_bytes())
def test_corrupted_bytes_raise_only_decode_error(body: bytes) -> None:
    split_and_decode(body)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_input_raises_only_decode_error(body: bytes) -> None:
    split_and_decode(body)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(WEBHOOKS), st.integers(min_value=1, max_value=50))
def test_duplicated_items_all_become_units(doc: Any, times: int) -> None:
    doc = copy.deepcopy(doc)
    change = doc["entry"][0]["changes"][0]
    assume(change["field"] == "messages")
    value = change["value"]
    plain = len(split(json.dumps(doc).encode()))
    items = 0
    for key in ("messages", "statuses", "errors"):
        if isinstance(value.get(key), list):
            items += len(value[key])
            value[key] = value[key] * times
    units = split(json.dumps(doc).encode())
    assert len(units) == plain + items * (times - 1)
    for unit in units:
        touch(decode_unit(unit))
