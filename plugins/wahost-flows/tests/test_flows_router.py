"""FlowRequest decoding, FlowResponse shapes, and the FlowRouter's matching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from wahost_flows import FlowRequest, FlowResponse, FlowRouter, FlowTokenExpired
from wahost_flows.models import FlowRequestError, decode_request


class Ctx:
    def __init__(self, endpoint: str = "/flows") -> None:
        self.endpoint = endpoint


def _request(**values: Any) -> FlowRequest:
    base = {"version": "3.0", "action": "data_exchange", "flow_token": "shop:1"}
    return decode_request(json.dumps({**base, **values}).encode())


def test_decoding_fills_absent_or_null_screen_and_data(fixture_json: Any) -> None:
    back = decode_request(json.dumps(fixture_json("flow_request_plain_back.json")).encode())
    assert (back.action, back.screen, back.data) == ("BACK", "DETAILS", {})
    init = decode_request(b'{"version":"3.0","action":"INIT","screen":null,"data":null}')
    assert (init.screen, init.data, init.flow_token) == ("", {}, "")
    unknown = decode_request(b'{"action":"navigate","new_field":[1]}')
    assert unknown.action == "navigate"


@pytest.mark.parametrize("body", [b"[]", b"nope", b'{"data": 1}', b'{"flow_token": 5}'])
def test_decoding_refuses_what_is_not_a_request(body: bytes) -> None:
    with pytest.raises(FlowRequestError):
        decode_request(body)


def test_error_notifications_use_error_or_error_key() -> None:
    a = _request(data={"error": "INVALID_SCREEN_TRANSITION", "error_message": "bad"})
    b = _request(action="INIT", data={"error_key": "payload-schema-error"})
    c = _request(data={"error": 3})
    assert (a.is_error_notification, a.error, a.error_message) == (
        True,
        "INVALID_SCREEN_TRANSITION",
        "bad",
    )
    assert (b.is_error_notification, b.error, b.error_message) == (
        True,
        "payload-schema-error",
        None,
    )
    assert not c.is_error_notification and c.error is None
    assert not _request(action="ping", data={"error": "x"}).is_error_notification


def test_response_shapes(fixture_json: Any) -> None:
    closed = FlowResponse.close("AQAAAAACS5FpgQ_cAAAAAD0QI3s.", some_param_name="PASS_CUSTOM_VALUE")
    assert closed.to_builtins() == fixture_json("flow_response_success.json")
    assert closed.closes
    snackbar = FlowResponse("APPOINTMENT", {"a": 1}, error_message="taken")
    assert snackbar.to_builtins() == {
        "screen": "APPOINTMENT",
        "data": {"a": 1, "error_message": "taken"},
    }
    assert snackbar == FlowResponse("APPOINTMENT", {"a": 1, "error_message": "taken"})
    with pytest.raises(ValueError):
        FlowResponse("")
    with pytest.raises(ValueError):
        FlowResponse.close("")


async def test_router_routes_by_action_and_screen() -> None:
    router = FlowRouter()
    calls: list[str] = []

    @router.init
    def opened(request: FlowRequest, ctx: Any) -> FlowResponse:
        calls.append("init")
        return FlowResponse("A")

    @router.on("A")
    async def not_mine(request: FlowRequest, ctx: Any) -> None:
        calls.append("a-first")  # None: the next handler tries

    @router.on("A")
    async def a(request: FlowRequest, ctx: Any) -> FlowResponse:
        calls.append("a")
        return FlowResponse("B")

    @router.back("A")
    def back(request: FlowRequest, ctx: Any) -> FlowResponse:
        calls.append("back")
        return FlowResponse("A")

    @router.on(None, action=("data_exchange", "BACK"))
    def anything(request: FlowRequest, ctx: Any) -> FlowResponse:
        calls.append("any")
        return FlowResponse("Z")

    ctx = Ctx()
    assert await router.on_flow_request(_request(action="INIT", screen=""), ctx) == FlowResponse(
        "A"
    )
    assert await router.on_flow_request(_request(screen="A"), ctx) == FlowResponse("B")
    assert await router.on_flow_request(_request(action="BACK", screen="A"), ctx) == FlowResponse(
        "A"
    )
    assert await router.on_flow_request(_request(screen="Q"), ctx) == FlowResponse("Z")
    assert await router.on_flow_request(_request(action="navigate"), ctx) is None
    assert calls == ["init", "a-first", "a", "back", "any"]


async def test_router_filters_by_endpoint_and_token_prefix() -> None:
    router = FlowRouter(endpoint="shop", token_prefix="shop:")
    router.on(None)(lambda request, ctx: FlowResponse("OK"))
    assert await router.on_flow_request(_request(), Ctx("shop")) == FlowResponse("OK")
    assert await router.on_flow_request(_request(), Ctx("other")) is None
    assert await router.on_flow_request(_request(flow_token="book:1"), Ctx("shop")) is None


async def test_rejected_token_is_returned_not_raised() -> None:
    router = FlowRouter()

    @router.on("A")
    def a(request: FlowRequest, ctx: Any) -> None:
        raise FlowTokenExpired("gone")

    value = await router.on_flow_request(_request(screen="A"), Ctx())
    assert isinstance(value, FlowTokenExpired) and value.error_msg == "gone"


async def test_error_notifications_go_to_error_handlers_and_fall_through() -> None:
    router = FlowRouter()
    seen: list[str | None] = []
    router.on_error(lambda request, ctx: seen.append(request.error))
    router.on(None)(lambda request, ctx: FlowResponse("NOT_FOR_ERRORS"))
    value = await router.on_flow_request(_request(data={"error": "E"}), Ctx())
    assert value is None
    assert seen == ["E"]


def test_on_needs_an_action() -> None:
    with pytest.raises(ValueError):
        FlowRouter().on("A", action=())
