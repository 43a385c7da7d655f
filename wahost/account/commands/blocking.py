"""``wahost block / unblock / blocked`` (:mod:`wahost.account.blocking`)."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import click

from wahost.account.blocking import BlockedUser, BlockingApi, BlockResult, FailedUser
from wahost.account.commands._common import with_graph_client
from wahost.cli_options import config_option
from wahost.graph import GraphClient


def _who(user: BlockedUser | FailedUser) -> str:
    return user.wa_id or user.user_id or user.input or "?"


def _block_command(block: bool) -> click.Command:
    verb = "block" if block else "unblock"

    @config_option
    @click.argument("users", nargs=-1, required=True)
    def command(config_path: Path, users: tuple[str, ...]) -> None:
        def act(client: GraphClient) -> Awaitable[BlockResult]:
            api = BlockingApi(client)
            return (api.block if block else api.unblock)(list(users))

        result = with_graph_client(config_path, act)
        click.echo(f"{verb}ed: {', '.join(_who(u) for u in result.done) or '-'}")
        for failed in result.failed:
            reason = "; ".join(str(e.get("message", e)) for e in failed.errors)
            click.echo(f"failed: {_who(failed)}: {reason}")
        if result.failed:
            raise SystemExit(1)

    command.__doc__ = (
        "Block users (phone numbers or BSUIDs; only users who wrote in the last 24 hours)."
        if block
        else "Unblock users (phone numbers or BSUIDs)."
    )
    return click.command(verb)(command)


block_command = _block_command(True)
unblock_command = _block_command(False)


@click.command("blocked")
@config_option
@click.option("--limit", default=100, show_default=True, help="1 to 1000.")
@click.option("--after", default=None, help="The cursor printed by the previous page.")
def blocked_command(config_path: Path, limit: int, after: str | None) -> None:
    """List the blocked users, one page."""
    page = with_graph_client(
        config_path, lambda c: BlockingApi(c).blocked(limit=limit, after=after)
    )
    for user in page.users:
        click.echo(user)
    if page.after:
        click.echo(f"more: --after {page.after}")
