"""A newcomer's papercuts (issue 26), each as the newcomer met it: real commands on real
files, a real host on loopback, the fake Graph API."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner

from wahost import hookimpl
from wahost.cli import cli_group
from wahost.logs import configure_logging
from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, BotHarness, FakeGraph
from wahost.testing.payloads import make_text

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "{secret}"
verify_token = "verify-me-please"

[queue]
path = "{db}"
"""


def write_config(tmp_path: Path, extra: str = "", *, head: str = "") -> Path:
    path = tmp_path / "wahost.toml"
    text = CONFIG.format(secret=TEST_APP_SECRET, db=tmp_path / "wahost.db")
    path.write_text(head + text + extra)
    return path


def run(*args: str, env: dict[str, str | None] | None = None) -> Any:
    environment: dict[str, str | None] = {
        "WHATSAPP_TOKEN": TEST_TOKEN,
        "WAHOST_PLUGINS": "none",
        **(env or {}),
    }
    return CliRunner().invoke(cli_group(), list(args), env=environment)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """wahost's logging, rendered as JSON lines into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = structlog.get_config()
    out = io.StringIO()
    configure_logging(level="info", format="json", stream=out)
    yield out
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.configure(**saved)


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


# -- 8. one line per failed attempt, the traceback once --------------------------------------


class Replier:
    """Replies to every text; the reply cannot be sent."""

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        await ctx.reply(f"you said {message.text.body}")
        return True


async def test_a_reply_that_cannot_be_sent_logs_a_line_per_attempt_and_one_traceback(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    config = {"worker": {"max_attempts": 3}}
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[Replier()], graph=graph, config=config) as bot,
    ):
        graph.fail_next(100, code=131026)  # undeliverable: not retried by the client
        assert (await bot.post(make_text("hello"))).status_code == 200
        await bot.idle()
        assert (await bot.host.queue.stats()).dead == 1
    text = log_stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1
    events = records(log_stream)
    raised = [e for e in events if e["event"] == "plugin raised"]
    assert len(raised) == 3
    assert all("exception" not in e and "131026" in e["error"] for e in raised)
    dead = [e for e in events if e["event"] == "unit dead"]
    assert len(dead) == 1 and "Traceback" in dead[0]["exception"]


# -- 6. commands that only read the store need no Graph API secret -----------------------------


def test_queue_and_plugins_run_without_whatsapp_token(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    unset: dict[str, str | None] = {"WHATSAPP_TOKEN": None}
    result = run("queue", "stats", "--config", config, env=unset)
    assert result.exit_code == 0, result.output
    assert "dead: 0" in result.output
    for command in (["queue", "dead"], ["queue", "quarantine"], ["plugins"]):
        result = run(*command, "--config", config, env=unset)
        assert result.exit_code == 0, (command, result.output)
    # What sends still needs it, and says which variable is missing.
    result = run("check", "--config", config, env=unset)
    assert result.exit_code == 1
    assert "whatsapp.token: environment variable WHATSAPP_TOKEN is not set" in result.output


# -- 2. a misspelled hook: diagnosed by `wahost plugins`, with the right name -----------------

TYPO = """
from wahost import hookimpl

@hookimpl
async def on_mesage(message, ctx):
    return True
"""

GOOD = """
from wahost import hookimpl

@hookimpl
async def on_status(status):
    pass
"""


def test_plugins_lists_a_misspelled_hook_with_the_right_name(tmp_path: Path, install: Any) -> None:
    install("wahost-typo", "0.1", {"wahost-typo": "t_pc_typo"}, {"t_pc_typo": TYPO})
    install("wahost-fine", "1.0", {"wahost-fine": "t_pc_fine"}, {"t_pc_fine": GOOD})
    env: dict[str, str | None] = {"WAHOST_PLUGINS": "wahost-typo,wahost-fine"}
    result = run("plugins", env=env)
    assert result.exit_code == 0, result.output
    assert (
        "wahost-typo 0.1: ERROR: unknown hook 'on_mesage' (did you mean 'on_message'?)"
        in result.output
    )
    assert "wahost-fine 1.0: loaded" in result.output
    # Commands that run the host refuse to start, saying the same.
    result = run("check", "--config", str(write_config(tmp_path)), env=env)
    assert result.exit_code == 1
    assert "plugin 'wahost-typo': unknown hook 'on_mesage' (did you mean 'on_message'?)" in (
        result.output
    )
    # And a command that needs no host still works.
    assert run("hooks", env=env).exit_code == 0


# -- 1 and 7. what `wahost serve` says at start, and what `GET /` answers ---------------------

BROKEN = """
from wahost import hookimpl

@hookimpl
async def on_message(message, ctx)
    return True
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, config: Path, port: int, env: dict[str, str]) -> tuple[str, bytes]:
    """Run `wahost serve`, fetch `GET /` once it answers, stop it; its output and the page."""
    log = tmp_path / "serve.log"
    environment = {**os.environ, "WHATSAPP_TOKEN": "dev", **env}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", "serve", "--config", str(config)],
            cwd=tmp_path,
            env=environment,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    page: bytes = answer.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    return log.read_text(), page


