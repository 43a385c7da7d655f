"""``wahost groups ...``: the Groups API (:mod:`wahost.account.groups`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wahost.account.commands._common import echo_json, json_option, with_graph_client
from wahost.account.groups import GroupsApi, JoinApprovalMode
from wahost.cli_options import config_option
from wahost.graph import GraphClient


@click.group("groups")
def groups_group() -> None:
    """Manage the number's group chats (the Groups API; an Official Business Account only)."""


@groups_group.command("create")
@config_option
@click.argument("subject")
@click.option("--description", default=None, help="At most 2048 characters.")
@click.option("--approval", is_flag=True, help="Join requests need approval.")
def groups_create(config_path: Path, subject: str, description: str | None, approval: bool) -> None:
    """Create a group; its id and invite link come in the group_lifecycle_update webhook."""
    mode: JoinApprovalMode = "approval_required" if approval else "auto_approve"
    request_id = with_graph_client(
        config_path,
        lambda c: GroupsApi(c).create(subject, description=description, join_approval_mode=mode),
    )
    click.echo(f"requested (request_id {request_id or '-'}); the group_create webhook has its id")


@groups_group.command("list")
@config_option
@json_option
@click.option("--limit", default=25, show_default=True, help="1 to 1024.")
@click.option("--after", default=None, help="The cursor printed by the previous page.")
def groups_list(config_path: Path, as_json: bool, limit: int, after: str | None) -> None:
    """List the number's groups, one page."""
    page = with_graph_client(config_path, lambda c: GroupsApi(c).list(limit=limit, after=after))
    if as_json:
        echo_json(page)
        return
    for group in page.groups:
        click.echo(f"{group.id}  {group.subject or ''}")
    if page.after:
        click.echo(f"more: --after {page.after}")


@groups_group.command("show")
@config_option
@json_option
@click.argument("group_id")
def groups_show(config_path: Path, as_json: bool, group_id: str) -> None:
    """Show a group: subject, description, participants, approval mode."""
    info = with_graph_client(config_path, lambda c: GroupsApi(c).get(group_id))
    if as_json:
        echo_json(info)
        return
    click.echo(f"{info.id}: {info.subject or ''}")
    if info.description:
        click.echo(f"  description: {info.description}")
    click.echo(f"  join approval: {info.join_approval_mode}  suspended: {info.suspended}")
    members = [p.wa_id or p.user_id or "?" for p in info.participants or []]
    click.echo(f"  participants ({info.total_participant_count}): {', '.join(members) or '-'}")


@groups_group.command("delete")
@config_option
@click.argument("group_id")
@click.confirmation_option(prompt="Delete the group and remove everyone from it?")
def groups_delete(config_path: Path, group_id: str) -> None:
    """Delete a group (everyone is removed, the business too)."""
    with_graph_client(config_path, lambda c: GroupsApi(c).delete(group_id))
    click.echo(f"deleted {group_id}")


@groups_group.command("invite-link")
@config_option
@click.argument("group_id")
@click.option("--reset", is_flag=True, help="Make a new link; every older link stops working.")
def groups_invite_link(config_path: Path, group_id: str, reset: bool) -> None:
    """Print the group's invite link (--reset: revoke it and print the new one)."""
    api = GroupsApi.reset_invite_link if reset else GroupsApi.invite_link
    click.echo(with_graph_client(config_path, lambda c: api(GroupsApi(c), group_id)))


@groups_group.command("requests")
@config_option
@click.argument("group_id")
def groups_requests(config_path: Path, group_id: str) -> None:
    """List the pending join requests of a group."""
    page = with_graph_client(config_path, lambda c: GroupsApi(c).join_requests(group_id))
    for request in page.requests:
        click.echo(f"{request.join_request_id}  {request.wa_id or request.user_id or ''}")
    if not page.requests:
        click.echo("no pending join requests")


def _answer_requests(approve: bool) -> click.Command:
    verb = "approve" if approve else "reject"

    @config_option
    @click.argument("group_id")
    @click.argument("join_request_ids", nargs=-1, required=True)
    def command(config_path: Path, group_id: str, join_request_ids: tuple[str, ...]) -> None:
        def act(client: GraphClient) -> Any:
            api = GroupsApi(client)
            method = api.approve if approve else api.reject
            return method(group_id, list(join_request_ids))

        result = with_graph_client(config_path, act)
        click.echo(f"{verb}d: {', '.join(result.done) or '-'}")
        for failed in result.failed:
            reason = "; ".join(str(e.get("message", e)) for e in failed.errors)
            click.echo(f"failed: {failed.id}: {reason}")
        if result.failed:
            raise SystemExit(1)

    command.__doc__ = f"{verb.capitalize()} join requests of a group."
    return click.command(verb)(command)


groups_group.add_command(_answer_requests(True))
groups_group.add_command(_answer_requests(False))


@groups_group.command("remove")
@config_option
@click.argument("group_id")
@click.argument("users", nargs=-1, required=True)
def groups_remove(config_path: Path, group_id: str, users: tuple[str, ...]) -> None:
    """Remove participants (at most 8); they cannot rejoin by the invite link."""
    with_graph_client(
        config_path, lambda c: GroupsApi(c).remove_participants(group_id, list(users))
    )
    click.echo(f"removing {', '.join(users)} (group_participants_remove confirms)")


@groups_group.command("set")
@config_option
@click.argument("group_id")
@click.option("--subject", default=None, help="At most 128 characters.")
@click.option("--description", default=None, help="At most 2048 characters; '' clears it.")
@click.option(
    "--picture",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A square JPEG, at least 192x192, at most 5 MB.",
)
def groups_set(
    config_path: Path,
    group_id: str,
    subject: str | None,
    description: str | None,
    picture: Path | None,
) -> None:
    """Change a group's subject, description or picture."""
    if subject is None and description is None and picture is None:
        raise click.UsageError("give --subject, --description or --picture")

    jpeg = picture.read_bytes() if picture is not None else None

    async def act(client: GraphClient) -> None:
        api = GroupsApi(client)
        if jpeg is not None:
            await api.set_picture(group_id, jpeg)
        if subject is not None or description is not None:
            await api.update(group_id, subject=subject, description=description)

    with_graph_client(config_path, act)
    click.echo(f"updated {group_id} (group_settings_update confirms)")
