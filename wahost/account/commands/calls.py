"""``wahost calls ...`` (:mod:`wahost.account.calls`)."""

from __future__ import annotations

from pathlib import Path

import click

from wahost.account.calls import CallsApi
from wahost.account.commands._common import echo_json, json_option, with_graph_client
from wahost.cli_options import config_option


@click.group("calls")
def calls_group() -> None:
    """Voice calls: a user's call permission, ending a call (answering is a bot's job)."""


@calls_group.command("permission")
@config_option
@json_option
@click.argument("user")
def calls_permission(config_path: Path, as_json: bool, user: str) -> None:
    """Show whether the business may call USER (a phone number or a BSUID) and its limits."""
    permission = with_graph_client(config_path, lambda c: CallsApi(c).permission(user))
    if as_json:
        echo_json(permission)
        return
    click.echo(f"{user}: {permission.status}")
    for action in permission.actions:
        limits = ", ".join(
            f"{limit.current_usage}/{limit.max_allowed} per {limit.time_period}"
            for limit in action.limits
        )
        allowed = "yes" if action.can_perform_action else "no"
        click.echo(f"  {action.action_name}: {allowed}" + (f" ({limits})" if limits else ""))


@calls_group.command("terminate")
@config_option
@click.argument("call_id")
def calls_terminate(config_path: Path, call_id: str) -> None:
    """End a call in progress."""
    with_graph_client(config_path, lambda c: CallsApi(c).terminate(call_id))
    click.echo(f"terminated {call_id}")
