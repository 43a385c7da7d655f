"""What the account plane's commands share: the ``--config`` and ``--json`` options, and
:func:`call`, which runs one action with a Graph API client built from the configuration
alone (no queue or plugins are started): a Graph error is one line with Meta's code, a value
Meta would refuse (``ValueError``) a usage error before any request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from wahost.graph import GraphClient

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def with_graph_client(config_path: Path, action: Callable[[GraphClient], Awaitable[T]]) -> T:
    """Run ``action`` with a Graph API client of the configuration at ``config_path``."""
    from wahost.commands import load_command_config
    from wahost.errors import GraphError

    config = load_command_config(config_path)

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
