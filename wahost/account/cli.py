"""The account plane's commands: ``wahost groups ...``, ``wahost block / unblock /
blocked``, ``wahost qr ...``, ``wahost numbers ...``, ``wahost calls ...``.

Each makes its Graph API calls with a client built from the configuration alone (no queue or
plugins are started); a Graph error is one line with Meta's code, a value Meta would refuse is
a usage error before any request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from wahost.account.blocking import BlockedUser, BlockingApi, BlockResult, FailedUser
from wahost.account.calls import CallsApi
from wahost.account.groups import GroupsApi, JoinApprovalMode
from wahost.account.numbers import CodeMethod, PhoneNumber, PhoneNumbersApi
from wahost.account.qr import ImageFormat, QrCode, QrCodesApi
from wahost.graph import GraphClient

T = TypeVar("T")

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    default="config/wahost.toml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The TOML configuration file.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def call(config_path: Path, action: Callable[[GraphClient], Awaitable[T]]) -> T:
    """Run ``action`` with a Graph API client of the configuration at ``config_path``."""
    from wahost.cli import _load
    from wahost.errors import GraphError

    config = _load(config_path)

    async def run() -> T:
        client = GraphClient(config)
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except GraphError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


def echo_json(value: Any) -> None:
    click.echo(json.dumps(msgspec.to_builtins(value), indent=2, ensure_ascii=False))


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
    request_id = call(
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
    page = call(config_path, lambda c: GroupsApi(c).list(limit=limit, after=after))
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
    info = call(config_path, lambda c: GroupsApi(c).get(group_id))
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
    call(config_path, lambda c: GroupsApi(c).delete(group_id))
    click.echo(f"deleted {group_id}")


@groups_group.command("invite-link")
@config_option
@click.argument("group_id")
@click.option("--reset", is_flag=True, help="Make a new link; every older link stops working.")
def groups_invite_link(config_path: Path, group_id: str, reset: bool) -> None:
    """Print the group's invite link (--reset: revoke it and print the new one)."""
    api = GroupsApi.reset_invite_link if reset else GroupsApi.invite_link
    click.echo(call(config_path, lambda c: api(GroupsApi(c), group_id)))


@groups_group.command("requests")
@config_option
@click.argument("group_id")
def groups_requests(config_path: Path, group_id: str) -> None:
    """List the pending join requests of a group."""
    page = call(config_path, lambda c: GroupsApi(c).join_requests(group_id))
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

        result = call(config_path, act)
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
    call(config_path, lambda c: GroupsApi(c).remove_participants(group_id, list(users)))
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

    call(config_path, act)
    click.echo(f"updated {group_id} (group_settings_update confirms)")


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

        result = call(config_path, act)
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
    page = call(config_path, lambda c: BlockingApi(c).blocked(limit=limit, after=after))
    for user in page.users:
        click.echo(user)
    if page.after:
        click.echo(f"more: --after {page.after}")


@click.group("qr")
def qr_group() -> None:
    """QR codes and short links that open a chat with a prefilled message."""


format_option = click.option(
    "--format",
    "image_format",
    type=click.Choice(["PNG", "SVG"]),
    default="PNG",
    show_default=True,
    help="The image's format.",
)


def _echo_qr(qr: QrCode) -> None:
    click.echo(f"{qr.code}  {qr.deep_link_url or ''}  {qr.prefilled_message}")
    if qr.qr_image_url:
        click.echo(f"  image: {qr.qr_image_url}")


@qr_group.command("create")
@config_option
@click.argument("prefilled_message")
@format_option
def qr_create(config_path: Path, prefilled_message: str, image_format: ImageFormat) -> None:
    """Create a code whose chat opens with PREFILLED_MESSAGE (at most 140 characters)."""
    _echo_qr(
        call(
            config_path,
            lambda c: QrCodesApi(c).create(prefilled_message, image_format=image_format),
        )
    )


@qr_group.command("list")
@config_option
@json_option
def qr_list(config_path: Path, as_json: bool) -> None:
    """List the number's codes."""
    codes = call(config_path, lambda c: QrCodesApi(c).list())
    if as_json:
        echo_json(codes)
        return
    for qr in codes:
        _echo_qr(qr)
    if not codes:
        click.echo("no QR codes")


@qr_group.command("show")
@config_option
@click.argument("code")
def qr_show(config_path: Path, code: str) -> None:
    """Show one code."""
    _echo_qr(call(config_path, lambda c: QrCodesApi(c).get(code)))


@qr_group.command("image")
@config_option
@click.argument("code")
@format_option
def qr_image(config_path: Path, code: str, image_format: ImageFormat) -> None:
    """Print the URL of the code's image."""
    click.echo(call(config_path, lambda c: QrCodesApi(c).image_url(code, image_format)))


@qr_group.command("update")
@config_option
@click.argument("code")
@click.argument("prefilled_message")
def qr_update(config_path: Path, code: str, prefilled_message: str) -> None:
    """Change a code's prefilled message (the link stays the same)."""
    _echo_qr(call(config_path, lambda c: QrCodesApi(c).update(code, prefilled_message)))


