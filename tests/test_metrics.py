"""Prometheus metrics (``[metrics]``): scraped over real HTTP after real traffic — signed
webhooks into a running host, replies to the fake Graph API, a send Meta refuses — and
counted across a ``wahost serve`` and a ``wahost worker`` process in multiprocess mode."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from wahost import Context, hookimpl
from wahost.config import ConfigError
from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, BotHarness, make_config
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_text, make_webhook, signed_webhook

USER = "16505551234"
OTHER = "16505559999"
SCRAPE_TOKEN = "scrape-token-0123456789abcdef"


class Replier:
    """Replies twice to every text (the second waits for the recipient's spacing)."""

    __name__ = "replier"

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await ctx.reply(text=f"echo: {message.text.body}")
        await ctx.reply(text="and again")
        return True


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(url: str, token: str | None = SCRAPE_TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with loopback_client(timeout=10) as http:
        return await http.get(url, headers=headers)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "asgi"])
async def test_a_scrape_counts_webhooks_units_sends_and_latencies_of_real_traffic(
    tmp_path: Path, fast_path: bool
) -> None:
    config: dict[str, dict[str, Any]] = {
        "metrics": {"enabled": True, "token": SCRAPE_TOKEN},
        "server": {"webhook_fast_path": fast_path},
        "worker": {"max_attempts": 1},
        "graph": {"recipient_interval": 0.2},
    }
    async with (
        FakeGraph(token=TEST_TOKEN) as graph,
        BotHarness(tmp_path, plugins=[Replier()], config=config, graph=graph) as bot,
    ):
        # A recipient Meta refuses (131030, not retried): its unit dies after one attempt.
        graph.fail_when(lambda r: r.is_message and r.json.get("to") == OTHER, code=131030)
        ok = make_webhook(make_text("hello", sender=USER, wamid="wamid.m-1"))
        refused = make_webhook(make_text("hi", sender=OTHER, wamid="wamid.m-2"))
        assert (await bot.post(ok)).status_code == 200
        assert (await bot.post(refused)).status_code == 200
        assert (await bot.post(ok, secret="not-the-secret")).status_code == 403
        await bot.idle()

        url = bot.url + "/metrics"
        refused_scrape = await scrape(url, token=None)
        assert refused_scrape.status_code == 401
        assert (await scrape(url, token="wrong")).status_code == 401
        response = await scrape(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = parse(response.text)

    assert value(samples, "wahost_webhooks_total", code="200") == 2
    assert value(samples, "wahost_webhooks_total", code="403") == 1
    assert value(samples, "wahost_units_enqueued_total", kind="message") == 2
    assert value(samples, "wahost_units_handled_total", kind="message") == 1
    assert value(samples, "wahost_units_dead_total", kind="message") == 1
    assert value(samples, "wahost_units_retried_total", kind="message") == 0
    assert value(samples, "wahost_graph_sends_total", type="text", code="ok") == 2
    assert value(samples, "wahost_graph_sends_total", type="text", code="131030") == 1
    assert value(samples, "wahost_unit_handling_seconds_count", kind="message") == 2
    # Two replies to the first message, each timed from the webhook's arrival.
    assert value(samples, "wahost_ingress_to_reply_seconds_count") == 2
    reply_seconds = value(samples, "wahost_ingress_to_reply_seconds_sum")
    assert 0.2 <= reply_seconds < 10
    # The second reply to USER waited for the recipient's spacing (0.2 s).
    assert value(samples, "wahost_graph_pacing_wait_seconds_count") >= 1
    assert value(samples, "wahost_graph_pacing_wait_seconds_sum") >= 0.1
    assert value(samples, "wahost_queue_units", state="dead") == 1
    assert value(samples, "wahost_queue_units", state="ready") == 0
    assert value(samples, "wahost_queue_oldest_unit_age_seconds") == 0
    assert value(samples, "wahost_graph_circuit_open") == 0


class Slow:
    """Holds its unit until released, so that the queue has a unit waiting behind it."""

    __name__ = "slow"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await self.release.wait()
        return True


async def test_queue_depth_and_the_oldest_units_age_are_read_at_scrape_time(
    tmp_path: Path,
) -> None:
    slow = Slow()
    config = {"metrics": {"enabled": True}}
    async with BotHarness(tmp_path, plugins=[slow], config=config) as bot:
        for n in (1, 2):
            webhook = make_webhook(make_text(f"m{n}", sender=USER, wamid=f"wamid.q-{n}"))
            assert (await bot.post(webhook)).status_code == 200
        await asyncio.sleep(0.3)
        samples = parse((await scrape(bot.url + "/metrics", token=None)).text)
        slow.release.set()
        await bot.idle()
        after = parse((await scrape(bot.url + "/metrics", token=None)).text)
    # One unit leased (held by the plugin), the next of the same conversation waiting.
    assert value(samples, "wahost_queue_units", state="leased") == 1
    assert value(samples, "wahost_queue_units", state="ready") == 1
    assert 0.3 <= value(samples, "wahost_queue_oldest_unit_age_seconds") < 10
    assert value(after, "wahost_queue_units", state="leased") == 0
    assert value(after, "wahost_queue_oldest_unit_age_seconds") == 0


async def test_the_circuit_gauge_is_one_while_the_graph_api_keeps_failing(tmp_path: Path) -> None:
    config = {
        "metrics": {"enabled": True},
        "graph": {"breaker_failures": 1, "max_retries": 0, "breaker_reset": 60},
        "worker": {"max_attempts": 1, "outage_patience": 0.1},
    }
    async with (
        FakeGraph(token=TEST_TOKEN) as graph,
        BotHarness(tmp_path, plugins=[Replier()], config=config, graph=graph) as bot,
    ):
        graph.fail_next(1, code=None)  # an HTML 500 page: the server is failing
        webhook = make_webhook(make_text("hello", sender=USER, wamid="wamid.c-1"))
        assert (await bot.post(webhook)).status_code == 200
        await bot.idle()
        samples = parse((await scrape(bot.url + "/metrics", token=None)).text)
    assert value(samples, "wahost_graph_circuit_open") == 1
    assert value(samples, "wahost_graph_sends_total", type="text", code="unknown") == 1


async def test_metrics_are_off_by_default_and_each_host_counts_only_its_own(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path / "off") as off:
        assert off.host.metrics is None
        assert (await scrape(off.url + "/metrics", token=None)).status_code == 404
    config = {"metrics": {"enabled": True}}
    async with (
        BotHarness(tmp_path / "a", config=config) as first,
        BotHarness(tmp_path / "b", config=config) as second,
    ):
        webhook = make_webhook(make_text("hello", sender=USER, wamid="wamid.h-1"))
        assert (await first.post(webhook)).status_code == 200
        one = parse((await scrape(first.url + "/metrics", token=None)).text)
        other = parse((await scrape(second.url + "/metrics", token=None)).text)
    assert value(one, "wahost_webhooks_total", code="200") == 1
    assert value(other, "wahost_webhooks_total", code="200") == 0


def test_a_metrics_path_that_is_not_a_path_or_is_taken_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, {"metrics": {"enabled": True, "path": "metrics"}})
    assert "metrics.path" in str(error.value)
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, {"metrics": {"enabled": True, "path": "/webhook"}})
    assert "metrics.path" in str(error.value) and "taken" in str(error.value)
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, {"metrics": {"enabled": True, "port": 8080}})
    assert str(error.value).startswith("<test>: metrics.port: 8080 is [server] port")


