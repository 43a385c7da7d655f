"""Running the host: ingress and worker in one process, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import structlog

from wahost.config.schema import ServerConfig
from wahost.connection_limits import (
    DescriptorWatch,
    LimitLog,
    bounded_protocol,
    hypercorn_timeouts,
    log_fd_limit,
    raise_fd_limit,
    with_limits,
)
from wahost.host import Wahost
from wahost.worker import Worker

log = structlog.get_logger("wahost.server")


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port of ``host`` and listening, for :func:`run_http`'s
    ``sock`` (its port is known before the server starts)."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto says
    # TCP; with proto 0 every answer waited ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


async def run_http(
    app: Any,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    sock: socket.socket | None = None,
    engine: str = "uvicorn",
    fast_path: bool = True,
    config: ServerConfig | None = None,
) -> None:
    """Serve ``app`` on ``host:port`` (or an already bound ``sock``) until ``stop`` is set.

    With uvicorn and ``fast_path``, when ``app`` is the host's :class:`~wahost.webhook.Ingress`,
    the webhook's POSTs are answered by :mod:`wahost.webhook_protocol` without ASGI. The
    timeouts and the connection cap of ``config`` (``[server]``; its defaults when ``None``)
    bound the connections (:mod:`wahost.connection_limits`); running out of file descriptors
    is logged.
    """
    config = config if config is not None else ServerConfig()
    limits = LimitLog()
    watch = DescriptorWatch(limits)
    watch.start()
    try:
        if engine == "uvicorn":
            return await _run_uvicorn(
                app, host, port, stop, sock=sock, fast_path=fast_path, config=config, limits=limits
            )
        await _run_hypercorn(app, host, port, stop, sock=sock, config=config)
    finally:
        watch.stop()


async def _run_hypercorn(
    app: Any,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    sock: socket.socket | None,
    config: ServerConfig,
) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig

    hypercorn = HypercornConfig()
    # Hypercorn takes ownership of an fd:// socket and closes it: give it a duplicate.
    hypercorn.bind = [f"fd://{os.dup(sock.fileno())}"] if sock is not None else [f"{host}:{port}"]
    # Through the stdlib loggers, so wahost's redacting formatter renders them.
    hypercorn.accesslog = None
    hypercorn.errorlog = logging.getLogger("hypercorn.error")
    for name, value in hypercorn_timeouts(config).items():
        setattr(hypercorn, name, value)
    await serve(app, hypercorn, shutdown_trigger=stop.wait)


async def _run_uvicorn(
    app: Any,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    sock: socket.socket | None,
    fast_path: bool,
    config: ServerConfig,
    limits: LimitLog,
) -> None:
    import uvicorn

    from wahost.webhook import Ingress
    from wahost.webhook_protocol import protocol_class

    protocol = bounded_protocol()
    if protocol is not None:
        if fast_path and isinstance(app, Ingress):
            protocol = protocol_class(app) or protocol
        protocol = with_limits(protocol, config, limits)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # wahost handles SIGTERM/SIGINT itself (stop the worker first, then the server).
            yield

        async def main_loop(self) -> None:
            # uvicorn's loop, but woken by ``stop`` too: its own looks at should_exit every
            # 0.1 s, which every stop (a test harness's, many times a suite) waited out.
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.1)
                if stop.is_set():
                    self.should_exit = True
                should_exit = await self.on_tick(counter)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.server_state.connections or self.server_state.tasks:
                await super().shutdown(sockets)
                return
            # Nothing open: uvicorn's shutdown would still pause 0.1 s for connections to
            # wind down before closing its listeners (every test harness's stop paid it).
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            for server in self.servers:
                await server.wait_closed()
            await self.lifespan.shutdown()

    uvicorn_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        # uvicorn declares an int; its timer takes any number of seconds.
        timeout_keep_alive=config.keep_alive_timeout,  # type: ignore[arg-type]
        # Requests still open at shutdown (a console page's long poll) are not waited for
        # longer than this; webhooks in flight take milliseconds.
        timeout_graceful_shutdown=10,
        http=protocol or "auto",
    )
    server = Server(uvicorn_config)
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopped.cancel()
        return task.result()
    server.should_exit = True
    await task


#: Container objects allocated (net) between two young collections of the garbage collector
#: in ``serve`` and ``worker`` (Python's default is 700): a unit's handling allocates a few
#: hundred, nearly all freed by reference counting, and at 700 the collector walked the
#: units in flight every few units (docs/performance.md#the-garbage-collector).
YOUNG_COLLECTION_THRESHOLD = 7_000


def _freeze_startup_objects() -> None:
    """Move everything start-up created (modules, plugins, types, the app) out of the garbage
    collector's reach: a full collection then walks only what requests create, instead of
    pausing the event loop for tens of milliseconds — the tail of the ingress latency. Then
    collect the young generation less often (:data:`YOUNG_COLLECTION_THRESHOLD`)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def _serve_metrics(host: Wahost, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """Serve the scrape on a listener of its own until ``stop``, when ``[metrics] port`` is
    set (otherwise it is on the webhook's listener, or metrics are off)."""
    config = host.config.metrics
    if host.metrics is None or config.port == 0:
        return None
    from wahost.metrics import metrics_app

    log.info("metrics listening", address=f"http://{config.host}:{config.port}{config.path}")
    return asyncio.create_task(
        run_http(metrics_app(host, host.metrics), config.host, config.port, stop, fast_path=False)
    )


def _flush_metrics(host: Wahost, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """In multiprocess mode, publish the webhook path's counts every second: another
    process (a worker's ``[metrics] port``) may be the one scraped."""
    from wahost.metrics import multiprocess_dir

    if host.metrics is None or multiprocess_dir() is None:
        return None
    return asyncio.create_task(host.metrics.flush_every(1.0, stop))


def _configure_tracing(host: Wahost) -> None:
    """With ``[tracing] enabled``, export the spans as configured unless the application
    installed its own tracer provider."""
    if host.tracing is not None:
        from wahost.tracing import configure_provider

        configure_provider(host.config.tracing)


def _flush_traces(host: Wahost) -> None:
    if host.tracing is not None:
        from wahost.tracing import shutdown_provider

        shutdown_provider()


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (where the platform lets the loop handle signals)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(host: Wahost, *, with_worker: bool = True, grace: float = 10.0) -> None:
    """Start the host, serve HTTP (and run the worker) until a signal, then stop cleanly.

    On SIGTERM/SIGINT: stop accepting requests, let the worker finish units in flight for up
    to ``grace`` seconds (the rest are released for retry), run the plugins' shutdown hooks,
    close the stores.
    """
    stop = _stop_on_signals()
    server = host.config.server
    _configure_tracing(host)
    # Before anything opens files: every connection and the store's files count against it.
    log_fd_limit(server, raise_fd_limit())
    await host.start()
    _freeze_startup_objects()
    worker = Worker(host) if with_worker else None
    worker_task = asyncio.create_task(worker.run()) if worker else None
    metrics_task = _serve_metrics(host, stop)
    flush_task = _flush_metrics(host, stop)
    log.info(
        "listening",
        address=f"http://{server.host}:{server.port}",
        webhook=server.webhook_path,
        worker=with_worker,
    )
    try:
        await run_http(
            host.asgi(),
            server.host,
            server.port,
            stop,
            engine=server.engine,
            fast_path=server.webhook_fast_path,
            config=server,
        )
    finally:
        log.info("stopping")
        stop.set()
        if worker is not None and worker_task is not None:
            await worker.stop(grace)
            await worker_task
        if metrics_task is not None:
            await metrics_task
        if flush_task is not None:
            await flush_task
        await host.stop()
        _flush_traces(host)
        log.info("stopped")


async def run_worker(host: Wahost, *, grace: float = 10.0) -> None:
    """Run only the worker against the configured store (``wahost worker``)."""
    stop = _stop_on_signals()
    _configure_tracing(host)
    await host.start()
    _freeze_startup_objects()
    worker = Worker(host)
    task = asyncio.create_task(worker.run())
    metrics_task = _serve_metrics(host, stop)
    log.info("worker started")
    try:
        await stop.wait()
    finally:
        stop.set()
        await worker.stop(grace)
        await task
        if metrics_task is not None:
            await metrics_task
        await host.stop()
        _flush_traces(host)
