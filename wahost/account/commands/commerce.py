"""``wahost commerce show / set`` (:mod:`wahost.account.commerce`)."""

from __future__ import annotations

from pathlib import Path

import click

from wahost.account.commands._common import with_graph_client
from wahost.account.commerce import CommerceApi
from wahost.cli_options import config_option


@click.group("commerce")
def commerce_group() -> None:
    """Commerce settings: the cart and the catalog's visibility."""


@commerce_group.command("show")
@config_option
def commerce_show(config_path: Path) -> None:
    """Show whether the cart is on and the catalog visible."""
    settings = with_graph_client(config_path, lambda c: CommerceApi(c).get())
    click.echo(f"cart: {'on' if settings.is_cart_enabled else 'off'}")
    click.echo(f"catalog: {'visible' if settings.is_catalog_visible else 'hidden'}")


@commerce_group.command("set")
@config_option
@click.option("--cart/--no-cart", default=None, help="Turn the cart on or off.")
@click.option("--catalog/--no-catalog", default=None, help="Show or hide the catalog.")
def commerce_set(config_path: Path, cart: bool | None, catalog: bool | None) -> None:
    """Turn the cart on or off, show or hide the catalog."""
    if cart is None and catalog is None:
        raise click.UsageError("give --cart/--no-cart or --catalog/--no-catalog")
    with_graph_client(
        config_path, lambda c: CommerceApi(c).set(cart_enabled=cart, catalog_visible=catalog)
    )
    click.echo("updated")
