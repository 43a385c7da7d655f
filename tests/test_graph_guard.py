"""The access token goes only to Meta: the Graph client against the fake Graph API and a
foreign host, both real HTTP servers on loopback (issue 22, item 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost.config import Config, ConfigError
from wahost.graph import GraphClient
from wahost.graph_guard import (
    InvalidGraphIdError,
    TokenHostError,
    TokenPolicy,
    graph_path_id,
)
from wahost.testing import TEST_TOKEN, make_config
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.foreign_host import ForeignHost

BEARER = f"Bearer {TEST_TOKEN}"


def client_config(tmp_path: Path, graph: FakeGraph, **graph_settings: Any) -> Config:
    return make_config(tmp_path, {"whatsapp": {"graph_url": graph.url}, "graph": graph_settings})


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(token=TEST_TOKEN) as fake:
        yield fake


@pytest.fixture
async def elsewhere() -> AsyncIterator[ForeignHost]:
    async with ForeignHost() as host:
        yield host


@pytest.fixture
async def client(tmp_path: Path, graph: FakeGraph) -> AsyncIterator[GraphClient]:
    client = GraphClient(client_config(tmp_path, graph))
    yield client
    await client.aclose()


# -- which hosts get the token ----------------------------------------------------------------


def test_meta_hosts_over_https_get_the_token_and_nothing_else() -> None:
    policy = TokenPolicy("https://graph.facebook.com")
    assert policy.allows("https://graph.facebook.com/v24.0/123")
    assert policy.allows("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
    assert policy.allows("https://LOOKASIDE.fbsbx.com:443/x")
    for url in (
        "http://lookaside.fbsbx.com/x",  # plain http
        "http://graph.facebook.com/v24.0/123",
        "https://lookaside.fbsbx.com:8443/x",  # another port
        "https://lookaside.fbsbx.com.evil.example/x",
        "https://evil.example/lookaside.fbsbx.com",
        "https://lookaside.fbsbx.com@evil.example/x",  # user info: the host is evil.example
        "https://user@lookaside.fbsbx.com/x",  # user info never gets the token
        "https://mmg.whatsapp.net/v/f.enc",  # Flows CDN: pre-signed, needs no token
        "ftp://lookaside.fbsbx.com/x",
    ):
        assert not policy.allows(url), url


def test_the_configured_graph_origin_and_token_hosts_get_the_token() -> None:
    policy = TokenPolicy(
        "http://127.0.0.1:8001",
        ["media-proxy.example", "https://cdn.example:8443", "http://127.0.0.1:8002"],
    )
    assert policy.allows("http://127.0.0.1:8001/v24.0/media")  # the fake Graph API, as configured
    assert not policy.allows("https://127.0.0.1:8001/")  # the origin is scheme, host and port
    assert not policy.allows("http://localhost:8001/")
    assert policy.allows("https://media-proxy.example/file")
    assert not policy.allows("http://media-proxy.example/file")  # a host name means https
    assert not policy.allows("https://media-proxy.example:8443/file")
    assert policy.allows("https://cdn.example:8443/file")
    assert policy.allows("http://127.0.0.1:8002/file")  # plain http only as named
    assert not policy.allows("http://127.0.0.1:8003/file")


@pytest.mark.parametrize(
    "entry",
    ["", "http://", "ftp://proxy.example", "https://proxy.example/path", "proxy.example:8443",
     "https://user@proxy.example", "*.example.com", "https://proxy.example/?q=1"],
)  # fmt: skip
def test_a_bad_token_hosts_entry_fails_at_start_with_the_key(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError) as raised:
        make_config(tmp_path, {"graph": {"token_hosts": ["lookaside.fbsbx.com", entry]}})
    assert raised.value.key == "graph.token_hosts[1]"
    assert "\n" not in str(raised.value)


# -- stream(): the token over real HTTP -----------------------------------------------------


async def test_a_foreign_url_is_refused_before_any_request(
    client: GraphClient, elsewhere: ForeignHost
) -> None:
    url = elsewhere.serve("/whatsapp_business/attachments/", b"stolen?")
    with pytest.raises(TokenHostError) as refused:
        await client.stream(url + "?mid=1&ext=2&hash=3")
    assert elsewhere.requests == []
    message = str(refused.value)
    assert f'"{elsewhere.url}"' in message and "[graph] token_hosts" in message
    assert "<test>" in message  # the config file to edit
    assert "mid=1" not in message  # the origin only, never the URL's signed query
    assert TEST_TOKEN not in message
    # A URL that needs no token is fetched without it.
    response = await client.stream(url, authenticated=False)
    assert await response.aread() == b"stolen?"
    await response.aclose()
    assert elsewhere.authorizations == []


async def test_plain_http_gets_the_token_only_when_token_hosts_names_the_http_origin(
    tmp_path: Path, graph: FakeGraph, elsewhere: ForeignHost
) -> None:
    url = elsewhere.serve("/file", b"data")
    https_only = elsewhere.url.replace("http://", "https://")
    client = GraphClient(client_config(tmp_path, graph, token_hosts=[https_only]))
    try:
        with pytest.raises(TokenHostError, match="plain http"):
            await client.stream(url)
        assert elsewhere.requests == []
    finally:
        await client.aclose()
    client = GraphClient(client_config(tmp_path, graph, token_hosts=[elsewhere.url]))
    try:
        response = await client.stream(url)
        assert await response.aread() == b"data"
        await response.aclose()
    finally:
        await client.aclose()
    assert elsewhere.authorizations == [BEARER]  # the recording server does see a token


async def test_the_graph_origin_keeps_getting_the_token(
    client: GraphClient, graph: FakeGraph
) -> None:
    media_id = graph.add_media(b"\x89PNG data", "image/png")
    response = await client.stream(graph.media_url(media_id))
    assert await response.aread() == b"\x89PNG data"
    await response.aclose()
    assert graph.requests[-1].headers["authorization"] == BEARER


async def test_a_redirect_does_not_carry_the_token_to_another_host(
    tmp_path: Path, graph: FakeGraph, elsewhere: ForeignHost
) -> None:
    async with ForeignHost() as proxy:  # an allowed host (token_hosts) that redirects away
        client = GraphClient(client_config(tmp_path, graph, token_hosts=[proxy.url]))
        try:
            away = proxy.redirect("/media", elsewhere.serve("/file", b"the file"))
            response = await client.stream(away, follow_redirects=True)
            assert await response.aread() == b"the file"
            await response.aclose()
            assert proxy.authorizations == [BEARER]
            assert [r.path for r in elsewhere.requests] == ["/file"]
            assert elsewhere.authorizations == []

            # Once a redirect has left the allowed hosts, the token does not come back.
            back = elsewhere.redirect("/back", proxy.serve("/again", b"again"))
            response = await client.stream(
                proxy.redirect("/out-and-back", back), follow_redirects=True
            )
            assert await response.aread() == b"again"
            await response.aclose()
        finally:
            await client.aclose()
        assert [r.path for r in proxy.requests] == ["/media", "/out-and-back", "/again"]
        assert [r.headers.get("authorization") for r in proxy.requests] == [BEARER, BEARER, None]
        assert elsewhere.authorizations == []


async def test_a_redirect_between_allowed_hosts_keeps_the_token(
    tmp_path: Path, graph: FakeGraph
) -> None:
    # A media proxy (token_hosts) that sends the download on to Meta's URL: httpx's own
    # redirect handling drops the token at any change of origin, this keeps it.
    media_id = graph.add_media(b"\x89PNG data", "image/png")
    async with ForeignHost() as proxy:
        client = GraphClient(client_config(tmp_path, graph, token_hosts=[proxy.url]))
        try:
            moved = proxy.redirect("/media", graph.media_url(media_id), status=307)
            response = await client.stream(moved, follow_redirects=True)
            assert await response.aread() == b"\x89PNG data"
            await response.aclose()
        finally:
            await client.aclose()
    assert proxy.authorizations == [BEARER]
    assert graph.requests[-1].headers["authorization"] == BEARER


# -- ids in Graph paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["../../106540352242922/messages?x=", "1/2", "12?fields=x", "12#x", "12%2F..", "..", ".",
     "1..2", " 12", "12\n", "1 2", "", "12\x00", "\uff11\uff12"],
)  # fmt: skip
def test_an_id_that_is_not_one_path_segment_is_refused(value: str) -> None:
    with pytest.raises(InvalidGraphIdError, match="media id") as refused:
        graph_path_id(value, what="media id")
    assert isinstance(refused.value, ValueError)


def test_meta_ids_are_accepted() -> None:
    for value in ("1003383421387256", "106540352242922", "abc_DEF-12", "1.2"):
        assert graph_path_id(value) == value
