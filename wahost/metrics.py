"""Prometheus metrics of one host (``[metrics]``, docs/operations.md "Metrics and tracing").

Each :class:`~wahost.host.Wahost` with ``[metrics] enabled = true`` owns one
:class:`HostMetrics`, holding its own registry: nothing is registered in prometheus-client's
global registry, so many hosts in one process (tests) never see each other's counts.

Counters and histograms are counted where things happen (the ingress, the worker, the Graph
API client); the queue's counts and the age of its oldest unit are read from the queue when
``/metrics`` is scraped, so a host that nobody scrapes pays nothing for them.

Several processes on one machine (``wahost serve --no-worker`` plus ``wahost worker``
processes) are counted together through prometheus-client's multiprocess mode: with
``PROMETHEUS_MULTIPROC_DIR`` set in every process's environment before it starts, each
process writes its values to files there and the scrape adds them up. Only one host per
process may count there (the files are per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from wahost.unit_stamp import received_at

if TYPE_CHECKING:
    from wahost.config.schema import MetricsConfig
    from wahost.host import Wahost
    from wahost.units import Unit

#: The environment variable of prometheus-client's multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Handling a unit: from well under a millisecond (a status) to a reply waiting out an outage.
_HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: From the webhook's arrival to a reply: dominated by the Graph API's answer (~0.1-1 s).
_REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300)
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

#: Where ``wahost_dialogues_waiting`` stops counting (a scrape must stay cheap).
DIALOGUES_COUNTED = 10_000

#: The queue states reported by ``wahost_queue_units``.
QUEUE_STATES = ("ready", "leased", "waiting_retry", "dead", "quarantined")


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, when it is on."""
    return os.environ.get(MULTIPROC_ENV) or None


