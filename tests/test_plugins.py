"""Plugin loading from real entry points: isolation, strict mode, selection, clashes, typos.

Each test installs small distributions the way pip would leave them: a module plus a
``*.dist-info`` directory with ``METADATA`` and ``entry_points.txt``, on ``sys.path``.
"""

from __future__ import annotations

import pytest

from wahost.plugins import PluginError, build_plugin_manager

GOOD = """
from wahost import hookimpl

@hookimpl
async def on_message(message, ctx):
    return True

@hookimpl
def wahost_startup(host):
    pass
"""


def by_name(infos: list, name: str):  # type: ignore[no-untyped-def]
    return next(info for info in infos if info.name == name)


def test_entry_point_plugin_is_loaded_with_version_and_hooks(install) -> None:  # type: ignore[no-untyped-def]
    install("wahost-good", "1.2.3", {"wahost-good": "t_good"}, {"t_good": GOOD})
    pm, infos = build_plugin_manager(env="")
    info = by_name(infos, "wahost-good")
    assert info.loaded and info.error is None
    assert info.version == "1.2.3"
    assert info.distribution == "wahost-good"
    assert info.hooks == ["on_message", "wahost_startup"]
    assert pm.get_plugin("wahost-good") is not None


def test_a_plugin_that_fails_to_import_is_recorded_and_the_others_load(install) -> None:  # type: ignore[no-untyped-def]
    install("wahost-good", "1.0", {"wahost-good": "t_good"}, {"t_good": GOOD})
    install(
        "wahost-broken",
        "0.1",
        {"wahost-broken": "t_broken"},
        {"t_broken": "raise ImportError('needs libfoo')\n"},
    )
    _, infos = build_plugin_manager(env="")
    broken = by_name(infos, "wahost-broken")
    assert not broken.loaded
    assert broken.error == "ImportError: needs libfoo"
    assert by_name(infos, "wahost-good").loaded


def test_strict_mode_makes_an_import_failure_fatal(install) -> None:  # type: ignore[no-untyped-def]
    install(
        "wahost-broken",
        "0.1",
        {"wahost-broken": "t_broken2"},
        {"t_broken2": "raise ImportError('needs libfoo')\n"},
    )
    with pytest.raises(PluginError, match="'wahost-broken' failed to load: ImportError"):
        build_plugin_manager(env="", strict=True)


def test_a_misspelled_hook_fails_start_up_naming_the_plugin(install) -> None:  # type: ignore[no-untyped-def]
    source = "from wahost import hookimpl\n\n@hookimpl\ndef on_mesage(message):\n    pass\n"
    install("wahost-typo", "0.1", {"wahost-typo": "t_typo"}, {"t_typo": source})
    with pytest.raises(PluginError, match=r"'wahost-typo'.*on_mesage"):
        build_plugin_manager(env="")


def test_an_implementation_with_an_unknown_argument_fails_naming_the_plugin(install) -> None:  # type: ignore[no-untyped-def]
    source = "from wahost import hookimpl\n\n@hookimpl\ndef on_message(mesage):\n    pass\n"
    install("wahost-badarg", "0.1", {"wahost-badarg": "t_badarg"}, {"t_badarg": source})
    with pytest.raises(PluginError, match=r"'wahost-badarg'.*mesage"):
        build_plugin_manager(env="")


def test_optional_hooks_of_absent_plugins_are_allowed(install) -> None:  # type: ignore[no-untyped-def]
    source = (
        "from wahost import hookimpl\n\n@hookimpl(optionalhook=True)\n"
        "def on_order_paid(order):\n    pass\n"
    )
    install("wahost-optional", "0.1", {"wahost-optional": "t_optional"}, {"t_optional": source})
    _, infos = build_plugin_manager(env="")
    assert by_name(infos, "wahost-optional").loaded


def test_plugins_are_loaded_sorted_by_entry_point_name(install) -> None:  # type: ignore[no-untyped-def]
    install("wahost-zeta", "1", {"zeta": "t_zeta"}, {"t_zeta": GOOD})
    install("wahost-alpha", "1", {"alpha": "t_alpha"}, {"t_alpha": GOOD})
    _, infos = build_plugin_manager(env="")
    names = [info.name for info in infos if not info.builtin]
    assert names.index("alpha") < names.index("zeta")


def test_enabled_disabled_and_env_choose_what_loads(install) -> None:  # type: ignore[no-untyped-def]
    install("wahost-a", "1", {"a": "t_a"}, {"t_a": GOOD})
    install("wahost-b", "1", {"b": "t_b"}, {"t_b": GOOD})

    def loaded(**options) -> set[str]:  # type: ignore[no-untyped-def]
        _, infos = build_plugin_manager(**options)
        return {info.name for info in infos if info.loaded and not info.builtin} & {"a", "b"}

    assert loaded(env="") == {"a", "b"}
    assert loaded(env="", enabled=["a"]) == {"a"}
    assert loaded(env="", disabled=["a"]) == {"b"}
    assert loaded(env="b", enabled=["a"]) == {"b"}  # WAHOST_PLUGINS overrides the config
    assert loaded(env="none") == set()


def test_an_enabled_plugin_that_is_not_installed_is_reported(install) -> None:  # type: ignore[no-untyped-def]
    _, infos = build_plugin_manager(env="", enabled=["wahost-missing"])
    assert (
        by_name(infos, "wahost-missing").error == "enabled in the configuration but not installed"
    )
    with pytest.raises(PluginError, match="not installed"):
        build_plugin_manager(env="", enabled=["wahost-missing"], strict=True)


def test_two_distributions_with_one_entry_point_name_are_a_clash(install) -> None:  # type: ignore[no-untyped-def]
    install("wahost-flows", "1.0", {"flows": "t_flows_a"}, {"t_flows_a": GOOD})
    install("acme-flows", "2.0", {"flows": "t_flows_b"}, {"t_flows_b": GOOD})
    pm, infos = build_plugin_manager(env="")
    clashing = [info for info in infos if info.name == "flows"]
    assert len(clashing) == 2
    assert all(not info.loaded for info in clashing)
    assert all("several distributions" in (info.error or "") for info in clashing)
    assert {"acme-flows 2.0", "wahost-flows 1.0"} <= set(
        clashing[0].error.split(": ", 1)[1].split(", ")  # type: ignore[union-attr]
    )
    assert pm.get_plugin("flows") is None
    with pytest.raises(PluginError, match="several distributions"):
        build_plugin_manager(env="", strict=True)


def test_each_plugin_manager_is_separate() -> None:
    class P:
        __name__ = "p"

    pm1, _ = build_plugin_manager(plugins=[P()], load_entrypoints=False)
    pm2, _ = build_plugin_manager(load_entrypoints=False)
    assert pm1.get_plugin("p") is not None
    assert pm2.get_plugin("p") is None
