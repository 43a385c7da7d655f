"""The running host: its configuration, plugins, queue, state store and client, and its life
cycle. The web application it serves is built by :mod:`wahost.web`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import structlog

from wahost.bots import BotLoadError, bot_plugins, configured_bots, import_bot
from wahost.config import Config, ConfigError, validate_plugin_settings
from wahost.config.introspect import marked_secret_values
from wahost.deprecation import moved_names
from wahost.dispatch import Dispatcher
from wahost.errors import StartupError as StartupError
from wahost.logs import add_secrets
from wahost.plugins import PluginError, PluginInfo, build_plugin_manager
from wahost.slots import LegacyView, Slots

if TYPE_CHECKING:
    from wahost.graph import GraphClient, SentMessage
    from wahost.metrics import HostMetrics
    from wahost.outbox import Outbox
    from wahost.queue.base import QueueBackend
    from wahost.router import Router
    from wahost.state.base import StateStore
    from wahost.tracing import Tracing

T = TypeVar("T")

#: ``wahost.host.Route`` until the next minor release (it is ``wahost.Route``).
__getattr__ = moved_names(__name__, {"Route": "wahost.web.Route"})


def _bot(bot: ModuleType | Router | str) -> ModuleType | Router:
    """A bot given to :class:`Wahost` by name is imported as ``--bot`` imports it."""
    if not isinstance(bot, str):
        return bot
    try:
        module = import_bot(bot, Path.cwd())
        bot_plugins(module)
    except BotLoadError as exc:
        raise PluginError(f"bot {bot!r}: {exc}") from None
    return module


class Wahost:
    """One bot host: what every hook receives as ``host``.

    ``Wahost(config)`` loads the entry-point plugins selected by the configuration (never at
    import time); ``plugins=[module, ...]`` registers more (tests, embedding), and
    ``load_entrypoints=False`` loads only those. The bot's modules — ``[bot] modules`` of the
    configuration, then ``bots=[...]`` (modules, routers, or names resolved against the
    current directory, as ``--bot`` is) — are registered after all of them, so they are
    tried first (:mod:`wahost.bots`). :meth:`start` opens the stores and runs
    ``wahost_startup``; :meth:`stop` undoes it. ``async with Wahost(config) as host:`` does both.
    """

    def __init__(
        self,
        config: Config,
        *,
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        env: dict[str, str] | None = None,
        graph_transport: Any = None,
        bots: Iterable[ModuleType | Router | str] = (),
        tracer_provider: Any = None,
    ) -> None:
        self.config = config
        environ = os.environ if env is None else env
        self.pm, self.plugins = build_plugin_manager(
            plugins=plugins,
            bots=[*configured_bots(config), *map(_bot, bots)],
            load_entrypoints=load_entrypoints,
            enabled=config.plugins.enabled,
            disabled=config.plugins.disabled,
            strict=config.plugins.strict,
            env=environ.get("WAHOST_PLUGINS"),
        )
        self.dispatch = Dispatcher(
            self.pm, context={"host": self}, timeout=config.worker.hook_timeout
        )
        schemas: dict[str, Any] = {}
        for mapping in self.dispatch.collect("wahost_config_schema"):
            schemas.update(mapping)
        self._plugin_settings = validate_plugin_settings(config, schemas)
        #: Values of the fields plugins' schemas mark secret, whatever their names: redacted
        #: from the logs from now on and from ``wahost check``'s output.
        self.plugin_secrets = marked_secret_values(self._plugin_settings)
        add_secrets(self.plugin_secrets)
        self.log = structlog.get_logger("wahost")
        for info in self.plugins:
            for deprecation in info.deprecated:
                hook, _, instead = deprecation.partition(": ")
                self.log.warning(
                    "plugin implements a deprecated hook",
                    plugin=info.name,
                    hook=hook,
                    instead=instead,
                )
        self._queue: QueueBackend | None = None
        self._state: StateStore | None = None
        #: The Graph API client (set up by :meth:`start`).
        self.client: GraphClient | None = None
        #: The reply outbox of ``ctx.send`` (set up by :meth:`start`).
        self.outbox: Outbox | None = None
        self._graph_transport = graph_transport
        #: What plugins and backends share for this host (one SQLite engine, a registry), each
        #: in a typed slot its plugin owns (:mod:`wahost.slots`).
        self.slots = Slots()
        self._wakeup: asyncio.Event | None = None
        self.started = False
        #: This host's Prometheus metrics when ``[metrics] enabled`` (:mod:`wahost.metrics`).
        self.metrics: HostMetrics | None = None
        if config.metrics.enabled:
            from wahost.metrics import HostMetrics

            self.metrics = HostMetrics(config.metrics)
        #: This host's OpenTelemetry tracing when ``[tracing] enabled`` (:mod:`wahost.tracing`;
        #: ``tracer_provider`` replaces the process's global provider).
        self.tracing: Tracing | None = None
        if config.tracing.enabled:
            from wahost.tracing import INSTALL_HINT, Tracing, TracingUnavailable

            try:
                self.tracing = Tracing(tracer_provider)
            except TracingUnavailable:
                raise ConfigError(
                    config.source,
                    "tracing.enabled",
                    f"the OpenTelemetry packages are not installed: {INSTALL_HINT}, "
                    "or set it to false",
                ) from None

    # -- access -------------------------------------------------------------------------

    @property
    def queue(self) -> QueueBackend:
        if self._queue is None:
            raise RuntimeError("the host is not started")
        return self._queue

    @property
    def state(self) -> StateStore:
        if self._state is None:
            raise RuntimeError("the host is not started")
        return self._state

    @overload
    def plugin_config(self, name: str) -> Any: ...
    @overload
    def plugin_config(self, name: str, schema: type[T]) -> T: ...
    def plugin_config(self, name: str, schema: type[Any] | None = None) -> Any:
        """The validated settings of ``[plugins.<name>]``: an instance of the struct the
        plugin's ``wahost_config_schema`` gives for ``name``. With ``schema`` (that struct),
        typed as such for mypy and checked: a plugin that asks for another plugin's section
        with the wrong struct learns it at once."""
        try:
            settings = self._plugin_settings[name]
        except KeyError:
            raise KeyError(
                f"no plugin gives a config schema for [plugins.{name}] "
                "(wahost_config_schema), or it is not loaded"
            ) from None
        if schema is not None and not isinstance(settings, schema):
            raise TypeError(
                f"[plugins.{name}] is a {type(settings).__qualname__}, not a {schema.__qualname__}"
            )
        return settings

    @property
    def resources(self) -> LegacyView:
        """**Deprecated** (removed in the next minor release): use :attr:`slots`. A dict view
        of the slots by their keys' names, warning at each use."""
        return self.slots.legacy_view("host.resources")

    def plugin(self, name: str) -> PluginInfo | None:
        return next((info for info in self.plugins if info.name == name), None)

    @property
    def wakeup(self) -> asyncio.Event:
        """Set when new units are enqueued in this process, so the worker leases at once."""
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the queue and state store, then run every ``wahost_startup``."""
        if self.started:
            return
        self._queue = self.make_queue()
        self._state = self._backend("wahost_state_store", self.config.state)
        await self._queue.open()
        try:
            await self._state.open()
            from wahost.graph import GraphClient
            from wahost.outbox import Outbox

            pacer = self.dispatch.first_sync("wahost_rate_limiter", config=self.config.graph)
            self.client = GraphClient(
                self.config,
                transport=self._graph_transport,
                metrics=self.metrics,
                tracing=self.tracing,
                pacer=pacer.value,
            )
            self.outbox = Outbox(
                self._state,
                self.client,
                ttl=self.config.queue.dedupe_ttl,
                patience=self.config.worker.lease_seconds / 2,
                ambiguous=self.config.outbox.ambiguous,
                confirm_wait=self.config.outbox.confirm_wait,
                outage_patience=self.config.worker.outage_patience,
            )
            for impl in self.dispatch.implementations("wahost_startup"):
                try:
                    await self.dispatch._call(impl, {})
                except Exception as exc:
                    self.log.error("plugin start-up failed", plugin=impl.plugin_name, exc_info=exc)
                    raise StartupError(
                        f"plugin {impl.plugin_name!r} failed to start: {exc}"
                    ) from exc
            self.client.send_checks = tuple(
                check for checks in self.dispatch.collect("wahost_send_checks") for check in checks
            )
        except BaseException:
            await self._close_stores()
            raise
        self.started = True

    def make_queue(self) -> QueueBackend:
        """A new queue backend as configured, not opened (``start`` opens its own; this one is
        for maintenance such as ``wahost queue downgrade``)."""
        queue: QueueBackend = self._backend("wahost_queue_backend", self.config.queue)
        return queue

    def _backend(self, hook: str, section: Any) -> Any:
        result = self.dispatch.first_sync(hook, config=section)
        if result.value is None:
            raise StartupError(
                f"{self.config.source}: {hook.removeprefix('wahost_').split('_')[0]}.backend: "
                f"no installed plugin provides backend {section.backend!r}"
            )
        return result.value

    async def stop(self) -> None:
        """Run every ``wahost_shutdown`` (errors logged), then close the stores."""
        if not self.started:
            return
        self.started = False
        # Each failure is already logged with its plugin's name; the others still ran.
        with contextlib.suppress(Exception):
            await self.dispatch.broadcast("wahost_shutdown")
        await self._close_stores()
        if self.metrics is not None:
            self.metrics.close()

    async def _close_stores(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self._state is not None:
            await self._state.close()
        if self._queue is not None:
            await self._queue.close()

    async def __aenter__(self) -> Wahost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- sending outside a unit -------------------------------------------------------------

    async def send(self, to: str, message: Any = None, /, **kwargs: Any) -> SentMessage:
        """Send a message outside a unit (a scheduled job, a command); ``on_message_sent``
        implementations see it. Inside a hook, use ``ctx.send`` / ``ctx.reply``."""
        if self.client is None:
            raise RuntimeError("the host is not started")
        sent = await self.client.send(to, message, **kwargs)
        await self.dispatch.broadcast("on_message_sent", sent=sent, ctx=None)
        return sent

    # -- web ----------------------------------------------------------------------------

    def asgi(self) -> Any:
        """The ASGI application: the webhook ingress in front of a Quart app for the rest
        (built by :func:`wahost.web.build_asgi_app`)."""
        from wahost.web import build_asgi_app

        return build_asgi_app(self)
