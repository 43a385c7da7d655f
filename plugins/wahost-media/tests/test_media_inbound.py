"""Inbound auto-download, end to end: a signed media webhook is posted to a running bot,
wahost-media downloads the file from the fake Graph API before the next plugin sees the
message, and that plugin finds the local path."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import wahost_media

from wahost import Context, Message, hookimpl
from wahost.testing import BotHarness, make_message
from wahost.testing.fake_graph import FakeGraph

PNG = b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(120_000)
PDF = b"%PDF-1.7\n" + random.Random(4).randbytes(80_000)


class Seen:
    """A plugin that records what it finds when a message reaches it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool:
        path = wahost_media.local_path(ctx)
        self.messages.append(
            {
                "id": message.id,
                "path": path,
                "data": path.read_bytes() if path is not None else None,
                "attempt": ctx.attempt,
                "skipped": ctx.slots.get(wahost_media.inbound.MEDIA_SKIPPED),
            }
        )
        return True


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def media_webhook(
    graph: FakeGraph, kind: str, data: bytes, mime: str, *, url: bool = True, **extra: Any
) -> dict[str, Any]:
    """A webhook with one inbound ``kind`` message whose file the fake Graph API holds."""
    media_id = graph.add_media(data, mime)
    obj = {"id": media_id, "mime_type": mime, "sha256": b64_sha256(data), **extra}
    if url:  # since November 2025 Meta sends the URL too (reference/cloudapi.md §8)
        obj["url"] = graph.media_url(media_id)
    return make_message(kind, obj)


def downloads(graph: FakeGraph) -> list[int | None]:
    return [r.status for r in graph.requests if "/whatsapp_business/attachments" in r.path]


@pytest.fixture
def seen() -> Seen:
    return Seen()


async def test_signed_image_webhook_is_downloaded_before_other_plugins(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen, tmp_path: Path
) -> None:
    async with media_app(media={"auto_download": ["image"]}, plugins=(seen,)) as bot:
        webhook = media_webhook(fake_graph, "image", PNG, "image/png", caption="chart")
        response = await bot.post(webhook)  # signed with the app secret
        assert response.status_code == 200
        await bot.idle()
    [message] = seen.messages
    expected = tmp_path / "media" / f"{hashlib.sha256(PNG).hexdigest()}.png"
    assert message["path"] == expected
    assert message["data"] == PNG
    assert message["attempt"] == 1
    # The URL of the webhook was used: no GET /<MEDIA_ID> needed.
    assert [r.path for r in fake_graph.requests] == ["/whatsapp_business/attachments/"]
    assert sorted(p.name for p in expected.parent.iterdir()) == [expected.name]


async def test_without_url_the_url_is_fetched_and_names_are_never_from_the_network(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen, tmp_path: Path
) -> None:
    async with media_app(media={"auto_download": ["document"]}, plugins=(seen,)) as bot:
        webhook = media_webhook(
            fake_graph, "document", PDF, "application/pdf", url=False, filename="../../x.sh"
        )
        await bot.post(webhook)
        await bot.idle()
    [message] = seen.messages
    assert message["path"] == tmp_path / "media" / f"{hashlib.sha256(PDF).hexdigest()}.pdf"
    assert message["data"] == PDF
    assert [r.method for r in fake_graph.requests] == ["GET", "GET"]  # info, then download


async def test_same_content_again_is_not_downloaded_again(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen
) -> None:
    async with media_app(media={"auto_download": ["image"]}, plugins=(seen,)) as bot:
        await bot.post(media_webhook(fake_graph, "image", PNG, "image/png"))
        await bot.idle()
        await bot.post(media_webhook(fake_graph, "image", PNG, "image/png"))
        await bot.idle()
    first, second = seen.messages
    assert first["id"] != second["id"]
    assert first["path"] == second["path"] and second["data"] == PNG
    assert downloads(fake_graph) == [200]


