"""``wahost webhook subscribe`` and ``wahost webhook status`` against the fake Graph API
(reference/cloudapi.md §18.3), as real processes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, FakeGraph

WABA = "102290129340398"
PNID = "106540352242922"
VERIFY = "verify-me-please"


def write_config(tmp_path: Path, graph: FakeGraph, *, waba: str = WABA) -> Path:
    path = tmp_path / "wahost.toml"
    path.write_text(
        f"""
[whatsapp]
phone_number_id = "{PNID}"
waba_id = "{waba}"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "{TEST_APP_SECRET}"
verify_token = "{VERIFY}"
graph_url = "{graph.url}"

[queue]
path = "{tmp_path / "wahost.db"}"
"""
    )
    return path


async def wahost(*args: str) -> tuple[int, str]:
    env = {**os.environ, "WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "none"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wahost.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_subscribe_then_status_at_each_level(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        graph.add_phone_number(PNID, WABA)
        config = str(write_config(tmp_path, graph))
        code, output = await wahost("webhook", "status", "--config", config)
        assert code == 0, output
        assert "webhooks go to: nowhere" in output
        assert f"app subscribed to the WABA {WABA}: NO" in output

        url = "https://bot.example.com/webhook"
        code, output = await wahost("webhook", "subscribe", "--config", config, "--url", url)
        assert code == 0, output
        assert graph.subscribed_wabas == {WABA: url}
        assert graph.override_tokens[url] == VERIFY  # the token wahost answers Meta's GET with
        assert f"webhooks go to: {url} (WABA override)" in output
        assert f"app subscribed to the WABA {WABA}: yes" in output

        phone_url = "https://phone.example.com/webhook"
        code, output = await wahost(
            "webhook", "subscribe", "--config", config, "--url", phone_url, "--level", "phone"
        )
        assert code == 0, output
        assert graph.phone_overrides == {PNID: phone_url}
        code, output = await wahost("webhook", "status", "--config", config)
        assert code == 0, output
        assert f"phone number override: {phone_url}" in output
        assert f"WABA override: {url}" in output
        assert f"webhooks go to: {phone_url} (phone number override)" in output
    subscribe_posts = [
        r for r in graph.requests if r.method == "POST" and r.path.endswith("/subscribed_apps")
    ]
    # The WABA level in one request; the phone level left the subscription as it was (a
    # POST without a body would have removed the WABA's override).
    assert [r.json for r in subscribe_posts] == [
        {"override_callback_uri": url, "verify_token": VERIFY}
    ]
    for request in graph.requests:
        assert TEST_TOKEN not in request.path + request.query


async def test_subscribe_refuses_what_meta_would_refuse_before_any_request(
    tmp_path: Path,
) -> None:
    async with FakeGraph() as graph:
        config = str(write_config(tmp_path, graph))
        code, output = await wahost(
            "webhook", "subscribe", "--config", config, "--url", "http://bot.example.com/webhook"
        )
        assert code == 2 and "Meta calls only https URLs" in output
        long_url = "https://bot.example.com/" + "x" * 200 + "/webhook"
        code, output = await wahost("webhook", "subscribe", "--config", config, "--url", long_url)
        assert code == 2 and "at most 200" in output
        no_waba = str(write_config(tmp_path, graph, waba=""))
        code, output = await wahost(
            "webhook", "subscribe", "--config", no_waba, "--url", "https://b.example.com/webhook"
        )
        assert code == 1
        assert "whatsapp.waba_id: required for --level waba" in output
        assert graph.requests == []


async def test_a_url_that_misses_the_webhook_path_is_warned_and_meta_errors_are_one_line(
    tmp_path: Path,
) -> None:
    async with FakeGraph() as graph:
        config = str(write_config(tmp_path, graph))
        graph.fail_next(1, code=200, path_contains="/subscribed_apps")
        code, output = await wahost(
            "webhook", "subscribe", "--config", config, "--url", "https://bot.example.com/"
        )
    assert "does not end with [server] webhook_path (/webhook)" in output
    assert code == 1
    assert "Traceback" not in output
    assert "Error: " in output and "(200)" in output
