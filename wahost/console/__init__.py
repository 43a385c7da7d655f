"""Deprecated: the web console moved to the ``wahost-console`` plugin (package
``wahost_console``); this name goes away in the next minor release.

``import wahost.console`` and its submodules (``wahost.console.journal``, ``.web``, ``.auth``,
...) still work, with a :class:`DeprecationWarning`: they are ``wahost_console``'s own modules
under their old names, so objects and ``isinstance`` checks are the same.
"""

from __future__ import annotations

import importlib
import sys

from wahost.deprecation import warn_deprecated_import

MESSAGE = (
    "wahost.console moved to wahost_console (the wahost-console plugin): import it from there "
    "(the old path is removed in the next minor release)"
)
#: The modules of ``wahost_console`` that were importable as ``wahost.console.<name>``.
SUBMODULES = ("auth", "chat", "journal", "plugin", "sampler", "throttle", "views", "web")

warn_deprecated_import(MESSAGE)

try:
    importlib.import_module("wahost_console")
except ModuleNotFoundError as exc:
    if exc.name != "wahost_console":
        raise
    raise ModuleNotFoundError(
        "wahost.console moved to the wahost-console plugin, which is not installed: "
        "pip install wahost-console",
        name=__name__,
    ) from None

for _name in SUBMODULES:
    _module = importlib.import_module(f"wahost_console.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module
    globals()[_name] = _module
