"""Fixtures of wahost-media's tests: a host with the plugin against the fake Graph API, and
the fake Graph API in another thread or another process (for sync CLI tests and for memory
measurements that must not count the server's allocations)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wahost_media

from wahost import Wahost
from wahost.testing import BotHarness, make_config
from wahost.testing.fake_graph import FakeGraph


@pytest.fixture
def media_app(tmp_path: Path, fake_graph: FakeGraph) -> Callable[..., BotHarness]:
    """``media_app(media={...}, plugins=[...])``: a bot with wahost-media (first) and more
    plugins, ``[plugins.media]`` set from ``media``, sending to ``fake_graph``."""

    def make(
        *, media: dict[str, Any] | None = None, plugins: tuple[object, ...] = (), **config: Any
    ) -> BotHarness:
        settings = {"dir": str(tmp_path / "media"), **(media or {})}
        sections = {"plugins": {"media": settings}, **config}
        return BotHarness(
            tmp_path, plugins=[wahost_media, *plugins], config=sections, graph=fake_graph
        )

    return make


@pytest.fixture
async def host(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[Wahost]:
    """A started host with wahost-media sending to ``fake_graph``, without the webhook server
    and the worker (for the media API alone)."""
    config = make_config(
        tmp_path,
        {"whatsapp": {"graph_url": fake_graph.url}, "plugins": {"media": {}}},
    )
    async with Wahost(config, plugins=[wahost_media], load_entrypoints=False) as started:
        yield started


@pytest.fixture
def media(host: Wahost) -> wahost_media.Media:
    """The media API of :func:`host`."""
    return wahost_media.for_host(host)


class GraphThread:
    """A :class:`FakeGraph` served by an event loop in another thread."""

    def __init__(self) -> None:
        self.graph = FakeGraph()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self._stop = asyncio.Event()
            async with self.graph:
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(serve())
        self._loop.close()

    def __enter__(self) -> FakeGraph:
        self._thread.start()
        assert self._ready.wait(10), "the fake Graph API did not start"
        return self.graph

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def graph_thread() -> Iterator[FakeGraph]:
    """A fake Graph API on loopback, served from another thread (for sync tests)."""
    with GraphThread() as graph:
        yield graph


_SERVER = """
import asyncio, json, random, sys
from wahost.testing.fake_graph import FakeGraph

async def main(size: int) -> None:
    async with FakeGraph() as graph:
        media_id = graph.add_media(random.Random(7).randbytes(size), "video/mp4")
        sha256 = graph.media[media_id].sha256
        print(json.dumps({"url": graph.url, "media_id": media_id, "sha256": sha256}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main(int(sys.argv[1])))
"""


@pytest.fixture
def graph_process() -> Iterator[Callable[[int], dict[str, str]]]:
    """``graph_process(size)`` starts a fake Graph API in a child process holding one
    ``video/mp4`` media of ``size`` random bytes; returns ``{"url", "media_id", "sha256"}``.
    The child ends when the test does (its stdin closes)."""
    children: list[subprocess.Popen[str]] = []

    def start(size: int) -> dict[str, str]:
        child = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "the fake Graph API process did not start"
        started: dict[str, str] = json.loads(line)
        return started

    yield start
    for child in children:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
