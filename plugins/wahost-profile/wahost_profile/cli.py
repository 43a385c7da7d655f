"""``wahost profile pull | diff | push | picture``.

The commands load and validate the configuration like ``wahost serve`` (a ``[plugins.profile]``
that breaks a limit stops them), then talk to the Graph API with a client of their own: they
do not start the host, so no store is opened and no other plugin's start-up runs (and
``apply_on_start`` does not fire).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wahost.account.uploads import upload_file
from wahost.cli_options import config_option
from wahost.commands import host_for_command, run_command
from wahost.errors import CircuitOpenError, GraphError, TransportError
from wahost.graph import GraphClient
from wahost_profile.config import ProfileConfig
from wahost_profile.render import changes_text, live_toml
from wahost_profile.sync import plan, push, read_live, set_profile_picture

__all__ = ["profile"]

T = TypeVar("T")

_number_option = click.option(
    "--phone-number-id",
    "phone_number_id",
    default=None,
    help="The phone number to read or change (default: whatsapp.phone_number_id).",
)


def _graph(
    config_path: Path,
    phone_number_id: str | None,
    action: Callable[[GraphClient, str, ProfileConfig], Awaitable[T]],
) -> T:
    config, host = host_for_command(config_path)
    try:
        settings = host.plugin_config("profile", ProfileConfig)
    except KeyError:
        raise click.ClickException(
            f"{config_path}: the wahost-profile plugin is not enabled ([plugins] enabled)"
        ) from None
    number = phone_number_id or config.whatsapp.phone_number_id

    async def run() -> T:
        client = GraphClient(config)
        try:
            return await action(client, number, settings)
        finally:
            await client.aclose()

    try:
        return run_command(run)
    except (GraphError, TransportError, CircuitOpenError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


@click.group()
def profile() -> None:
    """Commands, ice breakers, welcome message and business profile: pull, diff, push."""


@profile.command("pull")
@config_option
@_number_option
def pull(config_path: Path, phone_number_id: str | None) -> None:
    """Print the live settings as a [plugins.profile] table (TOML)."""

    async def action(client: GraphClient, number: str, _: ProfileConfig) -> str:
        return live_toml(await read_live(client, number))

    click.echo(_graph(config_path, phone_number_id, action), nl=False)


@profile.command("diff")
@config_option
@_number_option
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when push would change.")
def diff(config_path: Path, phone_number_id: str | None, exit_code: bool) -> None:
    """Show what push would change (only the keys [plugins.profile] sets)."""

    async def action(client: GraphClient, number: str, settings: ProfileConfig) -> Any:
        live = await read_live(
            client,
            number,
            automation=settings.manages_automation,
            profile=settings.manages_profile,
        )
        return plan(settings, live)

    changes = _graph(config_path, phone_number_id, action)
    if not changes:
        click.echo("no changes: the live settings match the configuration")
        return
    click.echo(changes_text(changes), nl=False)
    if exit_code:
        raise SystemExit(1)


@profile.command("push")
@config_option
@_number_option
def push_command(config_path: Path, phone_number_id: str | None) -> None:
    """Apply [plugins.profile] to the live settings; sends nothing when nothing differs."""

    async def action(client: GraphClient, number: str, settings: ProfileConfig) -> Any:
        return await push(client, number, settings)

    changes = _graph(config_path, phone_number_id, action)
    if not changes:
        click.echo("nothing to push: the live settings match the configuration")
        return
    click.echo(changes_text(changes), nl=False)
    click.echo(f"pushed {len(changes)} change(s)")


@profile.command("picture")
@config_option
@_number_option
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def picture_command(config_path: Path, phone_number_id: str | None, image: Path) -> None:
    """Set the business profile's picture to IMAGE (a JPEG or PNG), through Meta's resumable
    upload; needs [whatsapp] app_id."""
    if image.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise click.BadParameter(
            "the picture must be a .jpg, .jpeg or .png file", param_hint="IMAGE"
        )

    async def action(client: GraphClient, number: str, _: ProfileConfig) -> str:
        app_id = client.app_id
        if not app_id:
            raise click.ClickException(
                f"{config_path}: whatsapp.app_id: set it to your Meta app's ID (App Dashboard) "
                "to upload the picture"
            )
        handle = await upload_file(client, app_id, image)
        await set_profile_picture(client, number, handle)
        return handle

    _graph(config_path, phone_number_id, action)
    click.echo(f"profile picture set from {image}")
