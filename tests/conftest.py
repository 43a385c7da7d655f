"""Shared fixtures of wahost's own tests."""

from __future__ import annotations

import asyncio
import importlib
import ssl
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Install a fake distribution: ``install(dist, version, {ep_name: module}, {module: src})``."""
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    added: list[str] = []

    def add(dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[wahost]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            added.append(module)
        importlib.invalidate_caches()

    yield add
    sys.path.remove(str(site))
    for module in added:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


class RawServer:
    """A loopback HTTP/1.1 server reading each request (headers and ``Content-Length`` body)
    and answering it with ``answer(writer)`` (bytes written as they are): the answers the fake
    Graph API does not make — a server that closes idle keep-alive connections, a body cut
    short, an answer that is not HTTP."""

    def __init__(
        self,
        answer: Callable[[asyncio.StreamWriter], Awaitable[None]],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                await self.answer(writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
def raw_server() -> type[RawServer]:
    """:class:`RawServer`, for the HTTP client tests: ``async with raw_server(answer) as s``."""
    return RawServer
