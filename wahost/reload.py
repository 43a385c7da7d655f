"""``--reload`` of ``wahost serve`` and ``wahost worker``: restart on code changes, for
development only.

The command runs again, without ``--reload``, in a child process; this process watches (with
``watchfiles``) the folders of the bot's modules and the configuration file, and on a change
to a ``.py`` file there, or to the configuration file, stops the child as Ctrl-C does (units in
flight get the usual grace, then it is killed) and starts a new one. A child that fails to
start (a syntax error in the bot) is started again at the next change. Nothing else is
watched: not the installed packages, not the database, not secret files.
"""

from __future__ import annotations

import os
import shlex
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wahost.bots import watched_folders

if TYPE_CHECKING:
    from watchfiles import Change

__all__ = ["SourceFilter", "run_reloading", "watch_targets"]

#: Seconds a stopped child has to finish (the worker's grace is 10 s) before it is killed.
STOP_TIMEOUT = 15


def _configured_modules(config_path: Path) -> list[str]:
    """``[bot] modules`` read straight from the file: a configuration the child refuses is
    still watched, so that fixing it restarts the child."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    bot = data.get("bot")
    modules = bot.get("modules") if isinstance(bot, dict) else None
    if not isinstance(modules, list):
        return []
    return [item for item in modules if isinstance(item, str) and item]


def watch_targets(config_path: Path, bot_specs: Sequence[str]) -> list[Path]:
    """The folders watched: the configuration file's, then each bot module's (``[bot]
    modules`` resolved against the configuration's folder, ``--bot`` against the current
    directory)."""
    config_dir = config_path.resolve().parent
    specs = [(spec, config_dir) for spec in _configured_modules(config_path)]
    specs += [(spec, Path.cwd()) for spec in bot_specs]
    folders: list[Path] = []
    for folder in [config_dir, *watched_folders(specs)]:
        if any(folder.is_relative_to(seen) for seen in folders):
            continue  # watched already: the watch is recursive
        folders = [seen for seen in folders if not seen.is_relative_to(folder)] + [folder]
    return folders


class SourceFilter:
    """The changes that restart the child: a ``.py`` file outside caches, virtual
    environments and version control, or the configuration file itself."""

    def __init__(self, config_path: Path) -> None:
        from watchfiles import DefaultFilter

        self._default = DefaultFilter()
        self._config = os.path.realpath(config_path)

    def __call__(self, change: Change, path: str) -> bool:
        if os.path.realpath(path) == self._config:
            return True
        if not path.endswith(".py") or not self._default(change, path):
            return False
        return "site-packages" not in Path(path).parts


def run_reloading(argv: Sequence[str], config_path: Path, bot_specs: Sequence[str]) -> None:
    """Run ``wahost <argv>`` in a child process, restarted on every change; until Ctrl-C or
    SIGTERM."""
    from watchfiles import run_process

    folders = watch_targets(config_path, bot_specs)
    command = shlex.join([sys.executable, "-m", "wahost.cli", *argv])
    shown = ", ".join(str(folder) for folder in folders)
    click.echo(f"# --reload (for development): watching {shown}", err=True)

    def restarting(changes: set[tuple[Change, str]]) -> None:
        names = sorted({os.path.relpath(path) for _, path in changes})
        click.echo(f"# changed: {', '.join(names)}; restarting", err=True)

    run_process(
        *folders,
        target=command,
        target_type="command",
        watch_filter=SourceFilter(config_path),
        callback=restarting,
        sigint_timeout=STOP_TIMEOUT,
    )
