"""``wahost numbers ...`` (:mod:`wahost.account.numbers`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from wahost.account.commands._common import echo_json, json_option, with_graph_client
from wahost.account.numbers import CodeMethod, PhoneNumber, PhoneNumbersApi
from wahost.cli_options import config_option

T = TypeVar("T")


@click.group("numbers")
def numbers_group() -> None:
    """The business phone numbers: quality and limits, registration, verification, display
    name."""


def _numbers(config_path: Path, action: Callable[[PhoneNumbersApi], Awaitable[T]]) -> T:
    from wahost.commands import load_command_config

    waba_id = load_command_config(config_path).whatsapp.waba_id or None
    return with_graph_client(config_path, lambda c: action(PhoneNumbersApi(c, waba_id)))


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
