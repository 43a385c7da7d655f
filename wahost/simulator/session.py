"""A simulation: the bot as configured, a local Graph API, and simulated users.

The bot runs exactly as under ``wahost serve`` — same plugins, same queue and state store, the
same ingress on a real loopback HTTP server and the same worker — except that its Graph API
client talks to a local one (:class:`wahost.testing.FakeGraph`). A simulated user's message is
a webhook built the way Meta builds it, signed with the configured app secret and POSTed to the
webhook path: what works here works in production. What the bot sends arrives at the local
Graph API, is rendered (:mod:`wahost.simulator.render`), and answered with status webhooks —
``sent`` and ``delivered`` at once, ``read`` when the user has seen it (a viewer fetched it
through :meth:`Simulation.items`).

A group chat (reference/cloudapi.md §12) is staged with :meth:`Simulation.add_group`: its
participants write into it (their messages carry the group's ``group_id``), the bot's replies to
the group appear in it, and each of them is answered with one ``sent`` status for the group and
a ``delivered`` and a ``read`` per participant, as Meta does.

The terminal chat (:mod:`wahost.simulator.terminal`) and the console's browser chat both drive
one :class:`Simulation` through :meth:`Simulation.act` and :meth:`Simulation.items`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import structlog

from wahost.config import Config
from wahost.hookspecs import hookimpl
from wahost.host import Wahost
from wahost.server import listening_socket, run_http
from wahost.simulator import SIMULATION
from wahost.simulator.flowform import FormError, form_for, nfm_reply, submit
from wahost.simulator.render import Outgoing, render, to_json
from wahost.testing.fake_graph import Accepted, FakeGraph
from wahost.testing.harness import sign
from wahost.testing.payloads import make_message, make_status, new_wamid
from wahost.worker import Worker

log = structlog.get_logger("wahost.simulator")

#: The simulated user when none is chosen (Meta's documentation uses this number).
DEFAULT_USER = "16505551234"
DEFAULT_NAME = "Simulated user"

_STATUS_ORDER = {"sending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
#: Meta's limit of participants in a group (reference/cloudapi.md §12.1).
GROUP_MAX = 8
#: What a participant can send into a group in the simulator: what a group takes.
_GROUP_VERBS = frozenset({"text", "media"})


@dataclass
class SimulatedGroup:
    """A group chat of the simulation: its id (as the local Graph API knows it), subject and
    participants (numbers; the bot's business number is a member too)."""

    id: str
    subject: str
    participants: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "participants": list(self.participants)}


@dataclass
class Item:
    """One message of a simulated conversation, from the user or from the bot."""

    id: str
    #: The chat the item is in: a user's number, or a group's id.
    user: str
    sender: str  # "user" or "bot"
    time: float
    seq: int = 0
    status: str | None = None
    #: What the bot sent, rendered (bot items).
    outgoing: Outgoing | None = None
    #: What the user sent, as an item dict's fields (user items).
    shown: dict[str, Any] = field(default_factory=dict)
    #: The Flow form currently open on this item (a multi-screen Flow moves it on).
    form: Any = None
    form_done: bool = False
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    #: In a group: the participant who wrote it (user items).
    author: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.outgoing is not None:
            data = to_json(self.outgoing, seq=self.seq, status=self.status, time=self.time)
            if self.form_done or self.form is None:
                data["form"] = None
            elif self.form is not self.outgoing.form:
                data["form"] = _form_json(self.form)
            data["author"] = None  # the bot
            return data
        data = {
            "seq": self.seq,
            "id": self.id,
            "from": self.sender,
            "kind": "text",
            "text": None,
            "header": None,
            "footer": None,
            "media": None,
            "choices": [],
            "choices_label": None,
            "form": None,
            "reaction": None,
            "status": self.status,
            "time": self.time,
            "author": self.author,
        }
        data.update(self.shown)
        return data


def _form_json(form: Any) -> dict[str, Any] | None:
    # The form of a later screen, in the shape render.to_json gives the first one.
    stub = Outgoing(id="", to="", kind="flow", form=form)
    return to_json(stub, seq=0, status=None, time=0.0)["form"]  # type: ignore[no-any-return]


