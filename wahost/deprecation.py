"""Old import paths kept working for one release (docs/versioning.md): a name that moved is
still found where it was, with a :class:`DeprecationWarning` naming its new home."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any


def warn_deprecated(message: str, *, stacklevel: int = 3) -> None:
    """A :class:`DeprecationWarning` at the caller's caller (the line that uses the old API)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def warn_deprecated_import(message: str) -> None:
    """A :class:`DeprecationWarning` at the line that imports the calling module, however the
    import got there. ``warnings`` skips importlib's own frames when it counts a stack level,
    but not an import hook's (pytest's assertion rewriter executes the modules of a package
    that ships a pytest plugin, as wahost does), so those are counted here."""
    level = 2  # the deprecated module's own frame
    frame = sys._getframe(1).f_back
    while frame is not None:
        code = frame.f_code
        if "importlib" in code.co_filename and "_bootstrap" in code.co_filename:
            frame = frame.f_back  # skipped by warnings too
            continue
        level += 1
        if code.co_name not in ("exec_module", "load_module"):
            break  # the importer
        frame = frame.f_back
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def moved_names(module: str, moves: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving the names of ``moves`` (``{old name: "new.module.name"}``)
    from their new modules, each access warning that the old path goes in the next minor
    release."""

    def __getattr__(name: str) -> Any:
        target = moves.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, new_name = target.rpartition(".")
        warn_deprecated(
            f"{module}.{name} moved to {target}: import it from there "
            "(the old path is removed in the next minor release)"
        )
        return getattr(importlib.import_module(home), new_name)

    return __getattr__
