"""``wahost qr ...`` (:mod:`wahost.account.qr`)."""

from __future__ import annotations

from pathlib import Path

import click

from wahost.account.commands._common import echo_json, json_option, with_graph_client
from wahost.account.qr import ImageFormat, QrCode, QrCodesApi
from wahost.cli_options import config_option


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
        with_graph_client(
            config_path,
            lambda c: QrCodesApi(c).create(prefilled_message, image_format=image_format),
        )
    )


@qr_group.command("list")
@config_option
@json_option
def qr_list(config_path: Path, as_json: bool) -> None:
    """List the number's codes."""
    codes = with_graph_client(config_path, lambda c: QrCodesApi(c).list())
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
    _echo_qr(with_graph_client(config_path, lambda c: QrCodesApi(c).get(code)))


@qr_group.command("image")
@config_option
@click.argument("code")
@format_option
def qr_image(config_path: Path, code: str, image_format: ImageFormat) -> None:
    """Print the URL of the code's image."""
    click.echo(
        with_graph_client(config_path, lambda c: QrCodesApi(c).image_url(code, image_format))
    )


@qr_group.command("update")
@config_option
@click.argument("code")
@click.argument("prefilled_message")
def qr_update(config_path: Path, code: str, prefilled_message: str) -> None:
    """Change a code's prefilled message (the link stays the same)."""
    _echo_qr(
        with_graph_client(config_path, lambda c: QrCodesApi(c).update(code, prefilled_message))
    )


@qr_group.command("delete")
@config_option
@click.argument("code")
def qr_delete(config_path: Path, code: str) -> None:
    """Delete a code; its link and image stop working."""
    with_graph_client(config_path, lambda c: QrCodesApi(c).delete(code))
    click.echo(f"deleted {code}")
