"""A host that is not Meta, for tests that the access token never reaches it.

:class:`ForeignHost` is a real HTTP/1.1 server on ``127.0.0.1`` (a free port, another one than
the fake Graph API's) that records every request it receives with its headers, so a test can
assert that no ``Authorization`` header reached it. It answers the files and redirects the
test gives it, and 404 otherwise::

    async with ForeignHost() as elsewhere:
        elsewhere.serve("/file", b"data", "image/png")
        elsewhere.redirect("/moved", "http://127.0.0.1:9/file")
        ...
        assert elsewhere.authorizations == []
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import h11

__all__ = ["ForeignHost", "ForeignRequest"]


@dataclass
class ForeignRequest:
    """One request the foreign host received."""

    method: str
    #: The request target: path and query.
    target: str
    #: Header names in lower case.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class ForeignHost:
    """A loopback HTTP server that records what reached it (see the module documentation)."""

    def __init__(self) -> None:
        self.url = ""
        #: Every request received, in order.
        self.requests: list[ForeignRequest] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._redirects: dict[str, tuple[str, int]] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def authorizations(self) -> list[str]:
        """The ``Authorization`` headers received, in order (none is the point)."""
        return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]

    def serve(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        """Answer GETs of ``path`` (any query) with ``body``; returns its URL."""
        self._files[path] = (body, content_type)
        return f"{self.url}{path}"

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer GETs of ``path`` with a redirect to ``location``; returns its URL."""
        self._redirects[path] = (location, status)
        return f"{self.url}{path}"

    async def __aenter__(self) -> ForeignHost:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                head = await self._read_head(connection, reader)
                if head is None:
                    return
                writer.write(self._answer(connection, head))
                await writer.drain()
                if connection.our_state is not h11.DONE:
                    return
                connection.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_head(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Request | None:
        head: h11.Request | None = None
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.EndOfMessage):
                return head
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _answer(self, connection: h11.Connection, head: h11.Request) -> bytes:
        recorded = ForeignRequest(
            head.method.decode(),
            head.target.decode(),
            {name.decode().lower(): value.decode("latin-1") for name, value in head.headers},
        )
        self.requests.append(recorded)
        headers: list[tuple[str, str]] = []
        if recorded.path in self._redirects:
            location, status = self._redirects[recorded.path]
            body, headers = b"", [("location", location)]
        elif recorded.path in self._files:
            status = 200
            body, content_type = self._files[recorded.path]
            headers = [("content-type", content_type)]
        else:
            status, body = 404, b"not found"
        headers.append(("content-length", str(len(body))))
        out = connection.send(h11.Response(status_code=status, headers=headers)) or b""
        out += connection.send(h11.Data(data=body)) or b""
        return out + (connection.send(h11.EndOfMessage()) or b"")
