"""Options the ``wahost`` commands share, for the core's command modules and plugins'
``register_commands`` alike (importing it does not import :mod:`wahost.cli`)."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_CONFIG = "config/wahost.toml"

#: ``--config`` / ``-c``: the configuration file, passed as ``config_path``.
config_option = click.option(
    "--config",
    "-c",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The TOML configuration file.",
)