def test_serve_says_which_plugins_loaded_which_failed_and_where_things_are(
    tmp_path: Path, install: Any
) -> None:
    install("wahost-broken", "0.2", {"wahost-broken": "t_pc_broken"}, {"t_pc_broken": BROKEN})
    install("wahost-fine", "1.0", {"wahost-fine": "t_pc_fine2"}, {"t_pc_fine2": GOOD})
    port = _free_port()
    extra = f'\n[server]\nport = {port}\n\n[logging]\nformat = "json"\n'
    extra += '\n[console]\nenabled = true\ntoken = "console-token-0123456789"\n'
    config = write_config(tmp_path, extra)
    # A PYTHONPATH already set (a checkout run before installing) still finds the code.
    path = [str(tmp_path / "site"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {"PYTHONPATH": os.pathsep.join(path), "WAHOST_PLUGINS": "wahost-broken,wahost-fine"}
    output, page = _serve(tmp_path, config, port, env)
    events = {}
    for line in output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            events.setdefault(event["event"], []).append(event)
    [broken] = events["plugin not loaded"]
    assert broken["level"] == "error" and broken["plugin"] == "wahost-broken"
    assert "SyntaxError" in broken["error"]
    assert "t_pc_broken" in broken["fix"] and 'disabled = ["wahost-broken"]' in broken["fix"]
    [fine] = events["plugin loaded"]
    assert fine["plugin"] == "wahost-fine" and fine["hooks"] == ["on_status"]
    assert events["no plugin handles messages: every message is stored and logged as not handled"]
    placeholder = [e for e in events if e.startswith("whatsapp.token is a placeholder")]
    assert placeholder
    # [console] enabled, but its plugin is not among WAHOST_PLUGINS: said, not served.
    [console] = events["console is enabled but its plugin is not loaded: /-/console is not served"]
    assert console["level"] == "warning" and "pip install wahost-console" in console["fix"]
    assert "console-token-0123456789" not in output
    text = page.decode()
    assert "wahost" in text and "webhook: /webhook" in text and "/healthz" in text
    assert "console: not loaded (pip install wahost-console)" in text and "wahost-fine" in text


# -- 3. `wahost check` finds what `serve` would refuse -----------------------------------------


def test_check_refuses_an_unknown_backend_name(tmp_path: Path) -> None:
    config = (
        write_config(tmp_path, "")
        .read_text()
        .replace("[queue]\n", '[queue]\nbackend = "sqllite"\n')
    )
    path = tmp_path / "wahost.toml"
    path.write_text(config)
    result = run("check", "--config", str(path))
    assert result.exit_code == 1, result.output
    assert "valid" not in result.output
    assert f"{path}: queue.backend: no installed plugin provides backend 'sqllite'" in (
        result.output
    )
    state = write_config(tmp_path, '\n[state]\nbackend = "reddis"\n')
    result = run("check", "--config", str(state))
    assert result.exit_code == 1
    assert "state.backend: no installed plugin provides backend 'reddis'" in result.output


def test_check_refuses_a_state_machine_that_cannot_be_imported(tmp_path: Path) -> None:
    extra = '\n[plugins.state_machine]\nmachine = "machines:flow"\n'
    result = CliRunner().invoke(
        cli_group(),
        ["check", "--config", str(write_config(tmp_path, extra))],
        env={"WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "wahost-state-machine"},
    )
    assert result.exit_code == 1, result.output
    assert "valid" not in result.output
    assert "plugins.state_machine.machine" in result.output
    assert "cannot import 'machines'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_check_sends_nothing_and_still_says_valid(tmp_path: Path) -> None:
    result = run("check", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


# -- 4. one-line errors -------------------------------------------------------------------------


def test_a_store_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "wahost.db").mkdir()  # a directory where the database file goes
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(str(tmp_path / "wahost.db"), str(tmp_path / "taken" / "wahost.db"))
    )
    for command in (["check"], ["queue", "stats"]):
        result = run(*command, "--config", str(path))
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.exception is not None
        [line] = result.output.strip().splitlines()
        assert line.startswith("Error: the store cannot be used: ") and "wahost.db" in line


# -- 4 and 5. sending from the command line: one-line errors, files uploaded, numbers checked --


async def _wahost(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wahost.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_send_refuses_mistakes_in_one_line_and_uploads_a_local_file(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        path = write_config(tmp_path)
        path.write_text(
            path.read_text().replace("[queue]", f'graph_url = "{graph.url}"\n\n[queue]')
        )
        env = {**os.environ, "WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "wahost-media"}
        send = ("send", "text", "--config", str(path))
        mistakes = {
            (*send, "--to", "16505551234", ""): "Text.body: must not be empty",
            ("send", "location", "--config", str(path), "--to", "16505551234", "100", "13.4"): (
                "Location.latitude: must be between -90 and 90"
            ),
            (*send, "--to", "abc", "hi"): "'abc' is not a phone number",
            ("send", "image", "--config", str(path), "--to", "16505551234", "photos/cat.jpg"): (
                "photos/cat.jpg: no such file"
            ),
        }
        for args, expected in mistakes.items():
            code, output = await _wahost(*args, env=env, cwd=tmp_path)
            assert code != 0, (args, output)
            assert expected in output, (args, output)
            assert "Traceback" not in output, output
        assert graph.requests == []  # nothing was sent for any of them
        (tmp_path / "photos").mkdir()
        (tmp_path / "photos" / "cat.png").write_bytes(PNG)
        code, output = await _wahost(
            "send", "image", "--config", str(path), "--to", "+1 650 555 1234",
            "photos/cat.png", "--caption", "a cat", env=env, cwd=tmp_path,
        )  # fmt: skip
        assert code == 0, output
    [uploaded] = graph.media
    [sent] = graph.sent
    assert sent["image"] == {"id": uploaded, "caption": "a cat"}
    assert graph.media[uploaded].data == PNG
    assert sent.to == "16505551234"
    assert f"sent {sent.wamid} to 16505551234" in output


#: The smallest PNG file: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63fcffff3f0300050001ff9a3d2f3b0000000049454e44ae426082"
)


def test_a_file_path_given_as_a_media_id_is_refused_before_sending() -> None:
    from wahost import outbound

    with pytest.raises(ValueError) as info:
        outbound.coerce(image="photos/cat.jpg")
    assert "Image.id: 'photos/cat.jpg' is a file's path, not a media id" in str(info.value)
    assert "upload" in str(info.value)
    for media_id in ("1037543291543636", "abc123"):
        assert outbound.coerce(image=media_id).id == media_id  # type: ignore[attr-defined]


# -- 7 and 10. the terminal chat: an unhandled message is shown, reads are one line ------------

QUIET_BOT = """
from wahost import hookimpl

@hookimpl
async def on_message(message, ctx):
    body = message.text.body if message.type == "text" else ""
    if body == "hi":
        await ctx.reply("hello!")
        return True
    if body == "zzz":
        return None  # nothing handles it
    await ctx.mark_read()
    return True
"""


def test_the_terminal_shows_an_unhandled_message_and_one_line_for_reads(tmp_path: Path) -> None:
    # The pseudo-terminal driver of the simulator's own tests.
    path = Path(__file__).with_name("test_simulator_terminal.py")
    spec = importlib.util.spec_from_file_location("_terminal_driver", path)
    assert spec is not None and spec.loader is not None
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)

    (tmp_path / "quiet_bot.py").write_text(QUIET_BOT)
    (tmp_path / "wahost.toml").write_text(driver.CONFIG)
    args = driver._simulate("--config", "wahost.toml", "--bot", "quiet_bot")
    term = driver.Terminal(args, tmp_path, driver._env(tmp_path))
    try:
        term.expect(r"you are \+16505551234")
        mark = len(term.screen)
        for line in ("a", "b", "c"):
            term.type(line)
        term.type("hi")
        term.expect(r"hello!", start=mark)
        time.sleep(0.5)  # the reads of a, b and c are all in before the reply
        assert term.screen[mark:].count("read by the bot") == 1, term.screen[mark:]
        mark = len(term.screen)
        term.type("zzz")
        term.expect(r"no plugin handled this message", start=mark)
        term.type("/quit")
        assert term.process.wait(20) == 0
    finally:
        term.close()


# -- 9. the README's simulate line, followed from the clone's root ----------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_readmes_simulate_line_runs_from_the_clone_root_as_it_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    bot = re.search(r"```python\n(# mybot\.py.*?)```", readme, re.S)
    assert bot is not None
    command = next(
        line for line in readme.splitlines() if line.startswith("wahost simulate --config")
    )
    # The README tells where the bot goes before the command.
    assert "saved\nthere as `mybot.py`" in readme[: readme.index(command)] or (
        "saved there as `mybot.py`" in readme[: readme.index(command)]
    )
    # The clone's root as the newcomer has it: its config/ and the bot saved next to it.
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "mybot.py").write_text(bot[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
    env["WAHOST_PLUGINS"] = "none"
    args = shlex.split(command.split("#")[0])
    log = tmp_path / "simulate.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wahost.cli", *args[1:]],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=out,
        )
    assert process.stdin is not None
    try:
        process.stdin.write(b"hi\n")
        process.stdin.flush()
        deadline = time.monotonic() + 30
        while "Tea or cake?" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert "Tea or cake?" in log.read_text(), log.read_text()
        process.stdin.write(b"/quit\n")
        process.stdin.close()
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulate_with_a_bot_that_does_not_compile_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_bot.py").write_text("def reply(:\n")
    monkeypatch.chdir(tmp_path)
    config = str(write_config(tmp_path))
    for option in ("--bot", "--plugin"):
        result = run("simulate", "--config", config, option, "broken_bot")
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        [line] = result.output.strip().splitlines()
        assert line.startswith(f"Error: {option} broken_bot: ") and "SyntaxError" in line