def test_the_scrape_token_is_a_secret(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"metrics": {"enabled": True, "token": SCRAPE_TOKEN}})
    assert SCRAPE_TOKEN in config.secrets()
    assert SCRAPE_TOKEN not in repr(config.redacted())


# -- two processes ---------------------------------------------------------------------------

BOT = """
from wahost import Router

router = Router()


@router.message()
async def echo(ctx):
    await ctx.reply(text="echo")
"""

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "{token}"
app_secret = "{secret}"
verify_token = "verify"
graph_url = "{graph}"

[server]
port = {port}

[queue]
path = "{db}"

[worker]
enabled = false
poll_interval = 0.02

[metrics]
enabled = true
{metrics}

[bot]
modules = ["{bot}"]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(command: str, config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", command, "--config", str(config)],
            env=env,
            stdout=out,
            stderr=out,
        )


async def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with loopback_client() as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered: {log.read_text()}")


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_serve_and_a_worker_process_are_counted_together_in_multiprocess_mode(
    tmp_path: Path,
) -> None:
    (tmp_path / "mp_bot.py").write_text(textwrap.dedent(BOT))
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port, worker_port = _free_port(), _free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    async with FakeGraph(token=TEST_TOKEN) as graph:
        common = {
            "token": TEST_TOKEN,
            "secret": TEST_APP_SECRET,
            "graph": graph.url,
            "db": tmp_path / "wahost.db",
            "bot": tmp_path / "mp_bot.py",
        }
        serve_toml = tmp_path / "serve.toml"
        serve_toml.write_text(CONFIG.format(port=port, metrics="", **common))
        # The worker serves its own scrape too ([metrics] port), on a listener of its own.
        worker_toml = tmp_path / "worker.toml"
        worker_toml.write_text(
            CONFIG.format(port=_free_port(), metrics=f"port = {worker_port}", **common)
        )
        serve = _start("serve", serve_toml, env, tmp_path / "serve.log")
        worker = _start("worker", worker_toml, env, tmp_path / "worker.log")
        try:
            await _wait_http(f"http://127.0.0.1:{port}/healthz", serve, tmp_path / "serve.log")
            await _wait_http(
                f"http://127.0.0.1:{worker_port}/metrics", worker, tmp_path / "worker.log"
            )
            body, headers = signed_webhook(
                make_webhook(make_text("hello", sender=USER, wamid="wamid.mp-1"))
            )
            async with loopback_client() as http:
                answer = await http.post(
                    f"http://127.0.0.1:{port}/webhook", content=body, headers=headers
                )
            assert answer.status_code == 200
            await graph.wait_for(1, timeout=20)
            url = f"http://127.0.0.1:{port}/metrics"
            worker_url = f"http://127.0.0.1:{worker_port}/metrics"
            # The serve process publishes its webhook counts every second in this mode.
            deadline = time.monotonic() + 10
            while True:
                samples = parse((await scrape(url, token=None)).text)
                from_worker = parse((await scrape(worker_url, token=None)).text)
                done = value(samples, "wahost_units_handled_total", kind="message") and value(
                    from_worker, "wahost_webhooks_total", code="200"
                )
                if done or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        finally:
            _stop(serve, worker)
    # The webhook was answered by the serve process, the unit handled and the reply sent by
    # the worker process: one scrape of either shows both.
    for seen in (samples, from_worker):
        assert value(seen, "wahost_webhooks_total", code="200") == 1
        assert value(seen, "wahost_units_enqueued_total", kind="message") == 1
        assert value(seen, "wahost_units_handled_total", kind="message") == 1
        assert value(seen, "wahost_graph_sends_total", type="text", code="ok") == 1
        assert value(seen, "wahost_ingress_to_reply_seconds_count") == 1
    assert {path.name.split("_")[0] for path in multiproc.glob("*.db")} >= {"counter"}