@qr_group.command("delete")
@config_option
@click.argument("code")
def qr_delete(config_path: Path, code: str) -> None:
    """Delete a code; its link and image stop working."""
    call(config_path, lambda c: QrCodesApi(c).delete(code))
    click.echo(f"deleted {code}")


@click.group("numbers")
def numbers_group() -> None:
    """The business phone numbers: quality and limits, registration, verification, display
    name."""


def _numbers(config_path: Path, action: Callable[[PhoneNumbersApi], Awaitable[T]]) -> T:
    from wahost.cli import _load

    waba_id = _load(config_path).whatsapp.waba_id or None
    return call(config_path, lambda c: action(PhoneNumbersApi(c, waba_id)))


number_option = click.option(
    "--number",
    "phone_number_id",
    default=None,
    help="The phone number id (default: [whatsapp] phone_number_id).",
)


def _echo_number(number: PhoneNumber) -> None:
    click.echo(f"{number.id}  {number.display_phone_number or ''}  {number.verified_name or ''}")
    throughput = (number.throughput or {}).get("level")
    click.echo(
        f"  quality: {number.quality_rating or '-'}  limit: {number.messaging_limit_tier or '-'}"
        f"  throughput: {throughput or '-'}  status: {number.status or '-'}"
    )
    if number.new_display_name:
        click.echo(f"  new display name: {number.new_display_name} ({number.new_name_status})")


@numbers_group.command("list")
@config_option
@json_option
def numbers_list(config_path: Path, as_json: bool) -> None:
    """List the numbers of [whatsapp] waba_id with their quality and limits."""
    found = _numbers(config_path, lambda api: api.list())
    if as_json:
        echo_json(found)
        return
    for number in found:
        _echo_number(number)


@numbers_group.command("show")
@config_option
@json_option
@number_option
def numbers_show(config_path: Path, as_json: bool, phone_number_id: str | None) -> None:
    """Show a number: quality rating, messaging limit, throughput, status, name review."""
    number = _numbers(config_path, lambda api: api.get(phone_number_id))
    if as_json:
        echo_json(number)
    else:
        _echo_number(number)


@numbers_group.command("register")
@config_option
@number_option
@click.option(
    "--pin",
    prompt="Two-step verification PIN",
    hide_input=True,
    envvar="WAHOST_PIN",
    help="The 6-digit two-step PIN (asked without echo; or WAHOST_PIN).",
)
@click.option("--region", default=None, help="Data localization region, e.g. DE.")
def numbers_register(
    config_path: Path, phone_number_id: str | None, pin: str, region: str | None
) -> None:
    """Register the number for the Cloud API (Meta allows 10 per 72 hours)."""
    _numbers(
        config_path,
        lambda api: api.register(
            pin, data_localization_region=region, phone_number_id=phone_number_id
        ),
    )
    click.echo("registered")


@numbers_group.command("deregister")
@config_option
@number_option
@click.confirmation_option(prompt="Deregister the number? It stops sending and receiving.")
def numbers_deregister(config_path: Path, phone_number_id: str | None) -> None:
    """Deregister the number from the Cloud API."""
    _numbers(config_path, lambda api: api.deregister(phone_number_id))
    click.echo("deregistered")


@numbers_group.command("request-code")
@config_option
@number_option
@click.option("--method", type=click.Choice(["SMS", "VOICE"]), default="SMS", show_default=True)
@click.option("--language", default="en_US", show_default=True)
def numbers_request_code(
    config_path: Path, phone_number_id: str | None, method: CodeMethod, language: str
) -> None:
    """Have Meta send a verification code to the number."""
    _numbers(
        config_path,
        lambda api: api.request_code(
            method=method, language=language, phone_number_id=phone_number_id
        ),
    )
    click.echo(f"code requested by {method}")


@numbers_group.command("verify-code")
@config_option
@number_option
@click.argument("code")
def numbers_verify_code(config_path: Path, phone_number_id: str | None, code: str) -> None:
    """Verify the number with the code Meta sent."""
    _numbers(config_path, lambda api: api.verify_code(code, phone_number_id=phone_number_id))
    click.echo("verified")


@numbers_group.command("display-name")
@config_option
@number_option
@click.argument("name")
def numbers_display_name(config_path: Path, phone_number_id: str | None, name: str) -> None:
    """Ask for a new display name (Meta reviews it; `numbers show` follows the review)."""
    _numbers(config_path, lambda api: api.set_display_name(name, phone_number_id=phone_number_id))
    click.echo("requested; review status PENDING_REVIEW until Meta decides")


@click.group("calls")
def calls_group() -> None:
    """Voice calls: a user's call permission, ending a call (answering is a bot's job)."""


@calls_group.command("permission")
@config_option
@json_option
@click.argument("user")
def calls_permission(config_path: Path, as_json: bool, user: str) -> None:
    """Show whether the business may call USER (a phone number or a BSUID) and its limits."""
    permission = call(config_path, lambda c: CallsApi(c).permission(user))
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
    call(config_path, lambda c: CallsApi(c).terminate(call_id))
    click.echo(f"terminated {call_id}")


#: The commands :mod:`wahost.cli` adds at its top level.
COMMANDS = (
    groups_group,
    block_command,
    unblock_command,
    blocked_command,
    qr_group,
    numbers_group,
    calls_group,
)
