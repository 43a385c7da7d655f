"""Pull, diff and push against the fake Graph API: request bodies as in Meta's fixtures, only
the fields that differ, nothing when nothing differs."""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from wahost_profile import CommandSpec, ProfileConfig, plan, push, read_live
from wahost_profile.render import changes_text, live_toml

from wahost.config import validate_plugin_settings
from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import TEST_PHONE_NUMBER_ID, FakeGraph, load_fixture, make_config

PNID = TEST_PHONE_NUMBER_ID
AUTOMATION_PATH = f"/v24.0/{PNID}/conversational_automation"
PROFILE_PATH = f"/v24.0/{PNID}/whatsapp_business_profile"


def fixture(name: str) -> Any:
    return json.loads(load_fixture(name))


@pytest.fixture
async def client(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[GraphClient]:
    config = make_config(tmp_path, {"whatsapp": {"graph_url": fake_graph.url}})
    graph = GraphClient(config)
    yield graph
    await graph.aclose()


def settings(**table: Any) -> ProfileConfig:
    return msgspec.convert(table, ProfileConfig)


def posts(graph: FakeGraph) -> list[Any]:
    return [r for r in graph.requests if r.method == "POST"]


def store_live_fixture(graph: FakeGraph) -> dict[str, Any]:
    live: dict[str, Any] = fixture("conversational_automation_get_response.json")[
        "conversational_automation"
    ]
    graph.conversational_automation[PNID] = json.loads(json.dumps(live))
    return live


async def test_push_sends_the_fixture_body_to_a_number_without_settings(
    client: GraphClient, fake_graph: FakeGraph
) -> None:
    request = fixture("conversational_automation_request.json")
    changes = await push(client, PNID, settings(**request))

    [get, post] = fake_graph.requests
    assert (get.method, get.path, get.params) == (
        "GET",
        f"/v24.0/{PNID}",
        {"fields": "conversational_automation"},
    )
    assert (post.method, post.path) == ("POST", AUTOMATION_PATH)
    assert post.json == request
    assert list(post.json) == list(request)  # Meta's field order
    assert post.headers["content-type"] == "application/json"
    assert [change.field for change in changes] == list(request)
    assert fake_graph.conversational_automation[PNID] == request


async def test_push_twice_sends_nothing_the_second_time(
    client: GraphClient, fake_graph: FakeGraph
) -> None:
    desired = settings(
        enable_welcome_message=True,
        prompts=["Book a table", "Opening hours"],
        commands=[{"command_name": "menu", "command_description": "Show the menu"}],
        about="Pizza since 1990",
        websites=["https://pizza.example"],
    )
    assert len(await push(client, PNID, desired)) == 5
    assert len(posts(fake_graph)) == 2
    before = len(fake_graph.requests)

    assert await push(client, PNID, desired) == []
    again = fake_graph.requests[before:]
    assert [r.method for r in again] == ["GET", "GET"]  # read, compare, send nothing


async def test_pull_reads_the_fixture_and_prints_a_table_that_pushes_nothing(
    tmp_path: Path, client: GraphClient, fake_graph: FakeGraph
) -> None:
    live = store_live_fixture(fake_graph)
    fake_graph.business_profiles[PNID] = {
        "messaging_product": "whatsapp",
        "about": "Flights and hotels",
        "websites": ["https://travel.example"],
        "vertical": "TRAVEL",
    }
    pulled = await read_live(client, PNID)
    assert pulled.automation == {
        "enable_welcome_message": True,
        "commands": [CommandSpec(**command) for command in live["commands"]],
        "prompts": live["prompts"],
    }
    profile_get = fake_graph.requests[-1]
    assert profile_get.path == PROFILE_PATH
    assert profile_get.params == {"fields": "about,address,description,email,websites,vertical"}

    text = live_toml(pulled)
    assert "[[plugins.profile.commands]]" in text
    assert "# address is not set" in text
    table = tomllib.loads(text)["plugins"]["profile"]
    assert table["commands"] == live["commands"]
    assert table["prompts"] == live["prompts"]
    assert table["about"] == "Flights and hotels"

    # Pasted into a configuration, the pulled table is valid and already live.
    config = make_config(tmp_path, {"plugins": {"profile": table}})
    desired = validate_plugin_settings(config, {"profile": ProfileConfig})["profile"]
    before = len(fake_graph.requests)
    assert await push(client, PNID, desired) == []
    assert not posts(fake_graph)
    assert len(fake_graph.requests) - before == 2


async def test_pull_of_a_number_without_settings(client: GraphClient) -> None:
    text = live_toml(await read_live(client, PNID))
    table = tomllib.loads(text)["plugins"]["profile"]
    assert table == {"enable_welcome_message": False, "prompts": [], "commands": []}


async def test_only_the_fields_that_differ_are_sent(
    client: GraphClient, fake_graph: FakeGraph
) -> None:
    live = store_live_fixture(fake_graph)
    desired = settings(
        enable_welcome_message=True,
        commands=live["commands"],
        prompts=["Book a flight", "plan a vacation"],
    )
    live_settings = await read_live(client, PNID, profile=False)
    changes = plan(desired, live_settings)
    assert len(changes) == 1
    assert changes_text(changes) == (
        "conversational_automation:\n"
        "  prompts:\n"
        '    - "Find the best hotels in the area"\n'
        '    - "Find deals on rental cars"\n'
        '    + "Book a flight"\n'
        '    + "plan a vacation"\n'
    )

    await push(client, PNID, desired)
    [post] = posts(fake_graph)
    assert post.json == {"prompts": ["Book a flight", "plan a vacation"]}
    assert fake_graph.conversational_automation[PNID]["commands"] == live["commands"]


async def test_keys_left_out_are_not_touched(client: GraphClient, fake_graph: FakeGraph) -> None:
    store_live_fixture(fake_graph)
    await push(client, PNID, settings(about="Flights and hotels"))
    assert all("conversational_automation" not in r.path + r.query for r in fake_graph.requests)
    [post] = posts(fake_graph)
    assert (post.path, post.json) == (
        PROFILE_PATH,
        {"messaging_product": "whatsapp", "about": "Flights and hotels"},
    )
    assert await push(client, PNID, settings()) == []
    assert len(fake_graph.requests) == 2  # nothing managed: nothing read, nothing sent


async def test_empty_values_are_managed(client: GraphClient, fake_graph: FakeGraph) -> None:
    store_live_fixture(fake_graph)
    fake_graph.business_profiles[PNID] = {
        "messaging_product": "whatsapp",
        "address": "1 Main St",
        "websites": ["https://a.example"],
    }
    desired = settings(prompts=[], commands=[], address="", websites=[])
    changes = await push(client, PNID, desired)
    assert [(c.endpoint, c.field) for c in changes] == [
        ("conversational_automation", "commands"),
        ("conversational_automation", "prompts"),
        ("whatsapp_business_profile", "address"),
        ("whatsapp_business_profile", "websites"),
    ]
    automation, profile = posts(fake_graph)
    assert automation.json == {"commands": [], "prompts": []}
    assert profile.json == {"messaging_product": "whatsapp", "address": "", "websites": []}
    assert await push(client, PNID, desired) == []


async def test_a_changed_description_and_the_welcome_flag(
    client: GraphClient, fake_graph: FakeGraph
) -> None:
    store_live_fixture(fake_graph)
    desired = settings(
        enable_welcome_message=False,
        commands=[
            {"command_name": "tickets", "command_description": "Book flight tickets"},
            {"command_name": "hotel", "command_description": "Book a hotel room"},
        ],
    )
    changes = plan(desired, await read_live(client, PNID, profile=False))
    assert changes_text(changes) == (
        "conversational_automation:\n"
        "  enable_welcome_message: true -> false\n"
        "  commands:\n"
        "    - /hotel: Book hotel\n"
        "    + /hotel: Book a hotel room\n"
    )


async def test_a_reordered_list_is_a_change(client: GraphClient, fake_graph: FakeGraph) -> None:
    live = store_live_fixture(fake_graph)
    desired = settings(prompts=list(reversed(live["prompts"])))
    changes = plan(desired, await read_live(client, PNID, profile=False))
    assert "~ reordered" in changes_text(changes)


async def test_a_graph_error_is_raised(client: GraphClient, fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(1, code=100, path_contains="conversational_automation")
    with pytest.raises(GraphError):
        await push(client, PNID, settings(prompts=["Book a table"]))
    assert PNID not in fake_graph.conversational_automation


async def test_a_phone_number_id_that_leaves_its_path_makes_no_request(
    client: GraphClient, fake_graph: FakeGraph
) -> None:
    walk_out = f"../../{PNID}/messages?x="
    with pytest.raises(ValueError, match="phone number id"):
        await push(client, walk_out, settings(enable_welcome_message=True))
    with pytest.raises(ValueError, match="phone number id"):
        await read_live(client, walk_out, automation=True, profile=True)
    assert fake_graph.requests == []
