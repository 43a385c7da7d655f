"""wahost.account.groups against the fake Graph API over loopback HTTP (reference/cloudapi.md
§12.6, §12.7): Meta's answers and errors, and Meta's limits refused before any request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wahost.account import GroupsApi
from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import FakeGraph, make_config

PNID = "106540352242922"


def jpeg(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, an APP0 segment, then the frame header (SOF0)."""
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xc0"
        + (17).to_bytes(2, "big")
        + b"\x08"
        + height.to_bytes(2, "big")
        + width.to_bytes(2, "big")
        + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.fixture
async def groups(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[GroupsApi]:
    config = make_config(
        tmp_path,
        {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}},
    )
    client = GraphClient(config)
    yield GroupsApi(client)
    await client.aclose()


async def test_create_then_get_list_and_delete(groups: GroupsApi, fake_graph: FakeGraph) -> None:
    request_id = await groups.create(
        "  Support  ", description="Ask us", join_approval_mode="approval_required"
    )
    field, event = fake_graph.group_webhooks[-1]
    assert field == "group_lifecycle_update" and event["type"] == "group_create"
    assert event["request_id"] == request_id  # what ties the webhook to this call
    group_id = event["group_id"]
    sent = fake_graph.requests[-1]
    assert sent.path == f"/v24.0/{PNID}/groups"
    assert sent.json == {
        "messaging_product": "whatsapp",
        "subject": "Support",  # trimmed, as Meta does
        "description": "Ask us",
        "join_approval_mode": "approval_required",
    }

    fake_graph.groups[group_id].participants.append("16505551234")
    info = await groups.get(group_id)
    assert info.subject == "Support" and info.description == "Ask us"
    assert info.join_approval_mode == "approval_required"
    assert [p.wa_id for p in info.participants or []] == ["16505551234"]
    assert info.total_participant_count == 1
    only = await groups.get(group_id, fields=["subject"])
    assert only.subject == "Support" and only.description is None

    await groups.create("Second")
    first = await groups.list(limit=1)
    assert [g.subject for g in first.groups] == ["Support"] and first.after is not None
    second = await groups.list(limit=1, after=first.after)
    assert [g.subject for g in second.groups] == ["Second"] and second.after is None

    await groups.delete(group_id)
    assert fake_graph.group_webhooks[-1][1]["type"] == "group_delete"
    with pytest.raises(GraphError) as unknown:
        await groups.get(group_id)
    assert unknown.value.code == 131041


async def test_invite_links_join_requests_and_participants(
    groups: GroupsApi, fake_graph: FakeGraph
) -> None:
    group_id = fake_graph.add_group(["16505551234", "16505550000"])
    link = await groups.invite_link(group_id)
    assert link.startswith("https://chat.whatsapp.com/")
    new = await groups.reset_invite_link(group_id)
    assert new != link and await groups.invite_link(group_id) == new

    anna = fake_graph.add_join_request(group_id, "+1 650 555 7777")
    bob = fake_graph.add_join_request(group_id, "16505558888")
    page = await groups.join_requests(group_id)
    assert {(r.join_request_id, r.wa_id) for r in page.requests} == {
        (anna, "16505557777"),
        (bob, "16505558888"),
    }
    approved = await groups.approve(group_id, [anna, "999"])  # one unknown: partial (206)
    assert approved.done == [anna] and [f.id for f in approved.failed] == ["999"]
    assert "16505557777" in fake_graph.groups[group_id].participants
    rejected = await groups.reject(group_id, [bob])
    assert rejected.done == [bob] and rejected.failed == []
    assert fake_graph.groups[group_id].join_requests == {}

    await groups.remove_participants(group_id, ["16505550000"])
    field, event = fake_graph.group_webhooks[-1]
    assert (field, event["type"]) == ("group_participants_update", "group_participants_remove")
    assert fake_graph.requests[-1].json == {
        "messaging_product": "whatsapp",
        "participants": [{"user": "16505550000"}],
    }
    with pytest.raises(GraphError) as not_in:
        await groups.remove_participants(group_id, ["16505550000"])
    assert not_in.value.code == 131212


async def test_settings_subject_description_and_picture(
    groups: GroupsApi, fake_graph: FakeGraph
) -> None:
    group_id = fake_graph.add_group(["16505551234"])
    await groups.update(group_id, subject="Renamed", description="")
    assert fake_graph.groups[group_id].subject == "Renamed"
    change = fake_graph.group_webhooks[-1][1]
    assert change["group_subject"] == {"text": "Renamed", "update_successful": True}
    picture = jpeg(640, 640)
    await groups.set_picture(group_id, picture)
    assert fake_graph.groups[group_id].picture == picture
    assert fake_graph.requests[-1].files["profile_picture_file"].content_type == "image/jpeg"


async def test_meta_refuses_a_suspended_group_with_403(
    groups: GroupsApi, fake_graph: FakeGraph
) -> None:
    group_id = fake_graph.add_group(["16505551234"])
    fake_graph.groups[group_id].suspended = True
    with pytest.raises(GraphError) as suspended:
        await groups.invite_link(group_id)
    assert suspended.value.code == 131207 and suspended.value.http_status == 403


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: g.create(""), "subject: must not be empty"),
        (lambda g: g.create("x" * 129), "subject: at most 128 characters"),
        (lambda g: g.create("ok", description="d" * 2049), "description: at most 2048"),
        (lambda g: g.create("ok", join_approval_mode="open"), "join_approval_mode: must be"),
        (lambda g: g.get("G", fields=["subjet"]), "fields: unknown subjet"),
        (lambda g: g.get("a/b"), "group_id: 'a/b' is not a group id"),
        (lambda g: g.list(limit=0), "limit: must be 1 to 1024"),
        (lambda g: g.list(limit=1025), "limit: must be 1 to 1024"),
        (lambda g: g.remove_participants("G", []), "users: at least 1"),
        (lambda g: g.remove_participants("G", [str(n) for n in range(9)]), "users: at most 8"),
        (lambda g: g.remove_participants("G", ["1", "1"]), "users: listed twice: 1"),
        (lambda g: g.approve("G", "123"), "join_request_ids: must be a list"),
        (lambda g: g.update("G"), "give a subject or a description"),
        (lambda g: g.set_picture("G", b"\x89PNG...."), "picture: must be a JPEG"),
        (lambda g: g.set_picture("G", jpeg(640, 480)), "picture: must be square (got 640x480)"),
        (lambda g: g.set_picture("G", jpeg(100, 100)), "picture: at least 192x192"),
        (lambda g: g.set_picture("G", jpeg(640, 640) + bytes(5 << 20)), "picture: at most 5 MB"),
    ],
)
async def test_bad_input_fails_before_any_request(
    groups: GroupsApi, fake_graph: FakeGraph, call: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await call(groups)  # type: ignore[operator]
    assert fake_graph.requests == []
