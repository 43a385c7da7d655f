"""Typed seams between plugins: slots on the host and on a unit's context, and
``host.plugin_config(name, Schema)``; the deprecated dicts they replace still work and warn."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from wahost import Context, SlotKey, Wahost, hookimpl
from wahost.testing import make_text
from wahost.testing.harness import make_config
from wahost.units import split

COUNTER: SlotKey[int] = SlotKey("test_slots.counter")
FOUND: SlotKey[str] = SlotKey("test_slots.found")


class LoyaltyConfig(msgspec.Struct, forbid_unknown_fields=True):
    points: int = 10


class OtherConfig(msgspec.Struct):
    pass


class Loyalty:
    __name__ = "loyalty"

    @hookimpl
    def wahost_config_schema(self) -> dict[str, type[msgspec.Struct]]:
        return {"loyalty": LoyaltyConfig}


def _host(tmp_path: Path, **overrides: dict[str, object]) -> Wahost:
    return Wahost(make_config(tmp_path, overrides), plugins=[Loyalty()], load_entrypoints=False)


def _ctx(host: Wahost) -> Context:
    [unit] = split(json.dumps(make_text("hello")).encode())
    return Context(host, unit)


def test_a_slot_holds_a_value_per_host_and_per_unit(tmp_path: Path) -> None:
    host, other = _host(tmp_path), _host(tmp_path)
    assert COUNTER not in host.slots and host.slots.get(COUNTER) is None
    with pytest.raises(KeyError, match=r"test_slots\.counter"):
        host.slots[COUNTER]
    host.slots[COUNTER] = 1
    assert host.slots[COUNTER] == 1 and other.slots.get(COUNTER, 0) == 0
    assert host.slots.setdefault(COUNTER, lambda: 5) == 1
    assert other.slots.setdefault(COUNTER, lambda: 5) == 5
    first, second = _ctx(host), _ctx(host)
    first.slots[FOUND] = "command"
    assert second.slots.get(FOUND) is None and host.slots.get(FOUND) is None
    assert first.slots.pop(FOUND) == "command" and FOUND not in first.slots


def test_two_keys_of_one_name_are_two_slots(tmp_path: Path) -> None:
    host = _host(tmp_path)
    mine: SlotKey[int] = SlotKey("test_slots.shared_name")
    theirs: SlotKey[int] = SlotKey("test_slots.shared_name")
    host.slots[mine] = 1
    assert theirs not in host.slots  # only the holder of a key reaches its slot


def test_plugin_config_with_its_schema_is_typed_and_checked(tmp_path: Path) -> None:
    host = _host(tmp_path, plugins={"loyalty": {"points": 3}})
    settings = host.plugin_config("loyalty", LoyaltyConfig)
    assert settings == LoyaltyConfig(points=3)
    assert host.plugin_config("loyalty") is settings
    with pytest.raises(TypeError, match=r"\[plugins.loyalty\] is a LoyaltyConfig, not a"):
        host.plugin_config("loyalty", OtherConfig)
    with pytest.raises(KeyError, match=r"\[plugins.missing\]"):
        host.plugin_config("missing", LoyaltyConfig)


def test_host_resources_still_reach_the_slots_by_name_and_warn(tmp_path: Path) -> None:
    host = _host(tmp_path)
    host.slots[COUNTER] = 7
    with pytest.warns(DeprecationWarning, match=r"host\.resources is deprecated.*slots"):
        resources = host.resources
    assert resources["test_slots.counter"] == 7 and resources[COUNTER] == 7
    resources["test_slots.counter"] = 8
    resources["third.party"] = "kept"
    assert host.slots[COUNTER] == 8
    assert resources.get("third.party") == "kept" and "missing" not in resources
    assert sorted(resources) == ["test_slots.counter", "third.party"]


def test_ctx_extras_still_reach_the_slots_by_name_and_warn(tmp_path: Path) -> None:
    ctx = _ctx(_host(tmp_path))
    ctx.slots[FOUND] = "command"
    with pytest.warns(DeprecationWarning, match=r"ctx\.extras is deprecated"):
        assert ctx.extras.get("test_slots.found") == "command"
    with pytest.warns(DeprecationWarning):
        ctx.extras["test_slots.found"] = "changed"
    assert ctx.slots[FOUND] == "changed"