async def test_types_not_enabled_are_left_alone(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen
) -> None:
    async with media_app(media={"auto_download": ["document"]}, plugins=(seen,)) as bot:
        await bot.post(media_webhook(fake_graph, "image", PNG, "image/png"))
        await bot.post(make_message("text", {"body": "hi"}))
        await bot.idle()
    assert [m["path"] for m in seen.messages] == [None, None]
    assert fake_graph.requests == []


async def test_failed_download_is_handled_again_without_using_an_attempt(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen
) -> None:
    # A 503 is Meta's failure, not the plugin's: the unit keeps its lease and is handled again
    # once the Graph API is worth trying ([worker] outage_patience), its attempt not counted.
    async with media_app(media={"auto_download": ["image"]}, plugins=(seen,)) as bot:
        fake_graph.fail_next(1, code=None, http_status=503, path_contains="/attachments")
        await bot.post(media_webhook(fake_graph, "image", PNG, "image/png"))
        await bot.idle()
    [message] = seen.messages  # not seen by the next plugin on the failed try
    assert message["attempt"] == 1
    assert message["data"] == PNG
    assert downloads(fake_graph) == [503, 200]


async def test_checksum_mismatch_fails_the_unit(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen, tmp_path: Path
) -> None:
    async with media_app(
        media={"auto_download": ["image"]}, plugins=(seen,), worker={"max_attempts": 2}
    ) as bot:
        webhook = media_webhook(fake_graph, "image", PNG, "image/png")
        webhook["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["sha256"] = b64_sha256(
            b"other bytes"
        )
        await bot.post(webhook)
        await bot.idle()
        [dead] = await bot.host.queue.list_dead()
    assert "ChecksumMismatchError" in dead.error
    assert seen.messages == []
    assert list((tmp_path / "media").iterdir()) == []


async def test_expired_webhook_url_is_fetched_again(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen
) -> None:
    async with media_app(media={"auto_download": ["image"]}, plugins=(seen,)) as bot:
        fake_graph.media_url_ttl = -60  # the webhook's URL is stale by the time it is used
        webhook = media_webhook(fake_graph, "image", PNG, "image/png")
        fake_graph.media_url_ttl = 300
        await bot.post(webhook)
        await bot.idle()
    [message] = seen.messages
    assert message["data"] == PNG and message["attempt"] == 1
    assert [r.status for r in fake_graph.requests] == [404, 200, 200]


async def test_over_max_bytes_is_not_downloaded_and_logged(
    media_app: Callable[..., BotHarness], fake_graph: FakeGraph, seen: Seen, tmp_path: Path
) -> None:
    settings = {"auto_download": ["image"], "max_bytes": 100_000}
    with structlog.testing.capture_logs() as logs:
        async with media_app(media=settings, plugins=(seen,)) as bot:
            await bot.post(media_webhook(fake_graph, "image", PNG, "image/png"))
            await bot.idle()
    [message] = seen.messages
    assert message["path"] is None
    assert message["skipped"] == "too_large"
    assert list((tmp_path / "media").iterdir()) == []
    [warning] = [e for e in logs if "over max_bytes" in e["event"]]
    assert warning["log_level"] == "warning"
    assert warning["size"] == len(PNG) and warning["max_bytes"] == 100_000


async def test_directory_is_made_at_start_up(
    media_app: Callable[..., BotHarness], tmp_path: Path
) -> None:
    async with media_app(media={"auto_download": ["audio"], "dir": str(tmp_path / "a" / "b")}):
        assert (tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize(("types", "called"), [([], False), (["image"], True)])
async def test_without_auto_download_a_message_costs_the_plugin_no_call(
    media_app: Callable[..., BotHarness], types: list[str], called: bool
) -> None:
    """With nothing to download (the default), ``before_message`` is skipped at start-up."""
    async with media_app(media={"auto_download": types}) as bot:
        functions = {impl.function for impl in bot.host.dispatch.implementations("before_message")}
        assert (wahost_media.before_message in functions) is called
