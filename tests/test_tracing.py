"""OpenTelemetry tracing (``[tracing]``): one trace from the webhook's POST through the queue to
each Graph API request, recorded with the SDK's in-memory exporter; nothing of OpenTelemetry
is loaded while tracing is off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from wahost import Context, hookimpl
from wahost.testing import TEST_TOKEN, BotHarness
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text, make_webhook
from wahost.tracing import Tracing

USER = "16505551234"


class Replier:
    __name__ = "replier"

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await ctx.mark_read()
        await ctx.reply(text="hello back")
        return True


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "asgi"])
async def test_one_trace_runs_from_the_webhook_through_the_queue_to_each_graph_request(
    tmp_path: Path, fast_path: bool
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = {"tracing": {"enabled": True}, "server": {"webhook_fast_path": fast_path}}
    async with FakeGraph(token=TEST_TOKEN) as graph:
        bot = BotHarness(tmp_path, plugins=[Replier()], config=config, graph=graph)
        bot.host.tracing = Tracing(provider)  # this test's provider, not the process's
        async with bot:
            # The first reply fails once (a throttling answer, retried): two Graph spans.
            graph.fail_when(lambda r: r.is_message and "text" in r.json, times=1, code=130429)
            webhook = make_webhook(make_text("hi", sender=USER, wamid="wamid.t-1"))
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
    spans = exporter.get_finished_spans()
    [ingress] = [s for s in spans if s.name == "webhook"]
    [unit] = [s for s in spans if s.name == "unit message"]
    requests = [s for s in spans if s.name == "graph POST"]
    assert ingress.kind == SpanKind.SERVER
    assert ingress.attributes["http.response.status_code"] == 200
    assert unit.kind == SpanKind.CONSUMER
    assert unit.attributes["wahost.unit.key"] == "msg:wamid.t-1"
    # The worker's span continues the webhook's trace from what the unit carried in the queue.
    assert unit.parent is not None and unit.parent.span_id == ingress.context.span_id
    assert unit.context.trace_id == ingress.context.trace_id
    # A mark-read and two attempts of the reply, the first refused (130429, HTTP 400).
    assert len(requests) == 3
    for request in requests:
        assert request.kind == SpanKind.CLIENT
        assert request.context.trace_id == ingress.context.trace_id
        assert request.parent is not None and request.parent.span_id == unit.context.span_id
    codes = sorted(r.attributes["http.response.status_code"] for r in requests)
    assert codes == [200, 200, 400]


async def test_a_refused_signature_ends_its_span_with_the_answer(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bot = BotHarness(tmp_path, config={"tracing": {"enabled": True}})
    bot.host.tracing = Tracing(provider)
    async with bot:
        webhook = make_webhook(make_text("hi", sender=USER, wamid="wamid.t-2"))
        assert (await bot.post(webhook, secret="wrong")).status_code == 403
    [span] = exporter.get_finished_spans()
    assert span.name == "webhook"
    assert span.attributes["http.response.status_code"] == 403


def test_nothing_of_opentelemetry_is_imported_while_tracing_is_off(tmp_path: Path) -> None:
    script = f"""
import asyncio, sys
from pathlib import Path
from wahost.testing import BotHarness, make_text, make_webhook

async def main():
    config = {{"metrics": {{"enabled": True}}}}
    async with BotHarness(Path({str(tmp_path)!r}), config=config) as bot:
        webhook = make_webhook(make_text("hi", sender="16505551234", wamid="wamid.t-3"))
        assert (await bot.post(webhook)).status_code == 200
        await bot.idle()

asyncio.run(main())
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_tracing_without_the_extra_stops_the_start_with_one_line(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["opentelemetry"] = None  # as if wahost[otel] were not installed
from pathlib import Path
from wahost.config import ConfigError
from wahost.host import Wahost
from wahost.testing import make_config

config = make_config(Path({str(tmp_path)!r}), {{"tracing": {{"enabled": True}}}})
try:
    Wahost(config, load_entrypoints=False)
except ConfigError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == (
        "<test>: tracing.enabled: the OpenTelemetry packages are not installed: "
        "pip install 'wahost[otel]', or set it to false"
    )
