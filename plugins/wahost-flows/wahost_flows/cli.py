"""``wahost flows``: the endpoint's keys.

* ``wahost flows keygen --out private.pem [--passphrase-env VAR]`` — a new RSA-2048 key,
  PKCS#8, encrypted (PBKDF2-HMAC-SHA256, AES-256-CBC) when a passphrase is given; prints the
  public key.
* ``wahost flows upload-key --config F`` — uploads each endpoint's public key to its phone
  numbers (``POST /<PHONE_NUMBER_ID>/whatsapp_business_encryption``).
* ``wahost flows show-key --config F`` — reads the uploaded key back and compares it with the
  endpoints' keys.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wahost.cli import config_option
from wahost.config import Config, ConfigError, load_config, validate_plugin_settings
from wahost.graph_guard import graph_path_id
from wahost_flows.config import FlowsConfig, check
from wahost_flows.endpoint import FlowEndpoint, load_endpoints
from wahost_flows.keys import (
    generate_private_key,
    public_key_pem,
    same_public_key,
    write_private_key,
)

__all__ = ["flows"]

T = TypeVar("T")


@click.group()
def flows() -> None:
    """WhatsApp Flows: endpoint keys (wahost-flows)."""


@flows.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (PEM, PKCS#8, mode 0600).",
)
@click.option(
    "--passphrase-env",
    metavar="VAR",
    default=None,
    help="Encrypt the key with the passphrase in this environment variable.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def keygen(out: Path, passphrase_env: str | None, force: bool) -> None:
    """Generate an RSA-2048 key pair: write the private key, print the public key."""
    passphrase = None
    if passphrase_env is not None:
        passphrase = os.environ.get(passphrase_env)
        if not passphrase:
            raise click.ClickException(f"environment variable {passphrase_env} is not set or empty")
    key = generate_private_key()
    try:
        write_private_key(out, key, passphrase, overwrite=force)
    except FileExistsError:
        raise click.ClickException(f"{out} exists; use --force to overwrite it") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    state = "encrypted" if passphrase else "NOT encrypted (no --passphrase-env)"
    click.echo(f"wrote {out}: RSA-2048 private key, PKCS#8, {state}", err=True)
    click.echo(public_key_pem(key), nl=False)


def _endpoints(config_path: Path, names: tuple[str, ...]) -> tuple[Config, list[FlowEndpoint]]:
    try:
        config = load_config(config_path)
        settings = validate_plugin_settings(config, {"flows": FlowsConfig}, unknown="ignore")
        flows_config: FlowsConfig = settings["flows"]
        check(flows_config, config.source)
        endpoints = load_endpoints(config, flows_config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not endpoints:
        raise click.ClickException(f"{config_path}: no [[plugins.flows.endpoints]] configured")
    if names:
        unknown = sorted(set(names) - {endpoint.name for endpoint in endpoints})
        if unknown:
            known = ", ".join(endpoint.name for endpoint in endpoints)
            raise click.ClickException(f"no endpoint named {', '.join(unknown)} (known: {known})")
        endpoints = [endpoint for endpoint in endpoints if endpoint.name in names]
    return config, endpoints


def _numbers(config: Config, endpoint: FlowEndpoint, only: tuple[str, ...]) -> list[str]:
    numbers = endpoint.phone_number_ids or config.whatsapp.all_phone_number_ids()
    return [number for number in numbers if not only or number in only]


def _encryption_path(number: str) -> str:
    # The number may come from the command line: checked before it goes in a Graph path.
    return f"/{graph_path_id(number, what='phone number id')}/whatsapp_business_encryption"


def _graph(config: Config, action: Callable[[Any], Awaitable[T]]) -> T:
    from wahost.graph import GraphClient

    async def run() -> T:
        client = GraphClient(config)
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except Exception as exc:  # a Graph error: its message, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


_endpoint_option = click.option(
    "--endpoint", "names", multiple=True, help="Only this endpoint (by name); repeatable."
)
_number_option = click.option(
    "--phone-number-id", "numbers", multiple=True, help="Only this phone number; repeatable."
)


@flows.command("upload-key")
@config_option
@_endpoint_option
@_number_option
def upload_key(config_path: Path, names: tuple[str, ...], numbers: tuple[str, ...]) -> None:
    """Upload each endpoint's public key to its phone numbers."""
    config, endpoints = _endpoints(config_path, names)
    plan: dict[str, FlowEndpoint] = {}
    for endpoint in endpoints:
        for number in _numbers(config, endpoint, numbers):
            other = plan.get(number)
            if other is not None and not same_public_key(
                public_key_pem(other.private_key), endpoint.private_key
            ):
                raise click.ClickException(
                    f"phone number {number}: endpoints {other.name} and {endpoint.name} have "
                    "different keys; a number has one key (set phone_number_ids)"
                )
            plan[number] = endpoint
    if not plan:
        raise click.ClickException("no phone number to upload to")

    async def upload(client: Any) -> None:
        for number, endpoint in plan.items():
            await client.request(
                "POST",
                _encryption_path(number),
                data={"business_public_key": public_key_pem(endpoint.private_key)},
            )
            click.echo(f"uploaded the public key of endpoint {endpoint.name} to {number}")

    _graph(config, upload)


@flows.command("show-key")
@config_option
@_number_option
def show_key(config_path: Path, numbers: tuple[str, ...]) -> None:
    """Print the public key Meta holds for each phone number and whether it matches."""
    config, endpoints = _endpoints(config_path, ())
    wanted = list(numbers) or config.whatsapp.all_phone_number_ids()

    async def show(client: Any) -> None:
        for number in wanted:
            answer = await client.request("GET", _encryption_path(number))
            answer = answer if isinstance(answer, dict) else {}
            pem = answer.get("business_public_key")
            status = answer.get("business_public_key_signature_status", "unknown")
            click.echo(f"# {number}: signature status {status}")
            if not isinstance(pem, str) or not pem:
                click.echo("no public key uploaded")
                continue
            click.echo(pem.strip())
            match = [e.name for e in endpoints if same_public_key(pem, e.private_key)]
            if match:
                click.echo(f"# matches endpoint {', '.join(match)}")
            else:
                click.echo("# does not match any configured endpoint key (run upload-key)")

    _graph(config, show)
