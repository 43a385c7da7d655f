"""wahost.testing.fake_graph: a real loopback server that answers like the Graph API.

Every test talks to it over real HTTP with httpx, as the host's Graph client does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from wahost.testing import TEST_PHONE_NUMBER_ID, TEST_TOKEN
from wahost.testing.fake_graph import ERRORS, FakeGraph
from wahost.testing.harness import FIXTURES
from wahost.testing.loopback import loopback_client

PNID = TEST_PHONE_NUMBER_ID
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
USER = "16505551234"
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----\n"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


SEND_FIXTURES = sorted(
    p.name
    for p in FIXTURES.glob("send_request_*.json")
    if p.name not in ("send_request_mark_read.json", "send_request_typing_indicator.json")
)


def text(to: str = USER, body: str = "hi") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest.fixture
async def http(graph: FakeGraph) -> AsyncIterator[httpx.AsyncClient]:
    async with loopback_client(base_url=graph.url + "/v24.0", headers=AUTH, timeout=5) as c:
        yield c


# -- sending ----------------------------------------------------------------------------------


def test_every_send_fixture_is_covered() -> None:
    assert len(SEND_FIXTURES) >= 15


@pytest.mark.parametrize("name", SEND_FIXTURES)
async def test_each_send_fixture_is_accepted_with_metas_answer(
    graph: FakeGraph, http: httpx.AsyncClient, name: str
) -> None:
    body = fixture(name)
    response = await http.post(f"/{PNID}/messages", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    wa_id = body["to"].lstrip("+")
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": body["to"], "wa_id": wa_id}]
    [message] = answer["messages"]
    assert message["id"].startswith("wamid.")
    assert ("message_status" in message) == (body["type"] == "template")
    [sent] = graph.sent
    assert sent.body == body and sent == {**body, "wamid": message["id"]}
    assert sent["to"] == sent.to == body["to"] and sent["wamid"] == sent.wamid
    assert (sent.wamid, sent.type, sent.phone_number_id, sent.wa_id) == (
        message["id"],
        body["type"],
        PNID,
        wa_id,
    )
    assert graph.messages_to("+" + wa_id) == graph.messages_to(wa_id) == [sent]


async def test_wamids_are_unique_and_text_is_readable(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    for i in range(20):
        assert (await http.post(f"/{PNID}/messages", json=text(body=f"n{i}"))).status_code == 200
    assert len({sent.wamid for sent in graph.sent}) == 20
    assert [sent.text for sent in graph.messages_to(USER)] == [f"n{i}" for i in range(20)]
    assert graph.messages_to("15550000000") == []


@pytest.mark.parametrize(
    "name", ["send_request_mark_read.json", "send_request_typing_indicator.json"]
)
async def test_mark_read_and_typing_answer_success(
    graph: FakeGraph, http: httpx.AsyncClient, name: str
) -> None:
    body = fixture(name)
    response = await http.post(f"/{PNID}/messages", json=body)
    assert (response.status_code, response.json()) == (
        200,
        fixture("send_response_success_true.json"),
    )
    assert graph.sent == []
    assert graph.marked_read == [body["message_id"]]
    assert graph.typing == ([body["message_id"]] if "typing_indicator" in body else [])
    assert not graph.requests[0].is_message


@pytest.mark.parametrize(
    "body",
    [
        {"to": USER, "type": "text", "text": {"body": "no product"}},
        {"messaging_product": "sms", "to": USER, "type": "text", "text": {"body": "x"}},
        {"messaging_product": "whatsapp", "type": "text", "text": {"body": "no to"}},
        {"messaging_product": "whatsapp", "to": USER, "text": {"body": "no type"}},
        {"messaging_product": "whatsapp", "to": USER, "type": "fax", "fax": {}},
        {"messaging_product": "whatsapp", "to": USER, "type": "text"},
        {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": ""}},
        {"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {"caption": "x"}},
        {"messaging_product": "whatsapp", "to": USER, "type": "contacts", "contacts": []},
        {"messaging_product": "whatsapp", "to": USER, "type": "reaction", "reaction": {}},
        {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "template",
            "template": {"name": "x"},
        },
        {"messaging_product": "whatsapp", "status": "delivered", "message_id": "wamid.x"},
        {"messaging_product": "whatsapp", "status": "read"},
        [1, 2, 3],
    ],
)
async def test_an_invalid_body_gets_error_100(
    graph: FakeGraph, http: httpx.AsyncClient, body: Any
) -> None:
    response = await http.post(f"/{PNID}/messages", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["type"], error["message"]) == (
        100,
        "OAuthException",
        "(#100) Invalid parameter",
    )
    assert error["error_data"]["details"] and error["fbtrace_id"]
    assert graph.sent == [] and graph.marked_read == []


async def test_a_body_that_is_not_json_gets_error_100(http: httpx.AsyncClient) -> None:
    response = await http.post(f"/{PNID}/messages", content=b"{not json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, 100)


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", TEST_TOKEN, f"Basic {TEST_TOKEN}"]
)
async def test_without_the_right_bearer_token_every_path_answers_190(
    graph: FakeGraph, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with loopback_client(base_url=graph.url, headers=headers) as client:
        for method, path in [("POST", f"/v24.0/{PNID}/messages"), ("GET", "/v24.0/123")]:
            response = await client.request(method, path, json=text())
            assert response.status_code == 401
            error = response.json()["error"]
            assert (error["code"], error["type"]) == (190, "OAuthException")
            assert "invalid_token" in response.headers["www-authenticate"]
    assert graph.sent == []
    assert [r.authorized for r in graph.requests] == [False, False]


async def test_the_token_is_recorded_but_never_shown(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    await http.post(f"/{PNID}/messages", json=text())
    graph.fail_next(code=190)
    await http.post(f"/{PNID}/messages", json=text())
    recorded = graph.requests[0]
    assert recorded.authorized
    assert recorded.headers["authorization"] == f"Bearer {TEST_TOKEN}"
    assert TEST_TOKEN not in repr(graph.requests)
    with pytest.raises(TimeoutError) as timeout:
        await graph.wait_for(5, timeout=0.01)
    assert TEST_TOKEN not in str(timeout.value)


# -- recording --------------------------------------------------------------------------------


async def test_requests_are_recorded_with_query_headers_and_body(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    before = time.monotonic()
    await http.post(f"/{PNID}/messages", json=text(), params={"a": "1"})
    await http.post(f"/{PNID}/whatsapp_business_encryption", data={"business_public_key": PEM})
    first, second = graph.requests
    assert (first.method, first.path, first.query, first.params, first.version) == (
        "POST",
        f"/v24.0/{PNID}/messages",
        "a=1",
        {"a": "1"},
        "v24.0",
    )
    assert first.json == text() and json.loads(first.body) == text() and first.form is None
    assert first.headers["content-type"] == "application/json"
    assert first.status == 200 and first.at >= before and first.is_message
    assert second.form == {"business_public_key": PEM} and second.json is None


async def test_other_versions_are_answered_and_unknown_paths_get_404(graph: FakeGraph) -> None:
    async with loopback_client(base_url=graph.url, headers=AUTH) as client:
        ok = await client.post(f"/v23.0/{PNID}/messages", json=text())
        assert ok.status_code == 200
        for method, path in [
            ("GET", f"/v24.0/{PNID}/nothing_here"),
            ("POST", f"/{PNID}/messages"),  # no version
            ("PUT", f"/v24.0/{PNID}/messages"),
            ("GET", "/"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == 100
    assert [r.version for r in graph.requests] == ["v23.0", "v24.0", None, "v24.0", None]
    assert [r.status for r in graph.requests] == [200, 404, 404, 404, 404]
    assert graph.other_versions == ["v23.0"]


async def test_connections_are_kept_alive(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
    assert graph.connections == 1


async def test_expect_100_continue_is_honoured(graph: FakeGraph) -> None:
    port = int(graph.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(text()).encode()
    head = (
        f"POST /v24.0/{PNID}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_TOKEN}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    writer.write(head.encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    writer.write(body)
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    writer.close()
    await graph.wait_for(1)


# -- failure injection ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_fail_next_answers_metas_error_for_each_code(
    graph: FakeGraph, http: httpx.AsyncClient, code: int
) -> None:
    graph.fail_next(code=code)
    response = await http.post(f"/{PNID}/messages", json=text())
    status, message, details, subcode = ERRORS[code]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert (error["code"], error["message"], error["type"]) == (code, message, "OAuthException")
    assert error.get("error_data", {}).get("details", "") == details
    assert error.get("error_subcode") == subcode
    assert error["fbtrace_id"]
    assert "retry-after" not in response.headers
    assert graph.sent == []
    # Only the next one.
    assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
    assert len(graph.sent) == 1


def test_the_statuses_of_the_codes_follow_the_brief() -> None:
    assert ERRORS[190][0] == 401
    assert {code for code, spec in ERRORS.items() if spec[0] == 500} == {1, 131000, 131016}
    assert ERRORS[2][0] == 503
    assert ERRORS[130429][1:] == (
        fixture("send_error_130429.json")["error"]["message"],
        fixture("send_error_130429.json")["error"]["error_data"]["details"],
        fixture("send_error_130429.json")["error"]["error_subcode"],
    )
    for code in (131047, 131056):
        error = fixture(f"send_error_{code}.json")["error"]
        assert ERRORS[code][1:3] == (error["message"], error["error_data"]["details"])


async def test_fail_next_overrides_status_texts_and_sets_retry_after(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    graph.fail_next(code=131056, http_status=429, message="custom", details="why", retry_after=2.5)
    response = await http.post(f"/{PNID}/messages", json=text())
    assert (response.status_code, response.headers["retry-after"]) == (429, "2.5")
    error = response.json()["error"]
    assert (error["code"], error["message"], error["error_data"]["details"]) == (
        131056,
        "custom",
        "why",
    )


async def test_an_unknown_code_gets_a_generic_meta_body(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    graph.fail_next(code=132001, details="template does not exist")
    response = await http.post(f"/{PNID}/messages", json=text())
    error = response.json()["error"]
    assert response.status_code == 400
    assert (error["code"], error["error_data"]["details"]) == (132001, "template does not exist")
    assert error["message"].startswith("(#132001)")


@pytest.mark.parametrize("status", [500, 502])
async def test_a_plain_server_error_is_not_json(
    graph: FakeGraph, http: httpx.AsyncClient, status: int
) -> None:
    graph.fail_next(code=None, http_status=status if status != 500 else None)
    response = await http.post(f"/{PNID}/messages", json=text())
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_failures_apply_in_order_n_times_and_only_to_matching_paths(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    first = graph.fail_next(2, code=131000)
    graph.fail_next(code=2)
    graph.fail_next(code=4, path_contains="/media")
    codes = []
    for _ in range(4):
        response = await http.post(f"/{PNID}/messages", json=text())
        codes.append(response.json()["error"]["code"] if response.status_code != 200 else 0)
    assert codes == [131000, 131000, 2, 0]
    assert (first.hits, first.remaining) == (2, 0)
    assert (await http.get(f"/{PNID}/whatsapp_business_profile")).status_code == 200
    assert (await http.post(f"/{PNID}/media", data={})).json()["error"]["code"] == 4


async def test_unauthorized_requests_do_not_use_up_failures(graph: FakeGraph) -> None:
    graph.fail_next(code=131000)
    async with loopback_client(base_url=graph.url + "/v24.0") as anonymous:
        assert (await anonymous.post(f"/{PNID}/messages", json=text())).status_code == 401
    async with loopback_client(base_url=graph.url + "/v24.0", headers=AUTH) as client:
        assert (await client.post(f"/{PNID}/messages", json=text())).status_code == 500


async def test_fail_when_can_target_sends_and_not_mark_read(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    rule = graph.fail_when(lambda r: r.is_message, code=131047)
    mark_read = await http.post(f"/{PNID}/messages", json=fixture("send_request_mark_read.json"))
    assert mark_read.status_code == 200
    for _ in range(3):
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 400
    assert rule.hits == 3 and rule.remaining is None
    graph.clear_failures()
    assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200


async def test_fail_next_any_path(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    graph.fail_next(code=80007, path_contains=None)
    response = await http.get(f"/{PNID}/whatsapp_business_profile")
    assert response.json()["error"]["code"] == 80007


async def test_delay_holds_the_answer(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    graph.fail_next(code=131016, delay=0.3)
    started = time.monotonic()
    response = await http.post(f"/{PNID}/messages", json=text())
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 500


async def test_drop_closes_the_connection_after_reading_the_request(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    graph.fail_next(drop=True)
    with pytest.raises(httpx.TransportError):
        await http.post(f"/{PNID}/messages", json=text(body="lost"))
    [recorded] = graph.requests
    assert recorded.json == text(body="lost") and recorded.status is None
    assert graph.sent == []
    # The server keeps serving (on a new connection).
    assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
    assert graph.connections == 2


async def test_drop_after_accepting_is_the_ambiguous_send(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    graph.fail_next(drop=True, accept=True, delay=0.05)
    with pytest.raises(httpx.TransportError):
        await http.post(f"/{PNID}/messages", json=text(body="twice?"))
    assert [sent.text for sent in graph.sent] == ["twice?"]


async def test_accept_then_error(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    graph.fail_next(code=131000, accept=True)
    response = await http.post(f"/{PNID}/messages", json=text())
    assert response.status_code == 500 and len(graph.sent) == 1


async def test_delay_next_answers_normally_but_late(graph: FakeGraph) -> None:
    graph.delay_next(1, 0.5)
    async with loopback_client(base_url=graph.url + "/v24.0", headers=AUTH, timeout=0.1) as c:
        with pytest.raises(httpx.ReadTimeout):  # the client gives up; the message went out
            await c.post(f"/{PNID}/messages", json=text(body="slow"))
        assert [sent.text for sent in graph.sent] == ["slow"]
    async with loopback_client(base_url=graph.url + "/v24.0", headers=AUTH) as c:
        graph.delay_next(1, 0.2)
        started = time.monotonic()
        response = await c.post(f"/{PNID}/messages", json=text())
        assert response.status_code == 200 and time.monotonic() - started >= 0.2


# -- rate enforcement -------------------------------------------------------------------------


async def test_no_rate_enforcement_by_default(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    for _ in range(30):
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
    assert graph.throttled == graph.pair_limited == 0


async def test_messages_per_second_answers_130429() -> None:
    async with (
        FakeGraph(messages_per_second=3) as graph,
        loopback_client(base_url=graph.url + "/v24.0", headers=AUTH) as http,
    ):
        codes = []
        for i in range(5):
            response = await http.post(f"/{PNID}/messages", json=text(to=f"1650555000{i}"))
            codes.append(response.json()["error"]["code"] if response.status_code != 200 else 0)
        assert codes == [0, 0, 0, 130429, 130429]
        assert graph.throttled == 2 and len(graph.sent) == 3
        # Mark-read does not count; another phone number id has its own budget.
        assert (
            await http.post(f"/{PNID}/messages", json=fixture("send_request_mark_read.json"))
        ).status_code == 200
        assert (await http.post("/999/messages", json=text())).status_code == 200
        await asyncio.sleep(1.05)
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200


async def test_pair_interval_answers_131056_per_recipient() -> None:
    async with (
        FakeGraph(pair_interval=0.5) as graph,
        loopback_client(base_url=graph.url + "/v24.0", headers=AUTH) as http,
    ):
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
        second = await http.post(f"/{PNID}/messages", json=text(to="+" + USER))
        assert (second.status_code, second.json()["error"]["code"]) == (400, 131056)
        other = await http.post(f"/{PNID}/messages", json=text(to="16505550000"))
        assert other.status_code == 200
        await asyncio.sleep(0.55)
        assert (await http.post(f"/{PNID}/messages", json=text())).status_code == 200
        assert graph.pair_limited == 1 and len(graph.sent) == 3


async def test_pair_burst_allows_a_burst() -> None:
    async with (
        FakeGraph(pair_interval=10, pair_burst=3) as graph,
        loopback_client(base_url=graph.url + "/v24.0", headers=AUTH) as http,
    ):
        statuses = [
            (await http.post(f"/{PNID}/messages", json=text())).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 400] and graph.pair_limited == 1


# -- media ------------------------------------------------------------------------------------


async def test_media_round_trip(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    data = bytes(range(256)) * 40 + b"\r\n--\r\n"  # binary, with CRLF and dashes
    upload = await http.post(
        f"/{PNID}/media",
        data={"messaging_product": "whatsapp", "type": "image/jpeg"},
        files={"file": ("photo.jpg", data, "image/jpeg")},
    )
    assert upload.status_code == 200
    media_id = upload.json()["id"]
    assert set(upload.json()) == set(fixture("media_upload_response.json"))
    assert graph.media[media_id].data == data
    assert graph.media[media_id].filename == "photo.jpg"
    assert graph.requests[0].files["file"].content_type == "image/jpeg"

    info = (await http.get(f"/{media_id}", params={"phone_number_id": PNID})).json()
    assert set(info) == set(fixture("media_info.json"))
    assert (info["id"], info["mime_type"], info["file_size"]) == (media_id, "image/jpeg", len(data))
    assert info["sha256"] == graph.media[media_id].sha256
    assert info["url"].startswith(graph.url + "/")

    download = await http.get(info["url"])
    assert download.status_code == 200
    assert (download.content, download.headers["content-type"]) == (data, "image/jpeg")
    async with loopback_client() as anonymous:
        assert (await anonymous.get(info["url"])).status_code == 401

    deleted = await http.delete(f"/{media_id}")
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert (await http.get(f"/{media_id}")).status_code == 400
    assert (await http.get(info["url"])).status_code == 404
    gone = await http.delete(f"/{media_id}")
    assert (gone.status_code, gone.json()["error"]["error_subcode"]) == (400, 33)


async def test_seeded_media_downloads(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    media_id = graph.add_media(b"OggS voice", "audio/ogg")
    info = (await http.get(f"/{media_id}")).json()
    download = await http.get(info["url"])
    assert (download.content, download.headers["content-type"]) == (b"OggS voice", "audio/ogg")
    tampered = info["url"].replace("hash=", "hash=0")
    assert (await http.get(tampered)).status_code == 404
    assert (await http.get(f"/{media_id}0")).status_code == 400  # unknown id


async def test_media_urls_expire() -> None:
    async with (
        FakeGraph(media_url_ttl=-1) as graph,
        loopback_client(headers=AUTH) as http,
    ):
        media_id = graph.add_media(b"x", "image/png")
        assert (await http.get(graph.media_url(media_id))).status_code == 404


@pytest.mark.parametrize(
    ("data", "files"),
    [
        ({"messaging_product": "whatsapp"}, {"file": ("a.png", b"x", "image/png")}),
        ({"type": "image/png"}, {"file": ("a.png", b"x", "image/png")}),
        ({"messaging_product": "whatsapp", "type": "image/png"}, {"other": ("a", b"x")}),
    ],
)
async def test_an_incomplete_upload_gets_error_100(
    graph: FakeGraph, http: httpx.AsyncClient, data: dict[str, str], files: Any
) -> None:
    response = await http.post(f"/{PNID}/media", data=data, files=files)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 100)
    assert graph.media == {}


# -- Flows key, conversational automation, business profile -----------------------------------


async def test_flows_public_key_round_trip(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    path = f"/{PNID}/whatsapp_business_encryption"
    assert (await http.get(path)).json() == {}
    response = await http.post(path, data={"business_public_key": PEM})
    assert response.json() == {"success": True}
    assert (await http.get(path)).json() == {
        "business_public_key": PEM,
        "business_public_key_signature_status": "VALID",
    }
    bad = await http.post(path, data={"business_public_key": "not a key"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, 100)
    assert graph.business_public_keys == {PNID: PEM}


async def test_conversational_automation_round_trip(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    request = fixture("conversational_automation_request.json")
    response = await http.post(f"/{PNID}/conversational_automation", json=request)
    assert response.json() == {"success": True}
    read = await http.get(f"/{PNID}", params={"fields": "conversational_automation"})
    answer = read.json()
    assert set(answer) == set(fixture("conversational_automation_get_response.json"))
    assert answer == {"conversational_automation": request, "id": PNID}


@pytest.mark.parametrize(
    "body",
    [
        {"prompts": ["a", "b", "c", "d", "e"]},
        {"prompts": ["x" * 81]},
        {"commands": [{"command_name": "x" * 33, "command_description": "d"}]},
        {"commands": [{"command_name": "c", "command_description": "d"}] * 31},
        {"commands": [{"command_name": "c"}]},
        {"enable_welcome_message": "yes"},
    ],
)
async def test_conversational_automation_limits(
    graph: FakeGraph, http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await http.post(f"/{PNID}/conversational_automation", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 100)
    assert graph.conversational_automation == {}


async def test_business_profile_round_trip(http: httpx.AsyncClient) -> None:
    path = f"/{PNID}/whatsapp_business_profile"
    assert (await http.get(path)).json() == {"data": [{"messaging_product": "whatsapp"}]}
    update = {"messaging_product": "whatsapp", "about": "Open 9-5", "websites": ["https://x.test"]}
    assert (await http.post(path, json=update)).json() == {"success": True}
    assert (await http.get(path, params={"fields": "about,websites"})).json() == {"data": [update]}
    assert (await http.post(path, json={"about": "x"})).status_code == 400


# -- waiting ----------------------------------------------------------------------------------


async def test_wait_for_returns_once_enough_messages_arrived(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    async def send_later() -> None:
        for _ in range(2):
            await asyncio.sleep(0.05)
            await http.post(f"/{PNID}/messages", json=text())

    task = asyncio.create_task(send_later())
    sent = await graph.wait_for(2, timeout=5)
    await task
    assert len(sent) == 2


async def test_wait_for_times_out_with_what_it_saw(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    await http.post(f"/{PNID}/messages", json={"bad": True})
    with pytest.raises(TimeoutError, match=r"0 of 1 messages.*-> 400"):
        await graph.wait_for(1, timeout=0.1)


async def test_stopping_with_a_request_in_flight_does_not_hang() -> None:
    async with FakeGraph() as graph:
        graph.fail_next(delay=30)
        client = loopback_client(base_url=graph.url + "/v24.0", headers=AUTH)
        pending = asyncio.create_task(client.post(f"/{PNID}/messages", json=text()))
        while not graph.requests:
            await asyncio.sleep(0.01)
    with pytest.raises(httpx.TransportError):
        await pending
    await client.aclose()


@pytest.mark.parametrize(
    "body",
    [
        {"messaging_product": "whatsapp", "to": USER, "type": ["text"]},
        {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "contacts",
            "contacts": [{"name": "x"}],
        },
        {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "template",
            "template": {"name": "t", "language": "en"},
        },
    ],
)
async def test_odd_bodies_get_error_100_not_a_crash(http: httpx.AsyncClient, body: Any) -> None:
    response = await http.post(f"/{PNID}/messages", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 100)
