"""``wahost postgres ...``: the schema's version and its upgrade."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg

from wahost.cli_options import config_option
from wahost_postgres.database import PostgresDatabase, SchemaTooNew
from wahost_postgres.schema import SCHEMA_VERSION

T = TypeVar("T")


def _database(config_path: Path) -> PostgresDatabase:
    from wahost.config import ConfigError, load_config
    from wahost.host import StartupError, Wahost
    from wahost.plugins import PluginError
    from wahost_postgres.queue import PostgresQueue

    try:
        config = load_config(config_path, require_secrets=False)
        queue = Wahost(config).make_queue()
    except (ConfigError, PluginError, StartupError) as exc:
        raise click.ClickException(str(exc)) from None
    if not isinstance(queue, PostgresQueue):
        raise click.ClickException(
            f'{config_path}: queue.backend is {queue.name!r}: set it to "postgres"'
        )
    return queue.database


def _run_sql(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except psycopg.Error as exc:
        raise click.ClickException(f"postgres: {str(exc).strip().splitlines()[0]}") from None
    except SchemaTooNew as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def postgres() -> None:
    """The PostgreSQL backend's schema: version, upgrade."""


@postgres.command("version")
@config_option
def version(config_path: Path) -> None:
    """Print the version of the schema's tables and the one this release uses."""
    database = _database(config_path)
    found = _run_sql(database.version())
    click.echo(f"{database.where} schema {database.schema}: version {found}")
    click.echo(f"this release uses version {SCHEMA_VERSION}")


@postgres.command("upgrade")
@config_option
def upgrade(config_path: Path) -> None:
    """Create the schema, or move it forward to this release's version (in one transaction;
    units, leases and state are kept). Processes of the earlier release should be stopped."""
    database = _database(config_path)
    before, after = _run_sql(database.upgrade())
    if before == after:
        click.echo(f"schema {database.schema} is at version {after} already: nothing to do")
    elif before == 0:
        click.echo(f"schema {database.schema} created at version {after}")
    else:
        click.echo(f"schema {database.schema} upgraded from version {before} to {after}")
