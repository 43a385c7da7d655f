"""Calling signaling (reference/cloudapi.md §19): wahost.account.CallsApi against the fake
Graph API over loopback HTTP, with SDP text kept in tests/fixtures/calls (written in the shape
of a WebRTC audio offer and answer), and examples/call_answerer.py driven end to end: a signed
``calls`` webhook → worker → router → pre_accept and accept on the fake."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from wahost.account.calls import CallsApi
from wahost.errors import GraphError
from wahost.graph import GraphClient
from wahost.testing import BotHarness, FakeGraph, make_config

PNID = "106540352242922"
CALLER = "16505551234"
BSUID = "US.13491208655302741918"
ROOT = Path(__file__).resolve().parents[1]
OFFER = (ROOT / "tests" / "fixtures" / "calls" / "offer.sdp").read_bytes().decode()
ANSWER = (ROOT / "tests" / "fixtures" / "calls" / "answer.sdp").read_bytes().decode()


@pytest.fixture
async def calls(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[CallsApi]:
    config = make_config(
        tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}}
    )
    client = GraphClient(config)
    yield CallsApi(client)
    await client.aclose()


async def test_answer_a_user_call_with_the_sdp_passed_through(
    calls: CallsApi, fake_graph: FakeGraph
) -> None:
    call_id = fake_graph.add_call(CALLER, OFFER)
    await calls.pre_accept(call_id, ANSWER)
    await calls.accept(call_id, ANSWER, biz_opaque_callback_data="order-42")
    call = fake_graph.voice_calls[call_id]
    assert call.answer == ANSWER  # byte for byte, CRLFs included
    assert fake_graph.requests[-1].json == {
        "messaging_product": "whatsapp",
        "call_id": call_id,
        "action": "accept",
        "session": {"sdp_type": "answer", "sdp": ANSWER},
        "biz_opaque_callback_data": "order-42",
    }
    await calls.terminate(call_id)
    assert call.actions == ["pre_accept", "accept", "terminate"]
    with pytest.raises(GraphError) as ended:  # Meta refuses an action on an ended call
        await calls.reject(call_id)
    assert ended.value.code == 100
    assert sum(r.path.endswith("/calls") for r in fake_graph.requests) == 4  # never retried


async def test_reject(calls: CallsApi, fake_graph: FakeGraph) -> None:
    call_id = fake_graph.add_call(CALLER, OFFER)
    await calls.reject(call_id)
    assert fake_graph.voice_calls[call_id].state == "rejected"


async def test_business_call_needs_permission(calls: CallsApi, fake_graph: FakeGraph) -> None:
    denied = await calls.permission(CALLER)
    assert denied.status == "no_permission"
    assert denied.can("send_call_permission_request") and not denied.can("start_call")
    assert fake_graph.requests[-1].params == {"user_wa_id": CALLER}
    with pytest.raises(GraphError) as refused:
        await calls.connect(CALLER, OFFER)
    assert refused.value.code == 138006

    fake_graph.call_permissions[CALLER] = "temporary"
    fake_graph.call_permissions[BSUID] = "permanent"
    granted = await calls.permission(CALLER)
    assert granted.status == "temporary" and granted.expiration_time is not None
    assert granted.can("start_call")
    assert granted.actions[1].limits[0].max_allowed == 100
    call_id = await calls.connect(CALLER, OFFER)
    assert call_id.startswith("wacid.")
    assert fake_graph.voice_calls[call_id].offer == OFFER
    by_bsuid = await calls.connect(BSUID, OFFER)
    assert fake_graph.requests[-1].json["recipient"] == BSUID
    assert "to" not in fake_graph.requests[-1].json
    assert fake_graph.voice_calls[by_bsuid].direction == "BUSINESS_INITIATED"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.pre_accept("wacid.x", "hello"), "sdp: not an SDP"),
        (lambda c: c.connect(CALLER, ""), "sdp: not an SDP"),
        (lambda c: c.connect("", OFFER), "to: must not be empty"),
        (lambda c: c.accept("", ANSWER), "call_id: '' is not a call id"),
        (lambda c: c.terminate("wacid/../x"), "is not a call id"),
        (lambda c: c.accept("wacid.x", ANSWER, biz_opaque_callback_data="x" * 513), "at most 512"),
        (lambda c: c.connect(CALLER, OFFER, biz_opaque_callback_data="x" * 513), "at most 512"),
    ],
)
async def test_bad_input_fails_before_any_request(
    calls: CallsApi, fake_graph: FakeGraph, call: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await call(calls)
    assert fake_graph.requests == []


async def test_accept_must_carry_the_pre_accepted_sdp(
    calls: CallsApi, fake_graph: FakeGraph
) -> None:
    call_id = fake_graph.add_call(CALLER, OFFER)
    await calls.pre_accept(call_id, ANSWER)
    sent = len(fake_graph.requests)
    with pytest.raises(ValueError, match="accept must carry the SDP given to pre_accept"):
        await calls.accept(call_id, ANSWER.replace("51224", "51226"))
    assert len(fake_graph.requests) == sent


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "call_answerer_example", ROOT / "examples" / "call_answerer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_answers_a_call_end_to_end(tmp_path: Path) -> None:
    example = load_example()
    answered: list[tuple[str, str]] = []

    async def recorded(call_id: str, offer: str) -> str:
        answered.append((call_id, offer))
        return ANSWER

    example.ANSWERER = recorded
    async with FakeGraph() as graph:
        call_id = graph.add_call(CALLER, OFFER)
        async with BotHarness(tmp_path, plugins=[example.router], graph=graph) as bot:
            webhook = graph.call_webhook(
                call_id, phone_number_id=bot.config.whatsapp.phone_number_id
            )
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
    assert answered == [(call_id, OFFER)]  # the caller's offer, as Meta sent it
    call = graph.voice_calls[call_id]
    assert (call.actions, call.state, call.answer) == (["pre_accept", "accept"], "accepted", ANSWER)


async def test_the_example_answers_with_a_real_aiortc_sdp(tmp_path: Path) -> None:
    """The example's own WebRTC path: the caller's offer comes from an aiortc peer, the
    example answers it with its aiortc tone track, and Meta gets that answer."""
    aiortc = pytest.importorskip("aiortc", reason="pip install 'wahost[calls]' (aiortc)")
    from aiortc.mediastreams import AudioStreamTrack

    example = load_example()
    caller = aiortc.RTCPeerConnection()
    caller.addTrack(AudioStreamTrack())
    await caller.setLocalDescription(await caller.createOffer())
    offer = caller.localDescription.sdp
    try:
        async with FakeGraph() as graph:
            call_id = graph.add_call(CALLER, offer)
            async with BotHarness(tmp_path, plugins=[example.router], graph=graph) as bot:
                webhook = graph.call_webhook(
                    call_id, phone_number_id=bot.config.whatsapp.phone_number_id
                )
                assert (await bot.post(webhook)).status_code == 200
                await bot.idle(timeout=30)
            call = graph.voice_calls[call_id]
            assert (call.actions, call.state) == (["pre_accept", "accept"], "accepted")
            assert call.answer.startswith("v=0") and "m=audio" in call.answer
            # The answer is a real one: the caller's peer connection accepts it.
            await caller.setRemoteDescription(
                aiortc.RTCSessionDescription(sdp=call.answer, type="answer")
            )
    finally:
        for connection in list(example.connections.values()):
            await connection.close()
        await caller.close()
