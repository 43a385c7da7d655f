"""The console is the wahost-console plugin: the core configures it (``[console]``) and runs
without it, serving no ``/-/console`` and saying why; ``wahost simulate --web`` refuses in one
line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from structlog.testing import capture_logs

from wahost.cli import cli_group
from wahost.simulator import SIMULATION
from wahost.startup_log import index_text, log_start
from wahost.testing import TEST_APP_SECRET, BotHarness

CONSOLE = {"console": {"enabled": True, "token": "console-token-0123456789"}}


async def test_without_its_plugin_the_console_is_not_served_and_start_up_says_so(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path, config=CONSOLE, worker=False) as bot:
        assert bot.http is not None
        headers = {"Authorization": "Bearer console-token-0123456789"}
        for path in ("/-/console", "/-/console/login", "/-/console/api/chat/users"):
            assert (await bot.http.get(bot.url + path, headers=headers)).status_code == 404
        assert (await bot.http.get(bot.url + "/healthz")).status_code == 200
        with capture_logs() as logs:
            log_start(bot.host, serving=True)
        assert bot.host.slots.get(SIMULATION) is None
        index = index_text(bot.host)
    [warning] = [entry for entry in logs if entry["event"].startswith("console is enabled")]
    assert warning["log_level"] == "warning"
    assert warning["fix"].startswith("pip install wahost-console")
    assert not [entry for entry in logs if entry["event"] == "console"]
    assert "console: not loaded (pip install wahost-console)" in index


def test_simulate_web_without_the_console_plugin_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "wahost.toml"
    config.write_text(
        f'[whatsapp]\nphone_number_id = "106540352242922"\ntoken = "t"\n'
        f'app_secret = "{TEST_APP_SECRET}"\nverify_token = "v"\n\n'
        f'[queue]\npath = "{tmp_path / "wahost.db"}"\n'
    )
    args = ["simulate", "--config", str(config), "--web", "--no-terminal"]
    result = CliRunner().invoke(cli_group(), args, env={"WAHOST_PLUGINS": "none"})
    assert result.exit_code == 1, result.output
    [line] = [line for line in result.output.splitlines() if not line.startswith("#")]
    assert line == "Error: --web: the console's plugin is not loaded: pip install wahost-console"


def test_check_warns_when_the_console_is_enabled_without_its_plugin(tmp_path: Path) -> None:
    config = tmp_path / "wahost.toml"
    config.write_text(
        f'[whatsapp]\nphone_number_id = "106540352242922"\ntoken = "t"\n'
        f'app_secret = "{TEST_APP_SECRET}"\nverify_token = "v"\n\n'
        f'[queue]\npath = "{tmp_path / "wahost.db"}"\n\n'
        '[console]\nenabled = true\ntoken = "console-token-0123456789"\n'
    )
    args = ["check", "--config", str(config)]
    result = CliRunner().invoke(cli_group(), args, env={"WAHOST_PLUGINS": "none"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("# warning: console.")] == [
        "# warning: console.enabled: the console's plugin is not loaded, /-/console would not "
        "be served: pip install wahost-console"
    ]
    assert "console-token-0123456789" not in result.output
