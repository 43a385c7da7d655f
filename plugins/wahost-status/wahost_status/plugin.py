"""The hook implementations of wahost-status (re-exported by the package, which is the
plugin module the entry point names)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
import pluggy
import structlog

from wahost import Context, Route, SlotKey, Status, Wahost, hookimpl
from wahost.deprecation import moved_names
from wahost_status import hookspecs
from wahost_status.api import routes
from wahost_status.config import StatusConfig
from wahost_status.model import StatusUpdate, parse
from wahost_status.record import SendInfo
from wahost_status.store import load_record, plan_send, plan_status

if TYPE_CHECKING:
    import click

    from wahost.graph import SentMessage

log = structlog.get_logger("wahost_status")

#: The slot of ``ctx.slots`` holding the typed :class:`~wahost_status.StatusUpdate`.
STATUS_UPDATE: SlotKey[StatusUpdate] = SlotKey("wahost_status.status")

#: ``EXTRAS_KEY`` until the next minor release.
__getattr__ = moved_names(__name__, {"EXTRAS_KEY": "wahost_status.plugin.STATUS_UPDATE"})


def settings(host: Wahost) -> StatusConfig:
    """``[plugins.status]`` of ``host`` (the defaults when the plugin is not loaded there)."""
    try:
        return host.plugin_config("status", StatusConfig)
    except KeyError:
        return StatusConfig()


@hookimpl
def wahost_config_schema() -> Mapping[str, type[msgspec.Struct]]:
    return {"status": StatusConfig}


@hookimpl
def wahost_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def register_routes(host: Wahost) -> Iterable[Route]:
    return routes(host, settings(host).api_token)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_status.commands import status

    cli.add_command(status)


@hookimpl
async def on_message_sent(host: Wahost, sent: SentMessage, ctx: Context | None) -> None:
    # Written straight to the store, even inside a unit: the reply outbox does not call this
    # hook again when a failed unit is retried, so a write buffered with the unit's ack
    # would be lost with it. And never raise: the message is already sent, and an exception
    # would make host.send look failed to a caller who may send it again.
    now = datetime.now(UTC)
    send = SendInfo(
        to=sent.to,
        phone_number_id=sent.phone_number_id,
        at=datetime.fromtimestamp(sent.sent_at, UTC) if sent.sent_at else now,
        tracker=sent.callback_data,
        unit=ctx.unit.key if ctx is not None else None,
        wa_id=sent.wa_id,
        ambiguous=sent.ambiguous,
    )
    try:
        await host.state.kv_write(
            plan_send(sent.id, send, at=now, retention=settings(host).retention)
        )
    except Exception as exc:
        log.error("could not record a sent message", wamid=sent.id, error=str(exc))


@hookimpl(tryfirst=True)
async def on_status(host: Wahost, status: Status, ctx: Context) -> None:
    update = parse(status)
    ctx.slots[STATUS_UPDATE] = update
    if not update.wamid:
        return
    record = await load_record(ctx.kv_get, update.wamid)
    transition, writes = plan_status(
        record, update, at=datetime.now(UTC), retention=settings(host).retention
    )
    for write in writes:  # committed with the unit's ack: the status applies exactly once
        assert write.value is not None
        ctx.kv_set(write.namespace, write.key, write.value, ttl=write.ttl)
    if transition.forward:
        await host.dispatch.broadcast(
            "on_message_status",
            unit=ctx.unit,
            status=update,
            record=transition.after,
            ctx=ctx,
        )
