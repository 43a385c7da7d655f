"""The queries: ``GET /-/status/<wamid>`` and ``wahost status show|stats``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import wahost_status
from click.testing import CliRunner
from wahost_status.commands import parse_since
from wahost_status.store import load_record, plan_status
from wahost_status.trackers import registry

from wahost import Status, Wahost
from wahost.cli import cli_group
from wahost.config import load_config
from wahost.testing import make_status
from wahost.testing.payloads import new_wamid

TOKEN = "status-api-token-0123456789"


class Coupon(msgspec.Struct, tag="cp", tag_field="t", omit_defaults=True):
    code: str


@pytest.fixture
def coupon() -> Any:
    wahost_status.tracker(Coupon)
    yield Coupon
    registry.unregister(Coupon)


async def test_route_answers_the_record_with_the_token(
    wahost_app: Any, fake_graph: Any, coupon: Any
) -> None:
    config = {"plugins": {"status": {"api_token": TOKEN}}}
    async with wahost_app(plugins=[wahost_status], config=config) as bot:
        # A wamid with "/" and "+" in it, as base64 wamids can have.
        fake = "wamid.HBgL+MTY1/MDM4Nzk0MzkVAgARGBI3MTE5=="
        await bot.post(make_status(fake, "read", timestamp=1750263841))
        sent = await bot.host.send("16505551234", "hi", tracker=Coupon("SUMMER"))
        await bot.post(make_status(sent.id, "sent", timestamp=1750263000))
        await bot.idle()
        url = f"{bot.url}/-/status/"
        http = bot.http
        missing = await http.get(url + sent.id)
        wrong = await http.get(url + sent.id, headers={"Authorization": "Bearer nope"})
        basic = await http.get(url + sent.id, headers={"Authorization": f"Basic {TOKEN}"})
        auth = {"Authorization": f"Bearer {TOKEN}"}
        ok = await http.get(url + sent.id, headers=auth)
        odd = await http.get(url + fake, headers=auth)
        unknown = await http.get(url + "wamid.nothing", headers=auth)
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in response.text
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    body = ok.json()
    assert body["wamid"] == sent.id and body["status"] == "sent"
    assert body["steps"]["sent"] == {"at": "2025-06-18T16:10:00Z", "implied": False}
    assert body["tracker"] == {"type": "Coupon", "value": {"t": "cp", "code": "SUMMER"}}
    assert body["tracker_raw"] == '{"t":"cp","code":"SUMMER"}'
    assert body["send"]["unit"] is None and body["send"]["to"] == "16505551234"
    assert odd.status_code == 200 and odd.json()["status"] == "read"
    assert odd.json()["steps"]["delivered"]["implied"] is True
    assert unknown.status_code == 404


async def test_route_is_not_served_without_a_token(wahost_bot: Any) -> None:
    wamid = new_wamid(outbound=True)
    async with wahost_bot(plugins=[wahost_status]) as bot:
        await bot.post(make_status(wamid, "sent"))
        await bot.idle()
        response = await bot.http.get(f"{bot.url}/-/status/{wamid}")
    assert response.status_code == 404


# -- the command line -----------------------------------------------------------------------


CONFIG = """\
[whatsapp]
phone_number_id = "106540352242922"
token = "test-token"
app_secret = "test-app-secret"
verify_token = "test-verify-token"

[queue]
path = "{db}"

[logging]
level = "warning"

[plugins.status]
api_token = "${{STATUS_API_TOKEN}}"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATUS_API_TOKEN", TOKEN)
    # Only this plugin: other installed plugins are not under test here.
    monkeypatch.setenv("WAHOST_PLUGINS", "wahost-status")
    path = tmp_path / "wahost.toml"
    path.write_text(CONFIG.format(db=tmp_path / "wahost.db"))
    return path


async def seed(config_file: Path, wamid: str) -> None:
    config = load_config(config_file)
    async with Wahost(config, plugins=[wahost_status], load_entrypoints=False) as host:
        for kind, ts, extra in [
            ("sent", 1750263000, {}),
            ("failed", 1750263010, {"errors": [{"code": 131047, "title": "Re-engagement"}]}),
        ]:
            item = {"id": wamid, "status": kind, "timestamp": str(ts), "recipient_id": "1"}
            update = wahost_status.parse(msgspec.convert(item | extra, Status))
            record = await load_record(host.state.kv_get, wamid)
            _, writes = plan_status(record, update, at=update.timestamp, retention=1e9)
            for write in writes:
                assert write.value is not None
                await host.state.kv_set(write.namespace, write.key, write.value, ttl=write.ttl)


def test_cli_show_and_stats(config_file: Path) -> None:
    wamid = new_wamid(outbound=True)
    asyncio.run(seed(config_file, wamid))
    runner = CliRunner()
    cli = cli_group()
    show = runner.invoke(cli, ["status", "show", "--config", str(config_file), wamid])
    assert show.exit_code == 0, show.output
    assert "status: failed" in show.output
    assert "sent      2025-06-18T16:10:00Z" in show.output
    assert "error: ReengagementError: (131047) Re-engagement" in show.output
    as_json = runner.invoke(cli, ["status", "show", "-c", str(config_file), "--json", wamid])
    assert json.loads(as_json.output)["errors"][0]["code"] == 131047
    missing = runner.invoke(cli, ["status", "show", "-c", str(config_file), "wamid.none"])
    assert missing.exit_code == 1 and "no record of wamid.none" in missing.output
    since = "2025-06-18T00:00:00"
    stats = runner.invoke(cli, ["status", "stats", "-c", str(config_file), "--since", since])
    assert stats.exit_code == 0, stats.output
    assert "  failed    1" in stats.output and "failures: 131047 x1" in stats.output
    data = runner.invoke(
        cli, ["status", "stats", "-c", str(config_file), "--since", since, "--json"]
    )
    figures = json.loads(data.output)
    assert figures["counts"]["sent"] == 1 and figures["failures"] == {"131047": 1}
    bad = runner.invoke(cli, ["status", "stats", "-c", str(config_file), "--since", "soon"])
    assert bad.exit_code == 2 and "expected a duration" in bad.output
    assert TOKEN not in show.output + stats.output + data.output


def test_parse_since() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 20, 12, tzinfo=UTC)
    assert parse_since("7d", now=now) == datetime(2025, 6, 13, 12, tzinfo=UTC)
    assert parse_since("90m", now=now) == datetime(2025, 6, 20, 10, 30, tzinfo=UTC)
    assert parse_since("2025-06-01", now=now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_since("2025-06-01T08:00:00+02:00", now=now) == datetime(2025, 6, 1, 6, tzinfo=UTC)


def test_config_token_is_a_secret(config_file: Path) -> None:
    config = load_config(config_file)
    assert TOKEN in config.secrets()
    assert TOKEN not in repr(config.redacted())
