"""Building a host's plugin manager: built-in defaults, entry points, explicit plugins.

One :class:`pluggy.PluginManager` per host, never a module global (a global manager leaks
plugins between apps and tests). Entry points of the ``wahost`` group are loaded when the
host is created, never at import, sorted by name, each inside its own ``try``: a plugin that
fails to import is recorded with its error and the host still starts, unless
``[plugins] strict = true``. An implementation of a hook that does not exist fails start-up
in every mode, naming the plugin.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import traceback
import types
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any

import msgspec
import pluggy

from wahost import hookspecs
from wahost.bots import BotLoadError, bot_plugins
from wahost.errors import PluginError as PluginError
from wahost.router import Router

ENTRY_POINT_GROUP = "wahost"

#: Modules registered in every host, ``trylast`` so any plugin can replace them.
BUILTIN_PLUGINS = (
    "wahost.defaults.backends",
    "wahost.defaults.fallbacks",
    "wahost.marketing",
)


class PluginInfo(msgspec.Struct, kw_only=True):
    """What ``wahost plugins`` shows about one plugin."""

    name: str
    module: str = ""
    distribution: str = ""
    version: str = ""
    builtin: bool = False
    #: A bot module's router or module (``[bot] modules``, ``--bot``), tried before the rest.
    bot: bool = False
    hooks: list[str] = msgspec.field(default_factory=list)
    loaded: bool = False
    error: str | None = None
    #: Deprecated hooks this plugin implements, as ``"hook: what to use instead"``.
    deprecated: list[str] = msgspec.field(default_factory=list)


def selected_names(
    enabled: Sequence[str], disabled: Sequence[str], env: str | None
) -> tuple[set[str] | None, set[str]]:
    """Which entry-point plugins to load: ``(allowed or None for all, refused)``.

    ``WAHOST_PLUGINS`` (comma-separated names, or ``none``) overrides ``[plugins] enabled``.
    """
    allowed: set[str] | None = set(enabled) if enabled else None
    if env is not None and env.strip():
        value = env.strip()
        allowed = set() if value.lower() == "none" else {n.strip() for n in value.split(",")}
        allowed.discard("")
    return allowed, set(disabled)


def _entry_points() -> dict[str, list[tuple[importlib.metadata.EntryPoint, str, str]]]:
    """Entry points of the group by name, each with its distribution's name and version.

    The same distribution seen twice on ``sys.path`` counts once; two *different*
    distributions under one name are kept, to be reported as a clash.
    """
    found: dict[str, list[tuple[importlib.metadata.EntryPoint, str, str]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for dist in importlib.metadata.distributions():
        ours = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
        if not ours:
            continue
        # Only now its METADATA: parsing it for every installed distribution, each time a
        # host starts, was most of the time a test's host took to load its plugins.
        dist_name = dist.metadata["Name"] or "?"
        for ep in ours:
            ident = (ep.name, dist_name.lower(), ep.value)
            if ident in seen:
                continue
            seen.add(ident)
            found.setdefault(ep.name, []).append((ep, dist_name, dist.version))
    return found


def hook_names(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks a registered plugin implements, sorted."""
    callers = pm.get_hookcallers(plugin) or []
    return sorted(caller.name for caller in callers)


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def lazy_names(namespace: dict[str, Any], names: dict[str, str]) -> Callable[[str], Any]:
    """A package ``__getattr__`` that imports each of ``names`` (``{name: "its.module"}``) on
    first use and keeps it in ``namespace`` (the package's ``globals()``). For a plugin whose
    public classes import a driver that most processes never use: every installed plugin is
    loaded at start (wahost-redis, wahost-postgres)."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, counting changes to what is registered, so that the dispatcher can
    keep each hook's implementations between units instead of listing them for every call."""

    #: Bumped by every register, unregister and new hook specification.
    generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self.generation += 1
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self.generation += 1
        return super().unregister(plugin, name)

    def add_hookspecs(self, module_or_class: types.ModuleType | type) -> None:
        self.generation += 1
        super().add_hookspecs(module_or_class)


