"""``wahost check``, ``wahost serve`` and ``wahost worker`` warn about secrets written in plain
text and about secret files, the configuration file and databases that group or others may
read: one line each, naming the file, the key and the fix, never the secret. Real files, the
real CLI."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
import structlog
from click.testing import CliRunner
from msgspec import Meta

from wahost import Wahost, hookimpl
from wahost.cli import cli_group
from wahost.logs import configure_logging
from wahost.queue.sqlite import SQLiteQueue
from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, make_config

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows files have no mode bits")

VERIFY_TOKEN = "verify-me-please"
CONSOLE_PASSWORD = "console-password-42"
REDIS_PASSWORD = "redis-password-42"


def write_config(directory: Path, whatsapp: str, extra: str = "") -> Path:
    path = directory / "wahost.toml"
    path.write_text(
        f"""
[whatsapp]
phone_number_id = "106540352242922"
{whatsapp}

[queue]
path = "{directory / "wahost.db"}"
{extra}
"""
    )
    path.chmod(0o600)
    return path


SAFE = """\
token = "${WHATSAPP_TOKEN}"
app_secret = { file = "app_secret" }
verify_token = "${VERIFY_TOKEN}"
"""


def write_secret_file(directory: Path, file_mode: int) -> None:
    secret = directory / "app_secret"
    secret.write_text(TEST_APP_SECRET + "\n")
    secret.chmod(file_mode)


def check(path: Path) -> list[str]:
    """The warnings of ``wahost check`` (which must pass) on ``path``."""
    # The console's plugin only: the configurations here enable the console, and without its
    # plugin `wahost check` would (rightly) warn that it is not loaded.
    env = {
        "WHATSAPP_TOKEN": TEST_TOKEN,
        "VERIFY_TOKEN": VERIFY_TOKEN,
        "WAHOST_PLUGINS": "wahost-console",
    }
    result = CliRunner().invoke(cli_group(), ["check", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    for secret in (TEST_TOKEN, TEST_APP_SECRET, VERIFY_TOKEN, CONSOLE_PASSWORD, REDIS_PASSWORD):
        assert secret not in result.output
    prefix = "# warning: "
    return [line[len(prefix) :] for line in result.output.splitlines() if line.startswith(prefix)]


def test_check_is_quiet_with_secrets_from_the_environment_and_private_files(
    tmp_path: Path,
) -> None:
    write_secret_file(tmp_path, 0o600)
    extra = '\n[console]\nenabled = true\ntoken = "${WHATSAPP_TOKEN}"\n'
    assert check(write_config(tmp_path, SAFE, extra)) == []


def test_check_warns_of_each_secret_in_plain_text_with_the_key_and_the_fix(
    tmp_path: Path,
) -> None:
    whatsapp = f"""\
token = "{TEST_TOKEN}"
app_secrets = ["{TEST_APP_SECRET}", "${{WHATSAPP_TOKEN}}"]
verify_token = "${{VERIFY_TOKEN}}"
"""
    extra = f"""url = "redis://:{REDIS_PASSWORD}@localhost:6379/0"

[console]
enabled = true
username = "admin"
password = "{CONSOLE_PASSWORD}"
"""
    path = write_config(tmp_path, whatsapp, extra)
    assert check(path) == [
        f"{path}: whatsapp.token: a secret written in plain text; write token = "
        '"${WHATSAPP_TOKEN}" and set WHATSAPP_TOKEN in the environment, or token = '
        '{ file = "<path>" } with a file of mode 0600',
        f"{path}: whatsapp.app_secrets[0]: a secret written in plain text; write "
        '"${WHATSAPP_APP_SECRETS_0}" in its place and set WHATSAPP_APP_SECRETS_0 in the '
        "environment",
        f"{path}: queue.url: a URL with its password in plain text; write the password as "
        "${QUEUE_URL_PASSWORD} and set QUEUE_URL_PASSWORD in the environment",
        f"{path}: console.password: a secret written in plain text; write password = "
        '"${CONSOLE_PASSWORD}" and set CONSOLE_PASSWORD in the environment, or password = '
        '{ file = "<path>" } with a file of mode 0600',
    ]
    # The same file readable by others: one more line, for the file itself.
    path.chmod(0o644)
    assert check(path)[-1] == (
        f"{path}: whatsapp.token, whatsapp.app_secrets[0], queue.url, console.password: the "
        "file holds secrets in plain text and group or others may read it (mode 0644); move "
        f"the secrets out as above, or chmod 600 {path}"
    )


def test_check_warns_of_secret_files_others_may_read(tmp_path: Path) -> None:
    write_secret_file(tmp_path, 0o640)
    path = write_config(tmp_path, SAFE)
    path.chmod(0o644)  # no secret in it: its mode does not matter
    secret = tmp_path / "app_secret"
    assert check(path) == [
        f"{secret}: whatsapp.app_secret: the secret file is readable by group or others "
        f"(mode 0640); chmod 600 {secret}"
    ]


def test_check_warns_of_a_database_others_may_read(tmp_path: Path) -> None:
    write_secret_file(tmp_path, 0o600)
    path = write_config(tmp_path, SAFE)
    database = tmp_path / "wahost.db"

    async def create() -> None:
        queue = SQLiteQueue(database)
        await queue.open()
        await queue.close()

    # Not an async test: check runs the host's start-up in an event loop of its own.
    asyncio.run(create())
    assert check(path) == []  # created private
    database.chmod(0o644)
    assert check(path) == [
        f"{database}: queue.path: the database (message bodies, phone numbers) is readable "
        f"by group or others (mode 0644); chmod 600 {database}"
    ]


PLUGIN = """
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from wahost import hookimpl


class DemoConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    signing_key: Annotated[str, Meta(extra={"secret": True})] = ""
    api_token: str = ""
    token_style: Literal["plain", "fancy"] = "plain"
    key_file: Annotated[str, Meta(extra={"secret_file": True})] = ""
    label: str = ""


@hookimpl
def wahost_config_schema():
    return {"demo": DemoConfig}
"""


def test_check_reads_plugin_secrets_from_the_plugins_schema(tmp_path: Path, install: Any) -> None:
    install("wahost-demo", "1.0", {"demo": "t_audit_demo"}, {"t_audit_demo": PLUGIN})
    write_secret_file(tmp_path, 0o600)
    (tmp_path / "demo.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "demo.pem").chmod(0o644)
    extra = """
[plugins.demo]
signing_key = "plain-signing-key"
api_token = "plain-api-token"
token_style = "fancy"
key_file = "demo.pem"
label = "not a secret"
"""
    path = write_config(tmp_path, SAFE, extra)
    env = {"WHATSAPP_TOKEN": TEST_TOKEN, "VERIFY_TOKEN": VERIFY_TOKEN, "WAHOST_PLUGINS": "demo"}
    result = CliRunner().invoke(cli_group(), ["check", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("# warning: ")]
    assert [line.split(": ")[1:3] for line in warnings] == [
        [str(path), "plugins.demo.signing_key"],
        [str(path), "plugins.demo.api_token"],  # named like a secret, as the redactor reads it
        [str(tmp_path / "demo.pem"), "plugins.demo.key_file"],
    ]
    assert not any("plain-signing-key" in line or "plain-api-token" in line for line in warnings)
    assert "key file is readable by group or others (mode 0644)" in warnings[2]
    # The printed configuration masks a field the schema marks secret, whatever its name.
    assert "plain-signing-key" not in result.output
    assert 'signing_key = "***"' in result.output
    assert 'label = "not a secret"' in result.output


async def test_the_worker_logs_each_warning_at_start(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        SAFE.replace('"${WHATSAPP_TOKEN}"', f'"{TEST_TOKEN}"'),
        '\n[logging]\nformat = "json"\n',
    )
    write_secret_file(tmp_path, 0o600)
    env = {**os.environ, "VERIFY_TOKEN": VERIFY_TOKEN, "WAHOST_PLUGINS": "none"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wahost.cli",
        "worker",
        "--config",
        str(path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("worker started" in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        await process.wait()
    # The start-up's other warnings (nothing handles messages here) say nothing of files.
    warnings = [line for line in lines if '"level": "warning"' in line and str(path) in line]
    assert len(warnings) == 1, lines
    assert f"{path}: whatsapp.token: a secret written in plain text" in warnings[0]
    assert TEST_TOKEN not in "".join(lines)


class MarkedSecretPlugin:
    """A plugin whose schema marks a field secret that is not named like one."""

    __name__ = "marked"

    class Settings(msgspec.Struct, kw_only=True):
        signing_key: Annotated[str, Meta(extra={"secret": True})] = ""

    @hookimpl
    def wahost_config_schema(self) -> dict[str, type[msgspec.Struct]]:
        return {"marked": self.Settings}


def test_a_value_a_plugin_marks_secret_is_redacted_from_the_logs(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"marked": {"signing_key": "k3y-by-mark-only"}}})
    out = io.StringIO()
    configure_logging(format="json", secrets=config.secrets(), stream=out)
    try:
        host = Wahost(config, plugins=[MarkedSecretPlugin()], load_entrypoints=False)
        assert host.plugin_secrets == ["k3y-by-mark-only"]
        structlog.get_logger("t").warning("signing with k3y-by-mark-only now")
    finally:
        configure_logging()
    assert "k3y-by-mark-only" not in out.getvalue()
    assert "signing with *** now" in out.getvalue()