async def test_dialogues_waiting_counts_conversations_whose_dialogue_waits(tmp_path: Path) -> None:
    from wahost import Router
    from wahost import filters as F

    router = Router(name="asks")

    @router.message(F.text)
    async def ask(ctx: Context) -> None:
        await ctx.ask("Your name?", F.text)
        await ctx.reply("thanks")

    config = {"metrics": {"enabled": True}}
    async with (
        FakeGraph(token=TEST_TOKEN) as graph,
        BotHarness(tmp_path, plugins=[router], config=config, graph=graph) as bot,
    ):
        for n, user in enumerate((USER, OTHER)):
            webhook = make_webhook(make_text("hi", sender=user, wamid=f"wamid.d-{n}"))
            assert (await bot.post(webhook)).status_code == 200
        await bot.idle()
        asking = parse((await scrape(bot.url + "/metrics", token=None)).text)
        answer = make_webhook(make_text("Ann", sender=USER, wamid="wamid.d-answer"))
        assert (await bot.post(answer)).status_code == 200
        await bot.idle()
        answered = parse((await scrape(bot.url + "/metrics", token=None)).text)
    assert value(asking, "wahost_dialogues_waiting") == 2
    assert value(answered, "wahost_dialogues_waiting") == 1


async def test_the_grafana_dashboard_uses_only_metrics_a_host_serves(tmp_path: Path) -> None:
    import json
    import re

    dashboard = Path(__file__).parent.parent / "docs" / "grafana-dashboard.json"
    data = json.loads(dashboard.read_text(encoding="utf-8"))
    expressions = [
        target["expr"] for panel in data["panels"] for target in panel.get("targets", [])
    ]
    used = {name for expr in expressions for name in re.findall(r"wahost_[a-z_]+", expr)}
    async with BotHarness(tmp_path, config={"metrics": {"enabled": True}}) as bot:
        text = (await scrape(bot.url + "/metrics", None)).text
    # The names a query can use, samples or not yet: a counter's _total, a histogram's series.
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    served = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes[family.type]
    }
    assert used, "the dashboard queries no wahost metric"
    assert used <= served, used - served


async def test_every_metric_a_host_serves_is_documented(tmp_path: Path) -> None:
    operations = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    async with BotHarness(tmp_path, config={"metrics": {"enabled": True}}) as bot:
        text = (await scrape(bot.url + "/metrics", None)).text
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")  # prometheus-client's creation times
    }
    assert names
    assert {name for name in names if f"`{name}`" not in operations} == set()


def test_the_stamp_adds_arrival_and_trace_context_to_every_unit_body_and_keeps_it_decodable() -> (
    None
):
    import msgspec

    from wahost.models import decode_unit
    from wahost.unit_stamp import UnitStamp, received_at, traceparent
    from wahost.units import UnitBody, split

    context = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body = make_webhook(
        make_text("one", sender=USER, wamid="wamid.s-1"),
        make_text("two", sender=OTHER, wamid="wamid.s-2"),
    )
    units = split(msgspec.json.encode(body))
    before = time.time()
    for stamped in (UnitStamp()(units, context), UnitStamp()(units[:1], context)):
        for original, unit in zip(units, stamped, strict=False):
            assert unit.key == original.key
            decoded = msgspec.json.decode(unit.body, type=UnitBody)
            assert decoded.item == msgspec.json.decode(original.body, type=UnitBody).item
            assert before - 0.01 <= (received_at(unit) or 0) <= time.time() + 0.01
            assert traceparent(unit) == context
            assert decode_unit(unit).id == original.key.removeprefix("msg:")
    [plain] = UnitStamp()(units[:1])
    assert traceparent(plain) == "" and b"traceparent" not in plain.body
