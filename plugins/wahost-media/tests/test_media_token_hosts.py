"""The access token goes only to Meta when media is downloaded: media info or a signed webhook
naming a foreign host, plain http, a redirect away from an allowed host, a media id that walks
out of its path. The fake Graph API and a foreign host are both real servers on loopback."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import wahost_media

from wahost import Context, Message, Wahost, hookimpl
from wahost.graph_guard import InvalidGraphIdError, TokenHostError
from wahost.testing import (
    TEST_PHONE_NUMBER_ID,
    TEST_TOKEN,
    BotHarness,
    make_config,
    make_message,
)
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.foreign_host import ForeignHost

DATA = random.Random(22).randbytes(50_000)
ATTACHMENTS = "/whatsapp_business/attachments/"


class Seen:
    """A plugin that records the media file each message arrives with."""

    def __init__(self) -> None:
        self.files: list[bytes | None] = []

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool:
        path = wahost_media.local_path(ctx)
        self.files.append(path.read_bytes() if path is not None else None)
        return True


class ElsewhereGraph(FakeGraph):
    """A fake Graph API whose ``GET /<media-id>`` answers a download URL on another server."""

    def __init__(self) -> None:
        super().__init__()
        self.elsewhere = ""

    def media_url(self, media_id: str) -> str:
        return f"{self.elsewhere}{ATTACHMENTS}?mid={media_id}&ext=1&hash=x"


@pytest.fixture
async def elsewhere() -> AsyncIterator[ForeignHost]:
    async with ForeignHost() as host:
        yield host


@pytest.fixture
async def graph() -> AsyncIterator[ElsewhereGraph]:
    async with ElsewhereGraph() as fake:
        yield fake


@pytest.fixture
def started(tmp_path: Path, graph: ElsewhereGraph) -> Callable[..., Any]:
    """``async with started(token_hosts=[...]) as host``: a host with wahost-media sending
    to ``graph``."""

    def start(token_hosts: list[str] | None = None) -> Wahost:
        config = make_config(
            tmp_path,
            {
                "whatsapp": {"graph_url": graph.url},
                "graph": {"token_hosts": token_hosts or []},
                "plugins": {"media": {}},
            },
        )
        return Wahost(config, plugins=[wahost_media], load_entrypoints=False)

    return start


@pytest.mark.parametrize("scheme", ["foreign", "http"])
async def test_media_info_naming_another_host_is_refused_without_sending_the_token(
    started: Callable[..., Wahost],
    graph: ElsewhereGraph,
    elsewhere: ForeignHost,
    tmp_path: Path,
    scheme: str,
) -> None:
    graph.elsewhere = elsewhere.url
    elsewhere.serve(ATTACHMENTS, DATA)
    # "http": the host is allowed over https only, and Graph answered a plain http URL.
    allowed = [elsewhere.url.replace("http://", "https://")] if scheme == "http" else []
    media_id = graph.add_media(DATA, "image/jpeg")
    async with started(token_hosts=allowed) as host:
        media = wahost_media.for_host(host)
        with pytest.raises(TokenHostError) as refused:
            await media.download(media_id, tmp_path / "photo.jpg")
    assert elsewhere.requests == []
    assert "[graph] token_hosts" in str(refused.value)
    assert refused.value.entry == elsewhere.url
    assert not (tmp_path / "photo.jpg").exists()
    # Graph was asked twice: the first URL and a fresh one, both refused.
    assert [r.path for r in graph.requests] == [f"/v24.0/{media_id}"] * 2


async def test_a_signed_webhook_url_on_a_foreign_host_gets_no_token(
    tmp_path: Path, fake_graph: FakeGraph, elsewhere: ForeignHost
) -> None:
    seen = Seen()
    elsewhere.serve(ATTACHMENTS, DATA)
    media_id = fake_graph.add_media(DATA, "image/png")
    image = {
        "id": media_id,
        "mime_type": "image/png",
        "sha256": base64.b64encode(hashlib.sha256(DATA).digest()).decode(),
        "url": f"{elsewhere.url}{ATTACHMENTS}?mid={media_id}",
    }
    settings = {"dir": str(tmp_path / "media"), "auto_download": ["image"]}
    bot = BotHarness(
        tmp_path,
        plugins=[wahost_media, seen],
        config={"plugins": {"media": settings}},
        graph=fake_graph,
    )
    async with bot:
        response = await bot.post(make_message("image", image))
        assert response.status_code == 200
        await bot.idle()
    assert elsewhere.requests == []  # refused before any request, not merely without the header
    assert seen.files == [DATA]  # downloaded from the URL Graph gave for the id instead
    downloads = [r for r in fake_graph.requests if ATTACHMENTS in r.path]
    assert [r.headers["authorization"] for r in downloads] == [f"Bearer {TEST_TOKEN}"]


async def test_a_redirect_away_from_an_allowed_host_is_followed_without_the_token(
    started: Callable[..., Wahost],
    graph: ElsewhereGraph,
    elsewhere: ForeignHost,
    tmp_path: Path,
) -> None:
    async with ForeignHost() as proxy:  # a media proxy the operator allowed in token_hosts
        graph.elsewhere = proxy.url
        proxy.redirect(ATTACHMENTS, elsewhere.serve("/cdn/file", DATA))
        media_id = graph.add_media(DATA, "image/jpeg")
        async with started(token_hosts=[proxy.url]) as host:
            path = await wahost_media.for_host(host).download(media_id, tmp_path / "a.jpg")
    assert path.read_bytes() == DATA  # the SHA-256 from Graph was checked
    assert proxy.authorizations == [f"Bearer {TEST_TOKEN}"]
    assert [r.path for r in elsewhere.requests] == ["/cdn/file"]
    assert elsewhere.authorizations == []


@pytest.mark.parametrize(
    "media_id",
    [f"../../{TEST_PHONE_NUMBER_ID}/messages?x=", "1/../2", "12#", "12%2f", "12 "],
)
async def test_a_media_id_that_leaves_its_path_makes_no_request(
    media: wahost_media.Media, fake_graph: FakeGraph, tmp_path: Path, media_id: str
) -> None:
    for call in (
        media.info(media_id),
        media.delete(media_id),
        media.download(media_id, tmp_path / "x.bin"),
    ):
        with pytest.raises(InvalidGraphIdError, match="media id"):
            await call
    with pytest.raises(ValueError, match="phone number id"):
        await media.upload(b"\x89PNG\r\n\x1a\n", "image/png", phone_number_id="1/../2")
    assert fake_graph.requests == []
    assert fake_graph.sent == []
