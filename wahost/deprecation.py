"""Old import paths kept working for one release (docs/versioning.md): a name that moved is
still found where it was, with a :class:`DeprecationWarning` naming its new home."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def warn_deprecated(message: str, *, stacklevel: int = 3) -> None:
    """A :class:`DeprecationWarning` at the caller's caller (the line that uses the old API)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


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
