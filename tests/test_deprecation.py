"""A deprecated hook (docs/versioning.md): it still fires, and start-up warns, naming each plugin
that still implements it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from wahost import hookimpl
from wahost.hookspecs import MODES, _spec, hookspec
from wahost.host import Wahost
from wahost.plugins import build_plugin_manager
from wahost.testing.harness import make_config


def _provider() -> types.ModuleType:
    """A plugin that adds two hooks of its own, one of them deprecated."""
    specs = types.ModuleType("loyalty_hookspecs")

    @hookspec(warn_on_impl=DeprecationWarning("use on_points_awarded"))
    def on_points_added(user: str) -> None:
        """**Deprecated:** use ``on_points_awarded``."""

    @hookspec
    def on_points_awarded(user: str) -> None:
        """Points were awarded."""

    specs.on_points_added = on_points_added  # type: ignore[attr-defined]
    specs.on_points_awarded = on_points_awarded  # type: ignore[attr-defined]
    provider = types.ModuleType("loyalty")

    @hookimpl
    def wahost_add_hookspecs(pluginmanager: object) -> None:
        pluginmanager.add_hookspecs(specs)  # type: ignore[attr-defined]

    provider.wahost_add_hookspecs = wahost_add_hookspecs  # type: ignore[attr-defined]
    return provider


class OldStyle:
    __name__ = "old_style"
    seen: list[str] = []

    @hookimpl
    def on_points_added(self, user: str) -> None:
        self.seen.append(user)


class NewStyle:
    __name__ = "new_style"

    @hookimpl
    def on_points_awarded(self, user: str) -> None:
        pass


def test_start_up_warns_naming_the_plugin_and_the_hook_still_fires(tmp_path: Path) -> None:
    old = OldStyle()
    with capture_logs() as logs, pytest.warns(DeprecationWarning, match="on_points_awarded"):
        host = Wahost(
            make_config(tmp_path), plugins=[_provider(), old, NewStyle()], load_entrypoints=False
        )
    warnings = [entry for entry in logs if entry["event"] == "plugin implements a deprecated hook"]
    assert [(w["plugin"], w["hook"], w["instead"]) for w in warnings] == [
        ("old_style", "on_points_added", "use on_points_awarded")
    ]
    assert host.plugin("old_style").deprecated == ["on_points_added: use on_points_awarded"]  # type: ignore[union-attr]
    assert host.plugin("new_style").deprecated == []  # type: ignore[union-attr]
    host.pm.hook.on_points_added(user="16505551234")  # still fires
    assert old.seen == ["16505551234"]


def test_a_core_hook_marked_deprecated_is_reported_too() -> None:
    specs = types.ModuleType("core_like")

    def on_legacy_event(host: object) -> None:
        """**Deprecated:** use ``on_event``."""

    specs.on_legacy_event = _spec("broadcast", deprecated="use on_event")(on_legacy_event)  # type: ignore[attr-defined]

    class Legacy:
        __name__ = "legacy"

        @hookimpl
        def on_legacy_event(self, host: object) -> None:
            pass

    provider = types.ModuleType("core_like_provider")

    @hookimpl
    def wahost_add_hookspecs(pluginmanager: object) -> None:
        pluginmanager.add_hookspecs(specs)  # type: ignore[attr-defined]

    provider.wahost_add_hookspecs = wahost_add_hookspecs  # type: ignore[attr-defined]
    try:
        with pytest.warns(DeprecationWarning, match="use on_event"):
            _, infos = build_plugin_manager(plugins=[provider, Legacy()], load_entrypoints=False)
    finally:
        MODES.pop("on_legacy_event", None)
    [legacy] = [info for info in infos if info.name == "legacy"]
    assert legacy.deprecated == ["on_legacy_event: use on_event"]
    assert all(not info.deprecated for info in infos if info.name != "legacy")


def test_an_import_path_that_moved_still_works_for_one_release_and_warns() -> None:
    import wahost
    import wahost.host

    with pytest.warns(DeprecationWarning, match=r"wahost\.host\.Route moved to wahost\.web\.Route"):
        from wahost.host import Route
    assert Route is wahost.Route
    with pytest.raises(AttributeError, match="no_such_name"):
        wahost.host.no_such_name  # noqa: B018


def test_the_cli_helpers_plugins_imported_privately_still_work_and_warn() -> None:
    import wahost.cli
    import wahost.commands

    with pytest.warns(DeprecationWarning, match=r"wahost\.cli\._run moved to wahost\.commands"):
        assert wahost.cli._run is wahost.commands.run_command  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="host_for_command"):
        from wahost.cli import _running  # type: ignore[attr-defined]  # noqa: F401


# -- a module that moved: wahost.console is the wahost-console plugin --------------------------


def _forget_old_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import ``wahost.console`` afresh in this test (its warning fires at the first import)."""
    for name in list(sys.modules):
        if name == "wahost.console" or name.startswith("wahost.console."):
            monkeypatch.delitem(sys.modules, name)


def test_the_old_console_import_path_warns_and_is_the_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin = pytest.importorskip("wahost_console")
    _forget_old_console(monkeypatch)
    moved_to = r"wahost\.console moved to wahost_console"
    with pytest.warns(DeprecationWarning, match=moved_to) as caught:
        from wahost.console.journal import NAMESPACE, Journal
    [moved] = [w for w in caught if "wahost_console" in str(w.message)]
    assert moved.filename == __file__  # the line that imports it, not importlib's
    assert Journal is plugin.journal.Journal and NAMESPACE == "wahost.console"
    import wahost.console

    assert wahost.console.web is plugin.web
    assert sys.modules["wahost.console.plugin"] is plugin.plugin


def test_the_old_console_import_path_without_the_plugin_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _forget_old_console(monkeypatch)
    monkeypatch.setitem(sys.modules, "wahost_console", None)  # not installed
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(ModuleNotFoundError, match="pip install wahost-console"),
    ):
        import wahost.console  # noqa: F401
