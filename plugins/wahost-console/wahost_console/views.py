"""The console's pages: overview, dead units, quarantine, conversations, messages, plugins,
and the login form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import quart

from wahost.units import conversation_key
from wahost_console import chat
from wahost_console.auth import COOKIE, Identity
from wahost_console.journal import Entry, SentRecord
from wahost_console.sampler import sparkline
from wahost_console.throttle import Refusal
from wahost_console.web import PREFIX, Console, safe_next, url

if TYPE_CHECKING:
    from wahost.web import Route

PREVIEW_BYTES = 2000


async def overview(console: Console, identity: Identity) -> quart.Response:
    return console.render("overview.html", identity, page="overview", **await _overview(console))


async def overview_api(console: Console, identity: Identity) -> dict[str, Any]:
    return await _overview(console)


async def _overview(console: Console) -> dict[str, Any]:
    stats = msgspec.to_builtins(await console.host.queue.stats())
    sampler = console.sampler
    rate = sampler.rate() if sampler is not None else None
    series = sampler.series() if sampler is not None else []
    others = await console.journal.others() if console.journal is not None else []
    return {
        "stats": stats,
        "rate": rate,
        "points": sparkline(series[-150:]),
        "others": [msgspec.to_builtins(entry) for entry in others],
    }


async def dead(console: Console, identity: Identity) -> quart.Response:
    units = await console.host.queue.list_dead(limit=500)
    return console.render("dead.html", identity, page="dead", units=units)


async def replay(console: Console, identity: Identity) -> quart.Response:
    key = (await quart.request.form).get("key", "")
    replayed = bool(key) and await console.host.queue.replay(key)
    if replayed:
        console.host.wakeup.set()
    log_replay(console, identity, key=key, replayed=replayed)
    return console.redirect(url("/dead"))


async def replay_all(console: Console, identity: Identity) -> quart.Response:
    count = await console.host.queue.replay_all()
    if count:
        console.host.wakeup.set()
    log_replay(console, identity, key="*", replayed=count)
    return console.redirect(url("/dead"))


def log_replay(console: Console, identity: Identity, **values: Any) -> None:
    console.host.log.info("console replay", auth=identity.method, **values)


async def quarantine(console: Console, identity: Identity) -> quart.Response:
    bodies = await console.host.queue.list_quarantine(limit=200)
    rows = [
        {
            "id": body.id,
            "received_at": body.received_at,
            "reason": body.reason,
            "size": len(body.body),
            "preview": body.body[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
        }
        for body in bodies
    ]
    return console.render("quarantine.html", identity, page="quarantine", bodies=rows)


async def conversations(console: Console, identity: Identity) -> quart.Response:
    recent = await console.journal.recent() if console.journal is not None else []
    return console.render(
        "conversations.html",
        identity,
        page="conversations",
        recent=recent,
        history=console.journal is not None,
        numbers=console.host.config.whatsapp.all_phone_number_ids(),
    )


async def conversation(console: Console, identity: Identity) -> quart.Response:
    args = quart.request.args
    key = args.get("key", "").strip()
    user = args.get("user", "").strip()
    if not key and user:
        number = args.get("phone_number_id") or console.host.config.whatsapp.phone_number_id
        key = conversation_key(number.strip(), user)
    if not key:
        return console.redirect(url("/conversations"))
    state = await console.host.state.get(key)
    entries = await console.journal.history(key) if console.journal is not None else []
    return console.render(
        "conversation.html",
        identity,
        page="conversations",
        key=key,
        state=state,
        entries=history_rows(entries),
        history=console.journal is not None,
    )


class HistoryRow(msgspec.Struct, kw_only=True):
    """A line of the history page: an entry, with the statuses of the message it sent."""

    entry: Entry
    statuses: list[Entry] = msgspec.field(default_factory=list)


def history_rows(entries: list[Entry]) -> list[HistoryRow]:
    """The history with each status on the row of the message it is about (sent, delivered
    and read as badges there, not a row each); a status of a message not listed keeps a row."""
    rows: list[HistoryRow] = []
    sent: dict[str, HistoryRow] = {}
    for entry in entries:
        row = sent.get(entry.wamid) if entry.kind == "status" else None
        if row is not None:
            row.statuses.append(entry)
            continue
        row = HistoryRow(entry=entry)
        rows.append(row)
        if entry.kind == "out" and entry.wamid:
            sent[entry.wamid] = row
    return rows


async def message(console: Console, identity: Identity) -> quart.Response:
    wamid = quart.request.args.get("wamid", "").strip()
    record: SentRecord | None = None
    statuses: list[Entry] = []
    if wamid and console.journal is not None:
        record, statuses = await console.journal.lifecycle(wamid)
    return console.render(
        "message.html",
        identity,
        page="conversations",
        wamid=wamid,
        record=record,
        statuses=statuses,
        history=console.journal is not None,
    )


async def plugins(console: Console, identity: Identity) -> quart.Response:
    infos = sorted(console.host.plugins, key=lambda info: (not info.loaded, info.name))
    return console.render("plugins.html", identity, page="plugins", plugins=infos)


async def static(console: Console, identity: Identity, name: str) -> quart.Response:
    return console.static(name) or console.json({"error": "not found"}, status=404)


# -- login --------------------------------------------------------------------------------


async def login(console: Console) -> quart.Response:
    request = quart.request
    target = safe_next(request.args.get("next"))
    if request.method == "GET":
        return console.render("login.html", None, next=target, failed=False, retry_after=0)
    form = await request.form
    auth = console.auth
    target = safe_next(form.get("next"))
    claim = auth.claim_form(
        form.get("token", ""), form.get("username", ""), form.get("password", "")
    )
    admitted = console.admit(claim)
    if isinstance(admitted, Refusal):
        wait = admitted.retry_after
        response = console.render(
            "login.html", None, status=429, next=target, failed=True, retry_after=wait
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if admitted is None:
        return console.render(
            "login.html", None, status=401, next=target, failed=True, retry_after=0
        )
    response = console.redirect(target)
    response.set_cookie(
        COOKIE,
        auth.new_session(),
        max_age=int(auth.session_ttl),
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )
    return response


async def login_style(console: Console) -> quart.Response:
    # The login page needs its style before anyone is logged in; it holds nothing secret.
    return console.static("console.css") or console.json({}, status=404)


async def logout(console: Console, identity: Identity) -> quart.Response:
    if identity.method == "session":
        console.auth.revoke(identity.session)
    response = console.redirect(url("/login"))
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- routes -------------------------------------------------------------------------------


def routes(console: Console) -> list[Route]:
    """Every route of the console, each behind the guard (the login form excepted)."""
    from wahost.web import Route

    def page(view: Any, kind: Any = "page") -> Any:
        async def bound(identity: Identity, **kwargs: Any) -> Any:
            return await view(console, identity, **kwargs)

        bound.__name__ = view.__name__
        return console.guard(bound, kind)

    def public(view: Any) -> Any:
        async def bound() -> quart.Response:
            response: quart.Response = await view(console)
            return response

        bound.__name__ = view.__name__
        return bound

    def route(path: str, view: Any, methods: tuple[str, ...] = ("GET",), name: str = "") -> Route:
        endpoint_name = "wahost_console." + (name or view.__name__)
        # No automatic OPTIONS answer (200 with Allow, to anyone): OPTIONS is a 405 here.
        view.provide_automatic_options = False
        return Route(PREFIX + path, view, methods=list(methods), name=endpoint_name)

    return [
        route("", page(overview)),
        route("/", page(overview), name="overview_slash"),
        route("/api/overview", page(overview_api, "api")),
        route("/dead", page(dead)),
        route("/dead/replay", page(replay), ("POST",)),
        route("/dead/replay-all", page(replay_all), ("POST",)),
        route("/quarantine", page(quarantine)),
        route("/conversations", page(conversations)),
        route("/conversation", page(conversation)),
        route("/message", page(message)),
        route("/plugins", page(plugins)),
        route("/static/<name>", page(static, "api")),
        route("/login", public(login), ("GET", "POST")),
        route("/login/console.css", public(login_style)),
        route("/logout", page(logout), ("POST",)),
        *chat.routes(console, page, route),
    ]
