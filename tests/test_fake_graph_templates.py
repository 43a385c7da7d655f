"""The fake Graph API's message templates management (reference/cloudapi.md §15.1), through a
real GraphClient over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config

WABA = "102290129340398"
PATH = f"/{WABA}/message_templates"


@pytest.fixture
async def client(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[GraphClient]:
    config = make_config(tmp_path, {"whatsapp": {"graph_url": fake_graph.url}})
    graph = GraphClient(config)
    yield graph
    await graph.aclose()


def body(language: str = "en_US", text: str = "Hi {{1}}") -> dict[str, Any]:
    return {
        "name": "order_update",
        "language": language,
        "category": "utility",
        "components": [{"type": "body", "text": text, "example": {"body_text": [["Pablo"]]}}],
    }


async def test_create_list_edit_delete(client: GraphClient, fake_graph: FakeGraph) -> None:
    created = await client.request("POST", PATH, json=body())
    assert created == {"id": created["id"], "status": "PENDING", "category": "UTILITY"}
    await client.request("POST", PATH, json=body("es"))

    listed = await client.request("GET", PATH, params={"fields": "name,language,status"})
    assert [(t["name"], t["language"], t["status"]) for t in listed["data"]] == [
        ("order_update", "en_US", "PENDING"),
        ("order_update", "es", "PENDING"),
    ]
    one = await client.request("GET", f"/{created['id']}")
    assert one["components"] == [
        {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Pablo"]]}}
    ]

    with pytest.raises(GraphError) as pending:
        await client.request("POST", f"/{created['id']}", json={"components": []})
    assert pending.value.code == 100
    assert "PENDING template cannot be edited" in str(pending.value)

    value = fake_graph.review_template(created["id"], "APPROVED")
    assert value["event"] == "APPROVED"
    assert value["message_template_id"] == int(created["id"])
    edit = {"components": body(text="Hello {{1}}")["components"]}
    assert await client.request("POST", f"/{created['id']}", json=edit) == {"success": True}
    assert fake_graph.message_templates[created["id"]].components[0]["text"] == "Hello {{1}}"
    with pytest.raises(GraphError, match="once a day"):
        await client.request("POST", f"/{created['id']}", json=edit)
    with pytest.raises(GraphError, match="category of an approved template"):
        await client.request("POST", f"/{created['id']}", json={"category": "MARKETING"})

    assert await client.request("DELETE", PATH, params={"name": "order_update"}) == {
        "success": True
    }
    assert (await client.request("GET", PATH))["data"] == []


async def test_refusals_carry_meta_s_codes(client: GraphClient, fake_graph: FakeGraph) -> None:
    await client.request("POST", PATH, json=body())
    with pytest.raises(GraphError) as duplicate:
        await client.request("POST", PATH, json=body())
    assert (duplicate.value.code, duplicate.value.subcode) == (100, 2388024)

    for bad in ({**body(), "name": "Order Update"}, {**body(), "components": []}):
        with pytest.raises(GraphError) as invalid:
            await client.request("POST", PATH, json=bad)
        assert invalid.value.code == 100

    disabled = fake_graph.add_template(WABA, body("fr"), status="DISABLED")
    with pytest.raises(GraphError, match="DISABLED"):
        await client.request("DELETE", PATH, params={"name": "order_update", "hsm_id": disabled.id})
    assert fake_graph.template("order_update", "fr") is disabled


async def test_the_list_is_paged(client: GraphClient, fake_graph: FakeGraph) -> None:
    for language in ("en_US", "es", "fr"):
        fake_graph.add_template(WABA, body(language))
    first = await client.request("GET", PATH, params={"limit": 2})
    assert len(first["data"]) == 2 and "next" in first["paging"]
    after = first["paging"]["cursors"]["after"]
    rest = await client.request("GET", PATH, params={"limit": 2, "after": after})
    assert [t["language"] for t in rest["data"]] == ["fr"]
    assert "next" not in rest["paging"]