class Simulation:
    """The bot of ``config`` against a local Graph API, chatted with by simulated users.

    ``async with Simulation(config) as sim:`` starts the local Graph API, the host, its HTTP
    server on loopback (``port`` 0: a free one) and its worker; leaving stops them all.
    ``flows`` maps a Flow's name or id to its Flow JSON, so Flow messages open as forms.
    """

    def __init__(
        self,
        config: Config,
        *,
        plugins: Iterable[object] = (),
        bots: Iterable[Any] = (),
        load_entrypoints: bool = True,
        user: str = DEFAULT_USER,
        name: str = DEFAULT_NAME,
        flows: Mapping[str, Mapping[str, Any]] | None = None,
        port: int = 0,
        delivery_delay: float = 0.05,
    ) -> None:
        self._config = config
        self._plugins = tuple(plugins)
        self._bots = tuple(bots)
        self._load_entrypoints = load_entrypoints
        self.default_user = user.lstrip("+")
        self.name = name
        self.flows: dict[str, Mapping[str, Any]] = dict(flows or {})
        self._port = port
        self.delivery_delay = delivery_delay
        self.graph = FakeGraph(token=_TOKEN, api_version=config.whatsapp.api_version)
        self.host: Wahost | None = None
        self.url = ""
        self._items: dict[str, Item] = {}
        self._order: list[Item] = []
        self._seq = 0
        self._changed = asyncio.Condition()
        self._names: dict[str, str] = {self.default_user: name}
        #: Group chats by id (:meth:`add_group`).
        self.groups: dict[str, SimulatedGroup] = {}
        #: User messages the bot marked read before their webhook POST returned.
        self._read_early: set[str] = set()
        self._sock: Any = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._server: asyncio.Task[None] | None = None
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        secrets = config.whatsapp.all_app_secrets()
        self._secret = secrets[0] if secrets else ""

    # -- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Simulation:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.graph.__aenter__()
        self.graph.observers.append(self._observe)
        config = self._local_config()
        host = Wahost(
            config,
            plugins=(*self._plugins, _UnhandledWatch(self)),
            bots=self._bots,
            load_entrypoints=self._load_entrypoints,
        )
        host.slots[SIMULATION] = self
        await host.start()
        self.host = host
        sock = listening_socket(config.server.host) if self._port == 0 else None
        port = sock.getsockname()[1] if sock is not None else self._port
        self.url = f"http://{config.server.host}:{port}"
        self._sock = sock
        self._server = asyncio.create_task(
            run_http(host.asgi(), config.server.host, port, self._stop, sock=sock, engine="uvicorn")
        )
        if config.worker.enabled:
            self._worker = Worker(host)
            self._worker_task = asyncio.create_task(self._worker.run())
        self._http = httpx.AsyncClient(timeout=30)
        await self._wait_listening()
        log.info("simulator started", url=self.url, graph=self.graph.url)

    def _local_config(self) -> Config:
        config = self._config
        whatsapp = msgspec.structs.replace(config.whatsapp, token=_TOKEN, graph_url=self.graph.url)
        server = msgspec.structs.replace(config.server, host="127.0.0.1", port=self._port)
        return msgspec.structs.replace(config, whatsapp=whatsapp, server=server)

    async def _wait_listening(self) -> None:
        assert self._http is not None
        deadline = time.monotonic() + 15
        while True:
            try:
                if (await self._http.get(self.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            if self._server is not None and self._server.done():
                self._server.result()  # the server failed to start: raise its error
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        async with self._changed:  # end the viewers' long polls: the server can stop at once
            self._closing = True
            self._changed.notify_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._worker is not None and self._worker_task is not None:
            await self._worker.stop(grace=5)
            await self._worker_task
        self._stop.set()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server
        if self._sock is not None:
            self._sock.close()
        if self._http is not None:
            await self._http.aclose()
        if self.host is not None:
            await self.host.stop()
        await self.graph.__aexit__(None, None, None)

    # -- what a viewer uses -------------------------------------------------------------------

    @property
    def webhook_url(self) -> str:
        assert self.host is not None
        return self.url + self.host.config.server.webhook_path

    def users(self) -> list[str]:
        """Simulated users so far, the default one first."""
        seen = dict.fromkeys([self.default_user, *(item.user for item in self._order)])
        return [user for user in seen if user not in self.groups]

    def thread(self, user: str | None = None) -> list[Item]:
        """The conversation of ``user`` (default user when ``None``) or of a group (its id),
        oldest first."""
        user = self._chat(user)
        return [item for item in self._order if item.user == user]

    def add_group(self, subject: str, participants: Iterable[str] = ()) -> str:
        """Stage a group chat of the bot with ``participants`` (numbers; the default user
        when none) and return its id. ``ValueError`` for more than 8 participants."""
        members = list(dict.fromkeys(self._user(p) for p in participants)) or [self.default_user]
        if len(members) > GROUP_MAX:
            raise ValueError(f"a group has at most {GROUP_MAX} participants")
        subject = subject.strip() or "Group"
        group_id = self.graph.add_group(members, subject=subject)
        self.groups[group_id] = SimulatedGroup(group_id, subject, members)
        return group_id

    def join(self, group_id: str, user: str) -> None:
        """Add ``user`` to the group (a participant who joined by the invite link)."""
        group = self._group(group_id)
        user = self._user(user)
        if user in group.participants:
            return
        if len(group.participants) >= GROUP_MAX:
            raise ValueError(f"the group is full: {GROUP_MAX} participants at most")
        group.participants.append(user)
        self.graph.groups[group.id].participants.append(user)

    async def items(
        self,
        user: str,
        after: int = 0,
        timeout: float = 0.0,  # noqa: ASYNC109
        *,
        seen: bool = True,
    ) -> dict[str, Any]:
        """``{"items": [...], "last": seq}``: the items of ``user`` changed after ``after``,
        waiting up to ``timeout`` seconds for one. The bot's messages returned count as seen
        by the user (``seen=False``: not), who reads them: their ``read`` status follows."""
        user = self._chat(user)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                changed = [i for i in self._order if i.user == user and i.seq > after]
                remaining = deadline - time.monotonic()
                if changed or remaining <= 0 or self._closing:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        changed.sort(key=lambda item: item.seq)
        if seen:
            for item in changed:
                if item.sender == "bot":
                    item.seen.set()
        last = max([after, *(item.seq for item in changed)])
        return {"items": [item.to_json() for item in changed], "last": last}

    async def wait_for_bot(
        self,
        user: str | None = None,
        n: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[Item]:
        """Wait until ``user`` (or the group of that id) got at least ``n`` messages from the
        bot; returns them."""
        user = self._chat(user)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                got = [i for i in self._order if i.user == user and i.sender == "bot"]
                if len(got) >= n:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(got)} of {n} bot messages after {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def act(
        self, user: str, action: Mapping[str, Any], *, group: str | None = None
    ) -> dict[str, Any]:
        """Do what the user does in the chat; raises ``ValueError`` with the reason when the
        action cannot be done. ``action`` is one of ``{"text": "hi"}``, ``{"choice": [item id,
        n]}``, ``{"form": [item id, {field: value}]}``, ``{"react": [item id, emoji]}``,
        ``{"location": [latitude, longitude, name?]}``, ``{"media": [path, caption?]}``.

        ``group``: the user writes in that group (a text or a file: what a group takes)."""
        user = self._user(user)
        if not isinstance(action, Mapping) or len(action) != 1:
            raise ValueError("an action is an object with one key: text, choice, form, ...")
        ((verb, argument),) = action.items()
        if group is not None and verb not in _GROUP_VERBS:
            raise ValueError(f"{verb}: a group takes texts and files only")
        if verb == "text":
            if not isinstance(argument, str) or not argument.strip():
                raise ValueError("text: an empty message cannot be sent")
            item = await self.send_text(user, argument, group=group)
        elif verb == "choice":
            item_id, n = _pair(argument, "choice")
            item = await self.pick(user, str(item_id), _int(n, "choice"))
        elif verb == "form":
            item_id, values = _pair(argument, "form")
            if not isinstance(values, Mapping):
                raise ValueError("form: the values are an object of field names")
            return await self.submit_form(user, str(item_id), values)
        elif verb == "react":
            item_id, emoji = _pair(argument, "react")
            item = await self.react(user, str(item_id), str(emoji))
        elif verb == "location":
            if not isinstance(argument, list | tuple) or len(argument) not in (2, 3):
                raise ValueError("location: [latitude, longitude] or with a name")
            name = str(argument[2]) if len(argument) == 3 else None
            item = await self.send_location(
                user, _float(argument[0], "latitude"), _float(argument[1], "longitude"), name
            )
        elif verb == "media":
            if isinstance(argument, str):
                argument = [argument]
            if not isinstance(argument, list | tuple) or not 1 <= len(argument) <= 2:
                raise ValueError("media: [path] or [path, caption]")
            caption = str(argument[1]) if len(argument) == 2 else None
            item = await self.send_media(user, Path(str(argument[0])), caption=caption, group=group)
        else:
            raise ValueError(f"unknown action {verb!r}")
        return {"ok": item.status != "failed", "id": item.id, "status": item.status}

    # -- what the user sends ------------------------------------------------------------------

    async def send_text(self, user: str | None, text: str, *, group: str | None = None) -> Item:
        """``user`` sends ``text`` to the bot, or into the group ``group`` (joining it)."""
        shown = {"kind": "text", "text": text}
        return await self._send(user, "text", {"body": text}, shown, group=group)

    async def pick(self, user: str | None, item_id: str, n: int) -> Item:
        """Pick choice ``n`` (1-based) of a bot message: a reply button, a list row, a
        template's quick reply, a location request; a Flow's choice cannot be picked (submit
        its form)."""
        item = self._bot_item(user, item_id)
        assert item.outgoing is not None
        choices = item.outgoing.choices
        if not 1 <= n <= len(choices):
            raise ValueError(f"choice {n}: that message has {len(choices)} choice(s)")
        choice = choices[n - 1]
        reply = dict(choice.reply)
        if not reply:
            raise ValueError(f"choice {n} opens a form: fill it in and submit it")
        kind = str(reply.get("type", ""))
        label = choice.label if kind != "location" else "📍 location"
        return await self._send(
            user,
            kind,
            reply.get(kind),
            {"kind": kind, "text": label},
            context=item.id,
        )

    async def submit_form(
        self, user: str | None, item_id: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Submit the Flow form open on a bot message: the next screen opens, or the Flow
        completes and the bot gets the ``nfm_reply``. ``ValueError`` names a field that is
        wrong."""
        item = self._bot_item(user, item_id)
        assert item.outgoing is not None
        if item.form is None or item.form_done:
            raise ValueError("that message has no open form")
        try:
            result = submit(item.form, values)
        except FormError as exc:
            raise ValueError(str(exc)) from None
        if result.kind == "navigate":
            item.form = form_for(
                self._flow_json(item.outgoing),
                screen=result.screen,
                data=result.data,
                cta=item.form.title,
            )
            await self._touch(item)
            return {"ok": True, "id": item.id, "next": result.screen}
        if result.kind != "complete":
            raise ValueError(result.message or "the Flow cannot go on in the simulator")
        item.form_done = True
        await self._touch(item)
        reply = nfm_reply(result.response or {}, flow_token=item.outgoing.flow_token)
        sent = await self._send(
            user,
            "interactive",
            reply["interactive"],
            {"kind": "flow", "text": "Form sent"},
            context=item.id,
        )
        return {"ok": sent.status != "failed", "id": sent.id, "status": sent.status}

    async def react(self, user: str | None, item_id: str, emoji: str) -> Item:
        item = self._bot_item(user, item_id)
        return await self._send(
            user,
            "reaction",
            {"message_id": item.id, "emoji": emoji},
            {"kind": "reaction", "reaction": {"emoji": emoji, "to": item.id}, "text": None},
        )

    async def send_location(
        self, user: str | None, latitude: float, longitude: float, name: str | None = None
    ) -> Item:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name:
            location["name"] = name
        shown = f"📍 {name or ''} ({latitude}, {longitude})".replace("📍  ", "📍 ")
        return await self._send(user, "location", location, {"kind": "location", "text": shown})

    async def send_media(
        self, user: str | None, path: Path, *, caption: str | None = None, group: str | None = None
    ) -> Item:
        """Send a file as Meta would deliver it: held by the local Graph API under a media id
        the bot can download, with the type from its MIME type (into ``group`` if given)."""
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind = _media_kind(mime, path)
        media_id = self.graph.add_media(data, mime, filename=path.name)
        obj: dict[str, Any] = {"id": media_id, "mime_type": mime, "sha256": _sha256(data)}
        if kind == "document":
            obj["filename"] = path.name
        if caption and kind in ("image", "video", "document"):
            obj["caption"] = caption
        if kind == "audio":
            obj["voice"] = False
        shown = {
            "kind": kind,
            "text": None,
            "media": {"type": kind, "name": path.name, "caption": caption},
        }
        return await self._send(user, kind, obj, shown, group=group)

    async def _send(
        self,
        user: str | None,
        kind: str,
        obj: Any,
        shown: dict[str, Any],
        *,
        context: str | None = None,
        group: str | None = None,
    ) -> Item:
        user = self._user(user)
        assert self.host is not None and self._http is not None
        wamid = new_wamid(user)
        extra: dict[str, Any] = {}
        if group is not None:
            self.join(group, user)
            extra["group_id"] = group  # the only marker of a group message (§12.2)
        payload = make_message(
            kind,
            obj,
            sender=user,
            wamid=wamid,
            name=self._names.get(user, self.name),
            phone_number_id=self.host.config.whatsapp.phone_number_id,
            context=context,
            **extra,
        )
        item = Item(
            id=wamid,
            user=group or user,
            sender="user",
            time=time.time(),
            shown=shown,
            author=user if group is not None else None,
        )
        item.status = "sending"
        await self._add(item)
        ok = await self._post(payload)
        item.status = "sent" if ok else "failed"
        if item.id in self._read_early:
            item.status = "read"
        await self._touch(item)
        return item

    # -- the webhook path ---------------------------------------------------------------------

    async def _post(self, payload: Mapping[str, Any]) -> bool:
        """POST a webhook, signed like Meta's; True when the bot stored it (200). Meta retries
        a 5xx: so does this, a few times."""
        assert self._http is not None
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": sign(body, self._secret),
        }
        for attempt in range(5):
            try:
                response = await self._http.post(self.webhook_url, content=body, headers=headers)
            except httpx.TransportError as exc:
                log.warning("simulator webhook failed", error=str(exc))
                response = None
            if response is not None and response.status_code == 200:
                return True
            if response is not None and response.status_code < 500:
                log.warning("simulator webhook refused", status=response.status_code)
                return False
            await asyncio.sleep(0.2 * 2**attempt)
        return False

    # -- what the bot sends ---------------------------------------------------------------------

    def _observe(self, event: str, subject: Any) -> None:
        if event == "message":
            self._spawn(self._bot_message(subject))
        elif event == "read":
            self._spawn(self._bot_read(str(subject)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bot_message(self, accepted: Accepted) -> None:
        try:
            outgoing = render(accepted.body, wamid=accepted.wamid, flows=self.flows)
        except Exception as exc:  # render never raises by contract; a bug must not kill the chat
            log.error("could not render a message", error=str(exc))
            return
        item = Item(
            id=accepted.wamid, user=accepted.wa_id, sender="bot", time=time.time(), status="sent"
        )
        item.outgoing = outgoing
        item.form = outgoing.form
        await self._add(item)
        await self._status(item, "sent")
        await asyncio.sleep(self.delivery_delay)
        await self._status(item, "delivered")
        await item.seen.wait()
        await self._status(item, "read")

    async def _status(self, item: Item, status: str) -> None:
        assert self.host is not None
        pnid = self.host.config.whatsapp.phone_number_id
        group = self.groups.get(item.user)
        if group is None:
            payloads = [make_status(item.id, status, recipient=item.user, phone_number_id=pnid)]
        else:
            # One sent for the group, a delivered and a read per participant (§12.4).
            members: list[str | None] = [None] if status == "sent" else list(group.participants)
            payloads = [
                make_status(
                    item.id,
                    status,
                    recipient=group.id,
                    recipient_type="group",
                    participant=member,
                    phone_number_id=pnid,
                )
                for member in members
            ]
        posted = [await self._post(payload) for payload in payloads]
        if all(posted) and _STATUS_ORDER[status] > _STATUS_ORDER.get(item.status or "sending", 0):
            item.status = status
            await self._touch(item)

    async def _bot_read(self, wamid: str) -> None:
        """The bot marked a user's message as read: blue ticks on it."""
        item = self._items.get(wamid)
        if item is None or item.status == "sending":
            self._read_early.add(wamid)  # answered before our POST returned
            return
        if item.sender == "user" and item.status != "read":
            item.status = "read"
            await self._touch(item)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _chat(self, chat: str | None) -> str:
        """A chat: a group's id, or a user's number."""
        if chat is not None and chat in self.groups:
            return chat
        return self._user(chat)

    def _group(self, group_id: str) -> SimulatedGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise ValueError(f"no group {group_id!r} in this simulation")
        return group

    def _user(self, user: str | None) -> str:
        if user is None or not str(user).strip():
            return self.default_user
        digits = str(user).strip().lstrip("+")
        if not digits.isdigit() or not 5 <= len(digits) <= 15:
            raise ValueError(f"user {user!r}: a phone number in international form, digits only")
        return digits

    def _bot_item(self, user: str | None, item_id: str) -> Item:
        item = self._items.get(item_id)
        if item is None or item.sender != "bot" or item.user != self._user(user):
            raise ValueError(f"no message {item_id!r} from the bot to this user")
        return item

    def _flow_json(self, outgoing: Outgoing) -> Mapping[str, Any] | None:
        for key in (outgoing.flow_name, outgoing.flow_id):
            if key and key in self.flows:
                return self.flows[key]
        return None

    async def _add(self, item: Item) -> None:
        self._items[item.id] = item
        self._order.append(item)
        await self._touch(item)

    async def _touch(self, item: Item) -> None:
        async with self._changed:
            self._seq += 1
            item.seq = self._seq
            self._changed.notify_all()


class _UnhandledWatch:
    """Marks a user's message that no plugin handled, so the chat shows it (the host's own
    fallback only logs it, at a level the simulator does not show by default)."""

    __name__ = "wahost.simulator"

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    @hookimpl
    async def on_unhandled(self, message: Any) -> None:
        item = self.sim._items.get(message.id)
        if item is not None and not item.shown.get("unhandled"):
            item.shown["unhandled"] = True
            await self.sim._touch(item)
        # None: the built-in fallback still runs and logs it.


_TOKEN = "wahost-simulator-local-token"


def load_flows(directory: Path) -> dict[str, Mapping[str, Any]]:
    """Flow JSON files of a directory, by file name without ``.json`` (a Flow's name or id)."""
    flows: dict[str, Mapping[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a Flow JSON file: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("screens"), list):
            flows[path.stem] = data
    return flows


def _pair(argument: Any, verb: str) -> tuple[Any, Any]:
    if not isinstance(argument, list | tuple) or len(argument) != 2:
        raise ValueError(f"{verb}: expected [message id, value]")
    return argument[0], argument[1]


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _media_kind(mime: str, path: Path) -> str:
    if path.suffix.lower() == ".webp":
        return "sticker"
    major = mime.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
