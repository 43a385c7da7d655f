"""OpenTelemetry tracing of one host (``[tracing]``, docs/operations.md "Metrics and tracing").

One trace follows a webhook from its POST to each Graph API request its units make, across
processes: the ingress opens a ``webhook`` span (SERVER) and stores its W3C ``traceparent``
with each unit it enqueues (:mod:`wahost.unit_stamp`); the worker that handles the unit, in
whichever process, opens a ``unit <kind>`` span (CONSUMER) under it, and every Graph API
request made while handling it (a reply, a mark-read, a media call) is a ``graph <method>``
span (CLIENT) under that — one per HTTP attempt, retries included.

``opentelemetry-api`` and ``-sdk`` are an extra (``pip install wahost[otel]``) and are imported
only when ``[tracing] enabled = true``: with tracing off (the default) nothing of them is
loaded and each traced place costs one ``is None`` test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from wahost.errors import TracingUnavailable as TracingUnavailable

if TYPE_CHECKING:
    from wahost.config.schema import TracingConfig

#: What the missing extra's error says.
INSTALL_HINT = "pip install 'wahost[otel]'"


class Tracing:
    """The tracer of one host and the propagation of its context through the queue.

    ``provider`` is an OpenTelemetry ``TracerProvider``; without one, the process's global
    provider is used, and :func:`configure_provider` installs one from the configuration when
    the application has set none (``wahost serve`` and ``wahost worker``).
    """

    def __init__(self, provider: Any = None) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError as exc:
            raise TracingUnavailable(str(exc)) from None
        self._trace = trace
        self._kinds = trace.SpanKind
        self._propagator = TraceContextTextMapPropagator()
        source = provider if provider is not None else trace.get_tracer_provider()
        self.tracer = source.get_tracer("wahost")

    # -- the ingress --------------------------------------------------------------------------

    def webhook_span(self, size: int) -> Any:
        """Start the span of one webhook POST (ended by :meth:`end_webhook`)."""
        return self.tracer.start_span(
            "webhook",
            kind=self._kinds.SERVER,
            attributes={"http.request.method": "POST", "http.request.body.size": size},
        )

    def traceparent(self, span: Any) -> str:
        """The W3C ``traceparent`` of ``span``, stored with the units of its webhook."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._trace.set_span_in_context(span))
        return carrier.get("traceparent", "")

    def end_webhook(self, span: Any, status: int, units: int = 0) -> None:
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("wahost.units", units)
        if status >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.end()

    # -- the worker ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def unit_span(self, traceparent: str, kind: str, key: str, attempt: int) -> Iterator[Any]:
        """The span of handling one unit, the current span meantime, under the webhook's
        span when the unit carries its ``traceparent``."""
        parent = self._propagator.extract({"traceparent": traceparent}) if traceparent else None
        with self.tracer.start_as_current_span(
            f"unit {kind}",
            context=parent,
            kind=self._kinds.CONSUMER,
            attributes={
                "wahost.unit.key": key,
                "wahost.unit.kind": kind,
                "wahost.attempt": attempt,
            },
        ) as span:
            yield span

    # -- the Graph API client ---------------------------------------------------------------

    @contextlib.contextmanager
    def graph_span(self, method: str, path: str) -> Iterator[Any]:
        """The span of one Graph API request (one HTTP attempt), under the current span."""
        with self.tracer.start_as_current_span(
            f"graph {method}",
            kind=self._kinds.CLIENT,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            yield span

    def graph_answered(self, span: Any, status: int, code: int | None = None) -> None:
        span.set_attribute("http.response.status_code", status)
        if code is not None:
            span.set_attribute("wahost.graph.error_code", code)
        if status >= 400:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))


def configure_provider(config: TracingConfig) -> None:
    """Install an SDK ``TracerProvider`` exporting as ``[tracing] exporter`` says, unless the
    application (or ``opentelemetry-instrument``) has installed one already."""
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    exporter: SpanExporter
    if config.exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        # Its endpoint, headers and timeouts come from the OTEL_EXPORTER_OTLP_* variables.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: config.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def shutdown_provider() -> None:
    """Flush the spans still buffered by the provider :func:`configure_provider` installed."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()


__all__ = ["INSTALL_HINT", "Tracing", "TracingUnavailable", "configure_provider"]
