"""The endpoint over real HTTP (BotHarness on loopback): the generated vectors, 421/427/432."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from structlog.testing import capture_logs
from wahost_flows import (
    FlowContext,
    FlowRequest,
    FlowResponse,
    FlowRouter,
    FlowTokenExpired,
    decrypt_response,
    encrypt_request,
)
from wahost_flows.endpoint import flow_ref

from wahost import hookimpl


class Recorder:
    """A plugin answering like Meta's book-appointment sample, recording what it saw."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[FlowRequest, FlowContext]] = []

    @hookimpl
    async def on_flow_request(self, request: FlowRequest, ctx: FlowContext) -> Any:
        self.seen.append((request, ctx))
        if request.action == "INIT":
            return FlowResponse("APPOINTMENT", {"is_location_enabled": False})
        if request.screen == "APPOINTMENT":
            return FlowResponse("DETAILS", request.data)
        return None


@pytest.mark.parametrize("name", ["ping", "init", "data_exchange", "error_notification"])
async def test_generated_vectors_answer_byte_for_byte(
    flows_bot: Any, cases: dict[str, Any], name: str
) -> None:
    case = cases[name]
    recorder = Recorder()
    async with flows_bot(plugins=[recorder]) as bot:
        response = await bot.post(case["request_body"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == case["expected_encrypted_response_base64"]
    expected = json.loads(case["expected_decrypted_plaintext"])
    if name == "ping":
        assert recorder.seen == []  # health checks never reach a plugin
    else:
        [(request, ctx)] = recorder.seen
        assert request.action == expected["action"]
        assert request.flow_token == expected["flow_token"]
        assert request.data == expected["data"]
        assert ctx.endpoint == "/flows"
        assert ctx.host is bot.host
        assert ctx.headers["content-type"] == "application/json"


async def test_error_notification_reaches_plugins_and_is_acknowledged_even_if_they_fail(
    flows_bot: Any, cases: dict[str, Any], vectors: dict[str, Any], make_router_plugin: Any
) -> None:
    router = FlowRouter()
    reported: list[tuple[str | None, str | None]] = []

    @router.on_error
    def on_error(request: FlowRequest, ctx: FlowContext) -> None:
        reported.append((request.error, request.error_message))
        raise RuntimeError("a broken error handler")

    async with flows_bot(plugins=[make_router_plugin(router)]) as bot:
        response = await bot.post(cases["error_notification"]["request_body"])
    assert response.status_code == 200
    key = bytes.fromhex(vectors["aes_key_hex"])
    iv = bytes.fromhex(vectors["iv_hex"])
    assert json.loads(decrypt_response(response.text, key, iv)) == {"data": {"acknowledged": True}}
    assert reported == [("INVALID_SCREEN_TRANSITION", "bad next screen")]


async def test_tampered_request_is_421_and_logged_without_key(
    flows_bot: Any, vectors: dict[str, Any]
) -> None:
    async with flows_bot(plugins=[Recorder()]) as bot:
        with capture_logs() as logs:
            response = await bot.post(vectors["tampered_request_body_expect_http_421"])
    assert response.status_code == 421
    [entry] = [e for e in logs if e["event"].startswith("flow request not decrypted")]
    assert "AES-GCM" in entry["reason"]
    text = repr(logs)
    for secret in (vectors["aes_key_hex"], base64.b64encode(bytes.fromhex(vectors["aes_key_hex"]))):
        assert str(secret) not in text
    assert "PRIVATE KEY" not in text


SIGNED_GARBAGE = [
    b"",
    b"not json",
    b"[]",
    b'{"encrypted_flow_data": 1}',
    b'{"encrypted_flow_data":"@@","encrypted_aes_key":"AA==","initial_vector":"AA=="}',
    b'{"encrypted_flow_data":"AA==","encrypted_aes_key":"AA==","initial_vector":"AA=="}',
    "\u00e4\u00f6\u00e5".encode(),
    b'{"encrypted_flow_data":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"x":' + b"{" * 100_000,
]


async def test_signed_garbage_is_421_never_500(flows_bot: Any) -> None:
    async with flows_bot() as bot:
        statuses = [(await bot.post(body)).status_code for body in SIGNED_GARBAGE]
    assert statuses == [421] * len(SIGNED_GARBAGE)


async def test_wrong_or_missing_signature_is_432(flows_bot: Any, cases: dict[str, Any]) -> None:
    recorder = Recorder()
    body = cases["init"]["request_body"]
    async with flows_bot(plugins=[recorder]) as bot:
        wrong = await bot.post(body, secret="not-the-app-secret")
        missing = await bot.post(body, secret=None)
        malformed = await bot.post(body, secret=None, headers={"x-hub-signature-256": "sha256=zz"})
    assert [wrong.status_code, missing.status_code, malformed.status_code] == [432, 432, 432]
    assert recorder.seen == []


@pytest.mark.parametrize("mode", ["plain", "encrypted"])
async def test_rejected_token_is_427_in_both_body_styles(
    flows_bot: Any,
    key_file: Any,
    cases: dict[str, Any],
    vectors: dict[str, Any],
    make_router_plugin: Any,
    mode: str,
) -> None:
    router = FlowRouter()

    @router.on("APPOINTMENT")
    async def appointment(request: FlowRequest, ctx: FlowContext) -> FlowResponse:
        raise FlowTokenExpired("The order has already been placed")

    flows = {"token_expired_body": mode, "endpoints": [{"key_file": str(key_file)}]}
    async with flows_bot(plugins=[make_router_plugin(router)], flows=flows) as bot:
        response = await bot.post(cases["data_exchange"]["request_body"])
    assert response.status_code == 427
    expected = {"error_msg": "The order has already been placed"}
    if mode == "plain":
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == expected
    else:
        assert response.headers["content-type"].startswith("text/plain")
        key = bytes.fromhex(vectors["aes_key_hex"])
        iv = bytes.fromhex(vectors["iv_hex"])
        assert json.loads(decrypt_response(response.text, key, iv)) == expected


class Rejecting:
    """A raw hook implementation that raises (not returns) FlowTokenExpired."""

    __name__ = "rejecting"

    @hookimpl
    async def on_flow_request(self, request: FlowRequest) -> Any:
        raise FlowTokenExpired()


async def test_token_expired_raised_by_a_hook_is_427_too(
    flows_bot: Any, cases: dict[str, Any]
) -> None:
    async with flows_bot(plugins=[Rejecting()]) as bot:
        response = await bot.post(cases["init"]["request_body"])
    assert response.status_code == 427
    assert response.json() == {}


class Broken:
    __name__ = "broken"

    def __init__(self) -> None:
        self.answer: Any = None
        self.error = False

    @hookimpl
    async def on_flow_request(self) -> Any:
        if self.error:
            raise RuntimeError("plugin bug")
        return self.answer


async def test_no_usable_answer_is_500(flows_bot: Any, cases: dict[str, Any]) -> None:
    plugin = Broken()
    body = cases["init"]["request_body"]
    async with flows_bot(plugins=[plugin]) as bot:
        nobody_answers = await bot.post(body)
        plugin.error = True
        plugin_raises = await bot.post(body)
        plugin.error = False
        plugin.answer = 42
        wrong_type = await bot.post(body)
        plugin.answer = {"data": {1j: 1}}
        not_json = await bot.post(body)
        plugin.answer = {"screen": "APPOINTMENT", "data": {"is_location_enabled": False}}
        mapping = await bot.post(body)
    statuses = [r.status_code for r in (nobody_answers, plugin_raises, wrong_type, not_json)]
    assert statuses == [500, 500, 500, 500]
    # A plain mapping is sent as is.
    assert mapping.text == cases["init"]["expected_encrypted_response_base64"]


async def test_slow_plugin_times_out_with_500(
    flows_bot: Any, key_file: Any, cases: dict[str, Any]
) -> None:
    import asyncio

    class Slow:
        __name__ = "slow"

        @hookimpl
        async def on_flow_request(self) -> Any:
            await asyncio.sleep(5)

    flows = {"handler_timeout": 0.05, "endpoints": [{"key_file": str(key_file)}]}
    async with flows_bot(plugins=[Slow()], flows=flows) as bot:
        response = await bot.post(cases["init"]["request_body"])
    assert response.status_code == 500


async def test_several_endpoints_each_with_its_own_key_and_secret(
    flows_bot: Any, key_file: Any, tmp_path: Any
) -> None:
    from wahost_flows.keys import generate_private_key, write_private_key

    other_key = generate_private_key()
    other_file = tmp_path / "other.pem"
    write_private_key(other_file, other_key)
    flows = {
        "endpoints": [
            {"key_file": str(key_file), "name": "main"},
            {"path": "/flows/shop", "key_file": str(other_file), "app_secret": "shop-secret"},
        ]
    }
    recorder = Recorder()
    payload = {"version": "3.0", "action": "INIT", "flow_token": "shop-1"}
    body, aes_key, iv = encrypt_request(other_key.public_key(), payload)
    async with flows_bot(plugins=[recorder], flows=flows) as bot:
        ok = await bot.post(body, path="/flows/shop", secret="shop-secret")
        core_secret = await bot.post(body, path="/flows/shop")
        wrong_key = await bot.post(body, path="/flows")
    assert ok.status_code == 200
    assert json.loads(decrypt_response(ok.text, aes_key, iv))["screen"] == "APPOINTMENT"
    assert core_secret.status_code == 432  # the override replaces the core's secrets
    assert wrong_key.status_code == 421  # encrypted to the other endpoint's key
    assert [ctx.endpoint for _, ctx in recorder.seen] == ["/flows/shop"]


async def test_flow_token_is_bound_to_the_context_log(
    flows_bot: Any, cases: dict[str, Any]
) -> None:
    class Logging:
        __name__ = "logging"

        @hookimpl
        async def on_flow_request(self, ctx: FlowContext) -> Any:
            ctx.log.info("handled")
            return FlowResponse("X")

    async with flows_bot(plugins=[Logging()]) as bot:
        with capture_logs() as logs:
            await bot.post(cases["init"]["request_body"])
    [entry] = [e for e in logs if e["event"] == "handled"]
    assert entry["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    assert entry["flow_ref"] == flow_ref("AQAAAAACS5FpgQ_cAAAAAD0QI3s.")
    assert len(entry["flow_ref"]) == 12
    assert entry["endpoint"] == "/flows"
    assert entry["action"] == "INIT"


async def test_decrypted_but_malformed_request_is_400(
    flows_bot: Any, vectors: dict[str, Any]
) -> None:
    public = serialization.load_pem_public_key(vectors["public_key_pem"].encode())
    async with flows_bot() as bot:
        for payload in (b"not json", b'{"action": 3}', b'{"data": [1]}'):
            body, _, _ = encrypt_request(public, payload)  # type: ignore[arg-type]
            assert (await bot.post(body)).status_code == 400


async def test_only_post_is_routed(flows_bot: Any) -> None:
    async with flows_bot() as bot:
        assert bot.harness.http is not None
        response = await bot.harness.http.get(bot.harness.url + "/flows")
        assert response.status_code == 405


async def test_deeply_nested_or_binary_plaintext_is_400(
    flows_bot: Any, vectors: dict[str, Any]
) -> None:
    public = serialization.load_pem_public_key(vectors["public_key_pem"].encode())
    nested = b'{"version":"3.0","action":"data_exchange","data":{"x":' + b"[" * 100_000
    async with flows_bot() as bot:
        for payload in (nested + b"]" * 100_000 + b"}}", b"\xff\xfe\x00binary"):
            body, _, _ = encrypt_request(public, payload)  # type: ignore[arg-type]
            assert (await bot.post(body)).status_code == 400


async def test_data_exchange_answers_well_under_a_second(
    flows_bot: Any, vectors: dict[str, Any], make_router_plugin: Any
) -> None:
    import statistics
    import time

    router = FlowRouter()
    router.on("APPOINTMENT")(lambda request, ctx: FlowResponse("DETAILS", request.data))
    public = serialization.load_pem_public_key(vectors["public_key_pem"].encode())
    payload = {"version": "3.0", "action": "data_exchange", "screen": "APPOINTMENT", "data": {}}
    bodies = [encrypt_request(public, payload)[0] for _ in range(40)]  # type: ignore[arg-type]
    timings = []
    async with flows_bot(plugins=[make_router_plugin(router)]) as bot:
        for body in bodies:
            started = time.perf_counter()
            assert (await bot.post(body)).status_code == 200
            timings.append(time.perf_counter() - started)
    # Generous bounds for a loaded CI machine; bench/latency.py gives the real figure.
    assert statistics.median(timings) < 0.2
    assert max(timings) < 1.0


async def test_the_endpoint_works_under_hypercorn_too(
    flows_bot: Any, cases: dict[str, Any]
) -> None:
    async with flows_bot(config={"server": {"engine": "hypercorn"}}) as bot:
        response = await bot.post(cases["ping"]["request_body"])
        wrong = await bot.post(cases["ping"]["request_body"], secret="nope")
    assert response.text == cases["ping"]["expected_encrypted_response_base64"]
    assert wrong.status_code == 432