def build_plugin_manager(
    *,
    plugins: Iterable[object] = (),
    load_entrypoints: bool = True,
    enabled: Sequence[str] = (),
    disabled: Sequence[str] = (),
    strict: bool = False,
    env: str | None = None,
    bots: Iterable[ModuleType | Router] = (),
    record_unknown_hooks: bool = False,
) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Create a plugin manager with the built-ins, the selected entry points, ``plugins`` and
    ``bots``.

    pluggy calls the most recently registered implementation first (``tryfirst`` and
    ``trylast`` aside), so the order of registration is the order of precedence, backwards:
    the built-ins (all ``trylast``), then the entry points, then ``plugins``, then the bots'
    routers and modules (:func:`wahost.bots.bot_plugins`), the last of ``bots`` first. The
    bot is therefore tried before every installed plugin's catch-all (the state machine's
    welcome, say), in ``bots`` order, wherever the host is built: ``serve``, ``worker``,
    ``simulate`` and the test harness. ``env`` is the value of ``WAHOST_PLUGINS``; pass
    ``os.environ.get("WAHOST_PLUGINS")`` (the default reads it).

    A plugin that implements a hook that does not exist (a misspelling) stops the start with
    the closest hook's name; with ``record_unknown_hooks`` (``wahost plugins``, which is how
    one diagnoses it) that plugin is left out and its :class:`PluginInfo` carries the error.
    """
    if env is None:
        env = os.environ.get("WAHOST_PLUGINS")
    pm = PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []

    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        infos.append(PluginInfo(name=module_name, module=module_name, builtin=True, loaded=True))

    if load_entrypoints:
        infos.extend(_load_entry_points(pm, enabled, disabled, strict, env))

    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.get_plugin(name) is not None:
            name = f"{name}-{id(plugin):x}"
        _register(pm, plugin, name)
        infos.append(PluginInfo(name=name, module=name, loaded=True))

    infos.extend(_register_bots(pm, bots))

    pm.hook.wahost_add_hookspecs(pluginmanager=pm)
    _check_unknown_hooks(pm, infos, record=record_unknown_hooks)

    deprecated = deprecated_implementations(pm)
    for info in infos:
        plugin = pm.get_plugin(info.name)
        if plugin is not None:
            info.hooks = hook_names(pm, plugin)
            info.deprecated = [
                f"{hook}: {why}" for name, hook, why in deprecated if name == info.name
            ]
    return pm, infos


def unknown_hook_error(pm: pluggy.PluginManager, hook: str) -> str:
    """``unknown hook 'on_mesage' (did you mean 'on_message'?)``: the closest hook by name."""
    known = [name for name in vars(pm.hook) if getattr(pm.hook, name).spec is not None]
    close = difflib.get_close_matches(hook, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see `wahost hooks` for the list)"
    return f"unknown hook {hook!r}{hint}"


def _check_unknown_hooks(
    pm: pluggy.PluginManager, infos: list[PluginInfo], *, record: bool
) -> None:
    """pluggy's ``check_pending``, with the likely intended hook named; ``record`` leaves the
    plugin out and notes the error on its info instead of raising :class:`PluginError`."""
    for hook in sorted(vars(pm.hook)):
        caller = getattr(pm.hook, hook)
        if caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            error = unknown_hook_error(pm, hook)
            if not record:
                raise PluginError(f"plugin {impl.plugin_name!r}: {error}")
            for info in infos:
                if info.name == impl.plugin_name:
                    info.loaded = False
                    info.error = error if info.error is None else f"{info.error}; {error}"
            if pm.is_registered(impl.plugin):
                pm.unregister(impl.plugin)


def deprecated_implementations(pm: pluggy.PluginManager) -> list[tuple[str, str, str]]:
    """``(plugin name, hook, what to use instead)`` for each implementation of a deprecated
    hook — a core hook or one a plugin added — marked with pluggy's ``warn_on_impl``."""
    found: list[tuple[str, str, str]] = []
    for hook_name in sorted(vars(pm.hook)):
        caller = getattr(pm.hook, hook_name)
        spec = getattr(caller, "spec", None)
        warning = spec.warn_on_impl if spec is not None else None
        if warning is None:
            continue
        for impl in caller.get_hookimpls():
            found.append((impl.plugin_name, hook_name, str(warning)))
    return found


def _register_bots(
    pm: pluggy.PluginManager, bots: Iterable[ModuleType | Router]
) -> list[PluginInfo]:
    """Register the bots' routers and modules so that the first of them is called first."""
    found: list[tuple[str, object, str]] = []
    for bot in bots:
        try:
            parts = bot_plugins(bot)
        except BotLoadError as exc:
            raise PluginError(f"bot {getattr(bot, '__name__', bot)!r}: {exc}") from None
        module = getattr(bot, "__name__", "")
        for name, plugin in parts:
            if not pm.is_registered(plugin) and all(plugin is not p for _, p, _ in found):
                found.append((name, plugin, module))
    infos: list[PluginInfo] = []
    for name, plugin, module in reversed(found):
        if pm.get_plugin(name) is not None:
            name = f"{name}-{id(plugin):x}"
        _register(pm, plugin, name)
        infos.append(PluginInfo(name=name, module=module, bot=True, loaded=True))
    infos.reverse()
    return infos


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r}: {_one_line(exc)}") from exc


def _load_entry_points(
    pm: pluggy.PluginManager,
    enabled: Sequence[str],
    disabled: Sequence[str],
    strict: bool,
    env: str | None,
) -> list[PluginInfo]:
    allowed, refused = selected_names(enabled, disabled, env)
    infos: list[PluginInfo] = []
    for name, candidates in sorted(_entry_points().items()):
        if (allowed is not None and name not in allowed) or name in refused:
            continue
        if len(candidates) > 1:
            dists = ", ".join(f"{dist} {version}" for _, dist, version in candidates)
            error = f"entry point name {name!r} is provided by several distributions: {dists}"
            for ep, dist, version in candidates:
                infos.append(
                    PluginInfo(
                        name=name,
                        module=ep.value,
                        distribution=dist,
                        version=version,
                        error=error,
                    )
                )
            if strict:
                raise PluginError(error)
            continue
        ep, dist, version = candidates[0]
        info = PluginInfo(name=name, module=ep.value, distribution=dist, version=version)
        infos.append(info)
        try:
            plugin: Any = ep.load()
        except Exception as exc:  # a broken plugin is reported, not fatal (unless strict)
            info.error = _error_text(exc)
            if strict:
                raise PluginError(f"plugin {name!r} failed to load: {info.error}") from exc
            continue
        if isinstance(plugin, ModuleType) or plugin is not None:
            _register(pm, plugin, name)
            info.loaded = True
    if allowed:
        missing = allowed - {info.name for info in infos}
        for name in sorted(missing):
            error = "enabled in the configuration but not installed"
            infos.append(PluginInfo(name=name, error=error))
            if strict:
                raise PluginError(f"plugin {name!r}: {error}")
    return infos
