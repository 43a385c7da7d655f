"""``wahost state show|reset``: inspect and reset one conversation in the host's state store."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wahost.cli_options import config_option
from wahost.config import Config, ConfigError, load_config
from wahost.state.base import ConversationState, now
from wahost.units import conversation_key
from wahost_state_machine.engine import BOOKKEEPING

T = TypeVar("T")

_number_option = click.option(
    "--phone-number-id",
    "phone_number_id",
    default=None,
    help="The business phone number id of the conversation [default: whatsapp.phone_number_id].",
)


@click.group()
def state() -> None:
    """Inspect and reset conversations of the state machine.

    A conversation is (phone number id, user); USER is the user's WhatsApp id (their number,
    digits only, as in webhooks) or business-scoped user id.
    """


def _load(config_path: Path) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _with_store(config: Config, action: Callable[[Any], Awaitable[T]]) -> T:
    """Start a host on ``config`` (as ``wahost queue`` does) and run ``action(host.state)``."""
    from wahost.host import StartupError, Wahost
    from wahost.plugins import PluginError

    try:
        host = Wahost(config)
    except (ConfigError, PluginError, StartupError) as exc:
        raise click.ClickException(str(exc)) from None

    async def main() -> T:
        async with host:
            return await action(host.state)

    try:
        return asyncio.run(main())
    except (ConfigError, PluginError, StartupError) as exc:
        raise click.ClickException(str(exc)) from None


def _key(config: Config, phone_number_id: str | None, user: str) -> str:
    if phone_number_id is None:
        phone_number_id = config.whatsapp.phone_number_id
    user = user.strip().removeprefix("+")
    if not user:
        raise click.UsageError("USER must not be empty")
    return conversation_key(phone_number_id, user)


def _when(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "unknown"
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    ago = max(0.0, now() - seconds)
    return f"{moment.isoformat(timespec='seconds')} ({ago:.0f} s ago)"


@state.command("show")
@config_option
@_number_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored state as JSON.")
@click.argument("user")
def show(config_path: Path, phone_number_id: str | None, as_json: bool, user: str) -> None:
    """Show the state and data of USER's conversation."""
    config = _load(config_path)
    key = _key(config, phone_number_id, user)
    stored: ConversationState | None = _with_store(config, lambda store: store.get(key))
    if as_json:
        payload = None
        if stored is not None:
            payload = {"name": stored.name, "data": stored.data, "updated_at": stored.updated_at}
        click.echo(json.dumps({"conversation": key, "state": payload}, indent=2, default=str))
        return
    if stored is None:
        click.echo(f"{key}: no state (the next message starts a new conversation)")
        return
    data = dict(stored.data)
    book = data.pop(BOOKKEEPING, None)
    book = book if isinstance(book, dict) else {}
    click.echo(f"conversation: {key}")
    click.echo(f"state: {stored.name if stored.name is not None else '(none)'}")
    click.echo(f"machine: {book.get('machine', '(none)')}")
    click.echo(f"entered: {_when(book.get('entered_at'))}")
    click.echo(f"last active: {_when(book.get('active_at'))}")
    click.echo("data: " + json.dumps(data, indent=2, sort_keys=True, default=str))


@state.command("reset")
@config_option
@_number_option
@click.argument("user")
def reset(config_path: Path, phone_number_id: str | None, user: str) -> None:
    """Forget USER's conversation (state and data): the next message starts it anew.

    A message being handled at that very moment may still write its result afterwards.
    """
    config = _load(config_path)
    key = _key(config, phone_number_id, user)

    async def clear(store: Any) -> bool:
        existed = await store.get(key) is not None
        await store.clear(key)
        return existed

    existed = _with_store(config, clear)
    click.echo(f"{key}: reset" if existed else f"{key}: had no state")
