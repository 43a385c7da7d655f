"""Sending files from a handler: uploaded first, then sent by id; the same content is
uploaded once (across messages, restarts and workers sharing the store)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wahost_media
from wahost_media.cache import NAMESPACE

from wahost import Context, Message, Wahost, hookimpl
from wahost.testing import TEST_PHONE_NUMBER_ID, BotHarness, make_message
from wahost.testing.fake_graph import FakeGraph

PNG = b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(50_000)
OGG = b"OggS\x00\x02" + random.Random(9).randbytes(9_000)


class Sender:
    """Replies to each text ``<what>`` with the file ``files[<what>]``: ``(source, options)``."""

    def __init__(self, files: dict[str, tuple[Any, dict[str, Any]]]) -> None:
        self.files = files

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool:
        source, options = self.files[message.text.body]  # type: ignore[attr-defined]
        options = dict(options)
        if options.pop("to_other", False):
            await wahost_media.send_media(ctx, "15550001111", source, **options)
        else:
            await wahost_media.reply_media(ctx, source, **options)
        return True


def uploads(graph: FakeGraph) -> int:
    return sum(1 for r in graph.requests if r.method == "POST" and r.path.endswith("/media"))


async def test_reply_with_a_path_uploads_then_sends_by_id(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    chart.write_bytes(PNG)
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7\nreport")
    sender = Sender(
        {
            "chart": (chart, {"caption": "Today"}),
            "report": (report, {"caption": "Q3"}),
            "voice": (OGG, {"mime_type": "audio/ogg", "voice": True}),
            "sticker": (b"RIFF\0\0\0\0WEBPVP8 " + bytes(100), {}),
            "other": (chart, {"to_other": True}),
        }
    )
    async with media_app(plugins=(sender,)) as bot:
        for word in ("chart", "report", "voice", "sticker", "other"):
            await bot.post(make_message("text", {"body": word}))
        await bot.idle()
    image, document, audio, sticker, other = fake_graph.sent
    assert image.type == "image" and image["image"]["caption"] == "Today"
    assert fake_graph.media[image["image"]["id"]].data == PNG
    assert document["document"] == {
        "id": document["document"]["id"],
        "caption": "Q3",
        "filename": "report.pdf",
    }
    assert audio["audio"] == {"id": audio["audio"]["id"], "voice": True}
    assert fake_graph.media[audio["audio"]["id"]].mime_type == "audio/ogg"
    assert sticker.type == "sticker"
    assert other.to == "15550001111" and other["image"]["id"] == image["image"]["id"]


async def test_same_content_is_uploaded_once_and_survives_a_restart(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    chart.write_bytes(PNG)
    sender = Sender({"path": (chart, {}), "bytes": (PNG, {"caption": "again"})})
    async with media_app(plugins=(sender,)) as bot:
        await bot.post(make_message("text", {"body": "path"}))
        await bot.post(make_message("text", {"body": "bytes"}))
        await bot.idle()
    assert uploads(fake_graph) == 1
    async with media_app(plugins=(sender,)) as bot:  # a new process on the same store
        await bot.post(make_message("text", {"body": "path"}))
        await bot.idle()
        cached = await bot.host.state.kv_scan(NAMESPACE)
    assert uploads(fake_graph) == 1
    ids = {sent.message.media.id for sent in fake_graph.sent}
    assert len(fake_graph.sent) == 3 and len(ids) == 1
    assert any(key.startswith(f"content:{TEST_PHONE_NUMBER_ID}:image/png:") for key, _ in cached)


async def test_cache_can_be_turned_off_and_expires(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph
) -> None:
    sender = Sender({"a": (PNG, {})})
    async with media_app(media={"upload_cache": False}, plugins=(sender,)) as bot:
        await bot.post(make_message("text", {"body": "a"}))
        await bot.post(make_message("text", {"body": "a"}))
        await bot.idle()
    assert uploads(fake_graph) == 2
    async with media_app(media={"upload_cache_ttl": 0.05}, plugins=(sender,)) as bot:
        media = wahost_media.for_host(bot.host)
        first = await media.upload(PNG, "image/png", reuse=True)
        assert await media.upload(PNG, "image/png", reuse=True) == first
        await _sleep(0.1)
        assert await media.upload(PNG, "image/png", reuse=True) != first


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_cached_id_meta_refuses_is_forgotten_and_the_retry_uploads_again(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph
) -> None:
    sender = Sender({"a": (PNG, {})})
    async with media_app(plugins=(sender,)) as bot:
        stale = await wahost_media.for_host(bot.host).upload(PNG, "image/png", reuse=True)
        fake_graph.fail_when(
            lambda r: r.is_message and r.json["image"]["id"] == stale,
            times=1,
            code=131053,
            http_status=400,
            message="(#131053) Media upload error",
        )
        await bot.post(make_message("text", {"body": "a"}))
        await bot.idle()
    [sent] = fake_graph.sent
    assert sent.message.media.id != stale
    assert uploads(fake_graph) == 2


async def test_links_are_sent_without_upload(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph
) -> None:
    sender = Sender(
        {
            "a": ("https://example.com/files/menu.pdf?v=2", {"caption": "Menu"}),
            "b": ("https://example.com/x", {"kind": "image"}),
        }
    )
    async with media_app(plugins=(sender,)) as bot:
        await bot.post(make_message("text", {"body": "a"}))
        await bot.post(make_message("text", {"body": "b"}))
        await bot.idle()
    document, image = fake_graph.sent
    assert document["document"]["link"] == "https://example.com/files/menu.pdf?v=2"
    assert image["image"] == {"link": "https://example.com/x"}
    assert uploads(fake_graph) == 0


async def test_media_message_errors(host: Wahost) -> None:
    with pytest.raises(ValueError, match="a sticker takes no caption"):
        await wahost_media.media_message(host, b"RIFF\0\0\0\0WEBP", caption="no")
    with pytest.raises(ValueError, match="pass kind="):
        await wahost_media.media_message(host, "https://example.com/x")