class HostMetrics:
    """The metrics of one host; see the module docstring for the names and their meaning."""

    def __init__(self, config: MetricsConfig) -> None:
        self.config = config
        #: This host's registry (never prometheus-client's global one).
        self.registry = CollectorRegistry()
        registry = self.registry
        self.webhooks = Counter(
            "wahost_webhooks",
            "Webhook POSTs answered, by HTTP status.",
            ["code"],
            registry=registry,
        )
        self.enqueued = Counter(
            "wahost_units_enqueued",
            "Units of webhooks committed to the queue (duplicates included), by kind.",
            ["kind"],
            registry=registry,
        )
        self.handled = Counter(
            "wahost_units_handled",
            "Units handled and acked, by kind.",
            ["kind"],
            registry=registry,
        )
        self.retried = Counter(
            "wahost_units_retried",
            "Unit attempts that failed and were scheduled for a retry, by kind.",
            ["kind"],
            registry=registry,
        )
        self.dead = Counter(
            "wahost_units_dead",
            "Units parked as dead after their last attempt, by kind.",
            ["kind"],
            registry=registry,
        )
        self.handling = Histogram(
            "wahost_unit_handling_seconds",
            "Seconds from a unit's lease to its ack, retry or parking, by kind.",
            ["kind"],
            buckets=_HANDLING_BUCKETS,
            registry=registry,
        )
        self.ingress_to_reply = Histogram(
            "wahost_ingress_to_reply_seconds",
            "Seconds from a webhook's arrival to each reply sent while handling its unit.",
            buckets=_REPLY_BUCKETS,
            registry=registry,
        )
        self.sends = Counter(
            "wahost_graph_sends",
            "Messages sent through the Graph API, by message type and outcome (ok, Meta's "
            "error code, transport, circuit_open).",
            ["type", "code"],
            registry=registry,
        )
        self.pacing = Histogram(
            "wahost_graph_pacing_wait_seconds",
            "Seconds a Graph API request waited for the rate limiter or the recipient's "
            "spacing (only requests that waited).",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.circuit = Gauge(
            "wahost_graph_circuit_open",
            "1 while the Graph API client's circuit is open or half-open (since repeated "
            "failures, until a request succeeds), else 0.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.queue_units = Gauge(
            "wahost_queue_units",
            "Units in the queue by state, read from the queue at scrape time.",
            ["state"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.oldest_age = Gauge(
            "wahost_queue_oldest_unit_age_seconds",
            "Age of the oldest unit not yet handled (ready, leased or waiting for a retry), "
            "0 when there is none; read at scrape time.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.dialogues_waiting = Gauge(
            "wahost_dialogues_waiting",
            "Conversations with a dialogue waiting for the user (ctx.ask), counted up to "
            f"{DIALOGUES_COUNTED} at scrape time.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.scrape_errors = Counter(
            "wahost_metrics_read_errors",
            "Scrapes that could not read the queue's or the state store's counts.",
            registry=registry,
        )
        # The webhook path counts in plain dicts, moved into the counters by flush(): a
        # counter's inc() takes a lock and checks its argument, several times the cost of a
        # dict update, on the path that answers every POST.
        self._answers: dict[int, int] = {}
        self._arrived: dict[str, int] = {}

    # -- counting ---------------------------------------------------------------------------

    def webhook(self, status: int) -> None:
        """Count one webhook POST answered ``status`` (seen by the next :meth:`flush`)."""
        answers = self._answers
        answers[status] = answers.get(status, 0) + 1

    def units_enqueued(self, units: Iterable[Unit]) -> None:
        """Count the units of a webhook committed to the queue (seen by the next
        :meth:`flush`)."""
        arrived = self._arrived
        for unit in units:
            arrived[unit.kind] = arrived.get(unit.kind, 0) + 1

    def flush(self) -> None:
        """Move the webhook path's counts into their counters (done before every scrape,
        and every second by ``wahost serve`` in multiprocess mode, where another process may
        be the one scraped)."""
        answers, self._answers = self._answers, {}
        for status, count in answers.items():
            self.webhooks.labels(str(status)).inc(count)
        arrived, self._arrived = self._arrived, {}
        for kind, count in arrived.items():
            self.enqueued.labels(kind).inc(count)

    async def flush_every(self, seconds: float, stop: asyncio.Event) -> None:
        """:meth:`flush` every ``seconds`` until ``stop`` is set (and once more then)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            self.flush()

    def unit_handled(self, kind: str, seconds: float) -> None:
        self.handled.labels(kind).inc()
        self.handling.labels(kind).observe(seconds)

    def unit_failed(self, kind: str, seconds: float, *, dead: bool) -> None:
        (self.dead if dead else self.retried).labels(kind).inc()
        self.handling.labels(kind).observe(seconds)

    def replied(self, unit: Unit) -> None:
        """A reply went out while handling ``unit``: observe the time since its webhook."""
        began = received_at(unit)
        if began is not None:
            self.ingress_to_reply.observe(max(0.0, time.time() - began))

    def sent(self, message_type: str | None, code: str) -> None:
        self.sends.labels(message_type or "unknown", code).inc()

    def paced(self, seconds: float) -> None:
        self.pacing.observe(seconds)

    def circuit_changed(self, tripped: bool) -> None:
        self.circuit.set(1 if tripped else 0)

    # -- scraping ---------------------------------------------------------------------------

    async def sample(self, host: Wahost) -> None:
        """Read the queue's counts and the circuit's state into the gauges."""
        client = host.client
        if client is not None:
            self.circuit_changed(client.breaker.tripped)
        if not host.started:
            return
        try:
            stats = await host.queue.depth()
        except Exception:
            self.scrape_errors.inc()
            return
        for state in QUEUE_STATES:
            self.queue_units.labels(state).set(getattr(stats, state))
        oldest = stats.oldest_received_at
        self.oldest_age.set(max(0.0, time.time() - oldest) if oldest else 0.0)
        from wahost.dialogues.journal import NAMESPACE

        try:
            waiting = await host.state.kv_count(NAMESPACE, limit=DIALOGUES_COUNTED)
        except Exception:
            self.scrape_errors.inc()
            return
        self.dialogues_waiting.set(waiting)

    def exposition(self) -> bytes:
        """The text format of every metric: this host's, or in multiprocess mode every
        process's (read from ``PROMETHEUS_MULTIPROC_DIR``)."""
        self.flush()
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def authorized(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether a scrape's headers carry ``Authorization: Bearer <[metrics] token>`` (any
        scrape when no token is configured)."""
        token = self.config.token
        if not token:
            return True
        expected = b"Bearer " + token.encode()
        for name, value in headers:
            if name == b"authorization":
                return hmac.compare_digest(value, expected)
        return False

    def close(self) -> None:
        """Flush; in multiprocess mode, drop this process's live gauges (its process is
        ending)."""
        self.flush()
        path = multiprocess_dir()
        if path is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def metrics_page(host: Wahost, metrics: HostMetrics, scope: Scope, send: Send) -> None:
    """Answer a scrape (ASGI): 401 without the token, else the text format."""
    if scope["method"] not in ("GET", "HEAD"):
        return await _respond(send, 405, b"", b"text/plain; charset=utf-8")
    if not metrics.authorized(scope["headers"]):
        return await _respond(
            send,
            401,
            b"metrics: missing or wrong bearer token",
            b"text/plain; charset=utf-8",
            [(b"www-authenticate", b"Bearer")],
        )
    await metrics.sample(host)
    await _respond(send, 200, metrics.exposition(), CONTENT_TYPE_LATEST.encode())


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def metrics_app(host: Wahost, metrics: HostMetrics) -> Callable[..., Awaitable[None]]:
    """The ASGI app of ``[metrics] port``: the scrape at ``[metrics] path``, 404 elsewhere."""
    path = metrics.config.path

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == path:
            return await metrics_page(host, metrics, scope, send)
        await _respond(send, 404, b"not found", b"text/plain; charset=utf-8")

    return app


__all__ = [
    "MULTIPROC_ENV",
    "QUEUE_STATES",
    "HostMetrics",
    "metrics_app",
    "metrics_page",
    "multiprocess_dir",
]
