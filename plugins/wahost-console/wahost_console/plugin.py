"""The console plugin: its routes, its rate sampler and the journal's hooks.

Every hook does nothing unless ``[console] enabled = true``. The journal's hooks never claim
a message (``on_message`` returns ``None`` and runs first, so it sees every message whoever
handles it) and never fail a unit: an error is logged and swallowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

from wahost.config import ConsoleConfig
from wahost.hookspecs import hookimpl
from wahost_console.web import console_of

if TYPE_CHECKING:
    from wahost.context import Context
    from wahost.graph import SentMessage
    from wahost.host import Wahost
    from wahost.models import Message, Status, WebhookError
    from wahost.web import Route
    from wahost_console.journal import Journal

log = structlog.get_logger("wahost.console")


def _settings(host: Wahost) -> ConsoleConfig | None:
    # Read defensively: these hooks run in every host, embedded ones and test doubles included.
    settings = getattr(getattr(host, "config", None), "console", None)
    return settings if isinstance(settings, ConsoleConfig) else None


def _enabled(host: Wahost) -> bool:
    settings = _settings(host)
    return settings is not None and settings.enabled


def _journal(host: Wahost) -> Journal | None:
    settings = _settings(host)
    if settings is None or not settings.enabled or not settings.history:
        return None
    return console_of(host).journal


@contextmanager
def _never_fails(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # the journal must never make a unit fail
        log.warning("console journal write failed", entry=what, error=repr(exc))


@hookimpl
def register_routes(host: Wahost) -> list[Route] | None:
    """The console's pages and API, only when enabled (else ``/-/console`` is a 404)."""
    if not _enabled(host):
        return None
    from wahost_console.views import routes

    return routes(console_of(host))


@hookimpl
async def wahost_startup(host: Wahost) -> None:
    if _enabled(host):
        await console_of(host).start()
    if _journal(host) is None:
        # Nothing to journal (the console off, or its history): the journal's hooks are left
        # out of every unit and every send rather than called to return at once.
        host.dispatch.skip(before_message, on_status, on_message_sent, on_webhook_error)


@hookimpl
async def wahost_shutdown(host: Wahost) -> None:
    if _enabled(host):
        await console_of(host).stop()


@hookimpl
async def before_message(host: Wahost, message: Message, ctx: Context) -> None:
    """Journal the message before the plugins handle it."""
    journal = _journal(host)
    if journal is not None and ctx.unit.user:
        with _never_fails("message"):
            await journal.message(message, ctx)


@hookimpl
async def on_status(host: Wahost, status: Status, ctx: Context) -> None:
    journal = _journal(host)
    if journal is not None and status.id:
        with _never_fails("status"):
            journal.status(status, ctx)


@hookimpl
async def on_message_sent(host: Wahost, sent: SentMessage, ctx: Context | None) -> None:
    journal = _journal(host)
    if journal is not None:
        with _never_fails("sent"):
            await journal.sent(sent, ctx)


@hookimpl
async def on_webhook_error(host: Wahost, error: WebhookError, ctx: Context) -> None:
    journal = _journal(host)
    if journal is not None:
        with _never_fails("webhook error"):
            journal.webhook_error(error, ctx)
