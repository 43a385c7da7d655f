"""Bots that run without packaging: ``[bot] modules`` in the configuration, ``--bot`` on the
command line, ``bots=[...]`` in tests.

A bot module is named one of two ways, resolved against a folder (the configuration file's
folder for ``[bot] modules``; the current directory for ``--bot`` and ``bots=["..."]``):

* a **dotted module name** (``mybot``, ``shop.bot``): ``mybot.py`` or the package ``mybot/``
  in that folder, or else a module installed where Python finds it;
* a **path to a .py file** (``bots/mybot.py``, or absolute): imported under its file name
  (``mybot``) from its own folder.

The folder the module is imported from goes first on ``sys.path``, so a bot may import the
modules next to it, and the state machine's ``machine = "mybot:sm"`` finds the same module.

Loading a module registers, like an entry-point plugin: each :class:`~wahost.router.Router`
among its globals (in the order they were defined; a router included in another one runs
through that one only), then the module itself when it has ``@hookimpl`` functions. A module
with neither is refused: it is almost always the wrong module. Every loading path goes
through :func:`import_bot` and :func:`bot_plugins`, and :func:`wahost.plugins.build_plugin_manager`
registers the result after every other plugin, so that the bot is tried first.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import keyword
import sys
import sysconfig
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from wahost.config import Config, ConfigError
from wahost.errors import BotLoadError as BotLoadError
from wahost.hookspecs import PROJECT
from wahost.router import Router

__all__ = [
    "BotLoadError",
    "BotLocation",
    "bot_plugins",
    "configured_bots",
    "import_bot",
    "locate_bot",
    "watched_folders",
]

_IMPL_MARK = f"{PROJECT}_impl"

FIX = (
    "write a module name importable from {folder} (e.g. mybot for {folder}/mybot.py) "
    "or the path of a .py file"
)


@dataclass(frozen=True)
class BotLocation:
    """Where a bot module is, found without importing it."""

    #: The import name (``mybot``, ``shop.bot``).
    module: str
    #: The folder it is imported from (put first on ``sys.path``); ``None``: from ``sys.path``.
    folder: Path | None
    #: Its file, or its package's folder; ``None`` when Python finds it but no file says where.
    origin: Path | None


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def locate_bot(spec: str, base_dir: Path) -> BotLocation:
    """Where the bot module ``spec`` is, resolved against ``base_dir``, without running it.

    Raises :class:`BotLoadError` when there is no such module.
    """
    base = Path(base_dir).absolute()
    fix = FIX.format(folder=base)
    if _is_path(spec):
        file = (base / spec).resolve()
        if file.suffix != ".py":
            raise BotLoadError(f"{spec!r} is not a .py file: {fix}")
        if not file.is_file():
            raise BotLoadError(f"no file {file}: {fix}")
        name = file.stem
        if not name.isidentifier() or keyword.iskeyword(name):
            raise BotLoadError(
                f"{file.name} cannot be imported ({name!r} is not a Python name): rename it"
            )
        return BotLocation(module=name, folder=file.parent, origin=file)
    parts = spec.split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise BotLoadError(f"{spec!r} is neither a module name nor a .py path: {fix}")
    top = parts[0]
    for candidate in (base / f"{top}.py", base / top / "__init__.py"):
        if candidate.is_file():
            origin = candidate if candidate.name != "__init__.py" else candidate.parent
            return BotLocation(module=spec, folder=base, origin=origin)
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise BotLoadError(f"no module {top!r} (no {base / top}.py, no {base / top}/): {fix}")
    if not (found.origin and found.has_location):
        return BotLocation(module=spec, folder=None, origin=None)
    origin = Path(found.origin)
    if origin.name == "__init__.py":
        origin = origin.parent
    return BotLocation(module=spec, folder=None, origin=origin)


def _same_file(module: ModuleType, origin: Path | None) -> bool:
    if origin is None:
        return True
    file = getattr(module, "__file__", None)
    if file is None:
        return False
    here = Path(file).resolve()
    there = origin.resolve()
    return here == there or here == there / "__init__.py"


def _forget(top: str) -> None:
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]


def _where(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}, line {exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "importlib" not in f.filename]
    if own:
        return f" ({own[-1].filename}, line {own[-1].lineno})"
    return ""


def _reason(exc: BaseException) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, SyntaxError):
        text = exc.msg or text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def import_bot(spec: str, base_dir: Path) -> ModuleType:
    """Import the bot module ``spec`` resolved against ``base_dir`` (see the module doc).

    A module already imported from the same file is reused; one of the same name from another
    file is replaced (two bots in one process, as in tests, each get their own). Raises
    :class:`BotLoadError` with a one-line reason, never a traceback.
    """
    location = locate_bot(spec, base_dir)
    top = location.module.partition(".")[0]
    if location.folder is not None:
        folder = str(location.folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        cached = sys.modules.get(top)
        if cached is not None and not _same_file(cached, location.origin):
            _forget(top)
    try:
        if location.folder is not None and top not in sys.modules:
            # From this folder exactly, whatever else sys.path holds under the same name.
            found = importlib.machinery.PathFinder.find_spec(top, [str(location.folder)])
            if found is None or found.loader is None:
                raise BotLoadError(f"no module {top!r} in {location.folder}")
            module = importlib.util.module_from_spec(found)
            sys.modules[top] = module
            try:
                found.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(top, None)
                raise
        return importlib.import_module(location.module)
    except BotLoadError:
        raise
    except Exception as exc:  # the bot's own code failed: one line, never a traceback
        raise BotLoadError(f"importing {spec} failed: {_reason(exc)}{_where(exc)}") from exc


def _is_hookimpl(value: object) -> bool:
    return callable(value) and hasattr(value, _IMPL_MARK)


def bot_plugins(module: ModuleType | Router) -> list[tuple[str, object]]:
    """What registering the bot ``module`` registers, as ``(name, plugin)`` in the order they
    are to be tried: its top-level routers in definition order, then the module itself when
    it has ``@hookimpl`` functions. A :class:`Router` given directly is the only plugin.

    Raises :class:`BotLoadError` when the module has neither.
    """
    if isinstance(module, Router):
        return [(module.__name__, module)]
    values = list(vars(module).values())
    routers: list[Router] = []
    for value in values:
        if isinstance(value, Router) and all(value is not seen for seen in routers):
            routers.append(value)
    included: set[int] = set()
    pending = list(routers)
    while pending:
        for child in pending.pop().routers:
            if id(child) not in included:
                included.add(id(child))
                pending.append(child)
    found: list[tuple[str, object]] = [
        (router.__name__, router) for router in routers if id(router) not in included
    ]
    if any(_is_hookimpl(value) for value in values):
        found.append((module.__name__, module))
    if not found:
        raise BotLoadError(
            f"{module.__name__} defines no Router and no @hookimpl function: "
            "is it the bot's module?"
        )
    return found


def configured_bots(config: Config) -> list[ModuleType]:
    """Import the modules of ``[bot] modules``, resolved against the configuration file's
    folder. Raises :class:`ConfigError` naming the file and ``bot.modules[i]``."""
    modules: list[ModuleType] = []
    for index, spec in enumerate(config.bot.modules):
        try:
            module = import_bot(spec, config.base_dir)
            bot_plugins(module)
        except BotLoadError as exc:
            raise ConfigError(config.source, f"bot.modules[{index}]", str(exc)) from None
        modules.append(module)
    return modules


def _installed(path: Path) -> bool:
    """Whether ``path`` lies among the installed packages (never watched for changes)."""
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return any(path.is_relative_to(root) for root in roots)


def watched_folders(specs: Iterable[tuple[str, Path]]) -> list[Path]:
    """The folders to watch for changes to the bot modules ``(spec, base_dir)``: each file
    module's folder, each package's folder. A module that cannot be found, or that is
    installed among the site packages, adds nothing (the restarted process reports the
    former)."""
    folders: list[Path] = []
    for spec, base_dir in specs:
        try:
            location = locate_bot(spec, base_dir)
        except BotLoadError:
            continue
        origin = location.origin
        if origin is None:
            continue
        folder = (origin if origin.is_dir() else origin.parent).resolve()
        if not _installed(folder) and folder not in folders:
            folders.append(folder)
    return folders
