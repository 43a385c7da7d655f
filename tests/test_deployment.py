"""Deployment artefacts: the Dockerfile, compose.yaml, the systemd unit of docs/operations.md,
and the port and address taken from the environment or the command line.

A container engine is not assumed: the image is built only where ``docker info`` answers; the
rest runs the Dockerfile's own commands against this checkout, on a real port.
"""

from __future__ import annotations

import json
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
from pathlib import Path
from typing import Any

import pytest

from wahost.config import ConfigError, load_config, parse_config
from wahost.testing import TEST_APP_SECRET, TEST_TOKEN

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"

MINIMAL = f"""\
[whatsapp]
phone_number_id = "106540352242922"
token = "{TEST_TOKEN}"
app_secret = "{TEST_APP_SECRET}"
verify_token = "verify-me"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instructions(name: str) -> list[str]:
    """The Dockerfile's instructions called ``name``, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [
        line.split(None, 1)[1]
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [name] and len(line.split(None, 1)) == 2
    ]


def _exec_form(value: str) -> list[str]:
    """The JSON array of a CMD or HEALTHCHECK (exec form: no shell in the image needed)."""
    found = re.search(r"\[.*\]\s*$", value)
    assert found, f"not in exec form: {value}"
    command: list[str] = json.loads(found[0])
    return command


class Running:
    """A command started in its own process group, its output in a file."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.log = cwd / "process.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _wait_healthy(port: int, process: Running, seconds: float = 30.0) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.process.poll() is None, process.output()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                body: bytes = answer.read()
                return body
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no answer on port {port}:\n{process.output()}")


def _env(**extra: str) -> dict[str, str]:
    environment = {**os.environ, "WAHOST_PLUGINS": "none", **extra}
    # The CMD names `wahost`, the script of this interpreter's environment.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return environment


# -- port and address ----------------------------------------------------------------------


def test_port_and_host_from_the_environment_take_the_keys_types() -> None:
    text = MINIMAL + '[server]\nport = "${PORT}"\nhost = "${HOST}"\n'
    config = parse_config(text, env={"PORT": "9191", "HOST": "0.0.0.0"})
    assert config.server.port == 9191
    assert config.server.host == "0.0.0.0"
    flags = MINIMAL + '[worker]\nenabled = "${ON}"\nbackoff_base = "${BASE}"\n'
    config = parse_config(flags, env={"ON": "false", "BASE": "0.5"})
    assert config.worker.enabled is False
    assert config.worker.backoff_base == 0.5


def test_a_port_from_the_environment_that_is_no_number_names_key_and_variable() -> None:
    text = MINIMAL + '[server]\nport = "${PORT}"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="wahost.toml", env={"PORT": "eighty"})
    assert str(info.value) == (
        "wahost.toml: server.port: environment variable PORT must be an integer, got 'eighty'"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="wahost.toml", env={"PORT": "70000"})
    assert "server.port" in str(info.value) and "65535" in str(info.value)


def test_a_string_key_keeps_a_numeric_value_from_the_environment() -> None:
    text = MINIMAL.replace('"106540352242922"', '"${NUMBER_ID}"')
    config = parse_config(text, env={"NUMBER_ID": "106540352242922"})
    assert config.whatsapp.phone_number_id == "106540352242922"


def test_serve_listens_on_the_port_and_address_of_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "wahost.toml"
    # The file's port is taken (by this test's socket): only --port can make serve answer.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        file_port = taken.getsockname()[1]
        config.write_text(
            MINIMAL
            + f'[server]\nhost = "192.0.2.1"\nport = {file_port}\n'
            + f'[queue]\npath = "{tmp_path / "wahost.db"}"\n'
        )
        port = _free_port()
        args = ["wahost", "serve", "--config", str(config), "--host", "127.0.0.1"]
        process = Running([*args, "--port", str(port)], tmp_path, _env())
        try:
            assert _wait_healthy(port, process)
        finally:
            process.stop()
    assert f"http://127.0.0.1:{port}" in process.output()


# -- the Dockerfile ----------------------------------------------------------------------


def test_the_dockerfile_runs_as_an_unprivileged_user() -> None:
    users = _instructions("USER")
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(_instructions("RUN"))
    assert "--home-dir /srv/wahost" in runs
    # The store's directory belongs to that user, so a volume mounted there is writable.
    assert "install -d -o wahost -g wahost -m 0700 /srv/wahost/var" in runs


def test_the_dockerfile_installs_the_core_and_every_first_party_plugin_from_the_checkout() -> None:
    copied = [line.split()[0] for line in _instructions("COPY") if not line.startswith("--")]
    for source in copied:
        assert (ROOT / source).exists(), source
    installs = " ".join(run for run in _instructions("RUN") if "pip install" in run)
    plugins = sorted(path.name for path in (ROOT / "plugins").iterdir() if path.is_dir())
    assert plugins
    for plugin in plugins:
        assert f"./plugins/{plugin}" in installs, plugin
        assert (ROOT / "plugins" / plugin / "pyproject.toml").exists()


def test_the_dockerfiles_command_serves_and_its_healthcheck_passes(tmp_path: Path) -> None:
    """The CMD and the HEALTHCHECK as the image runs them (config path and port moved)."""
    command = _exec_form(_instructions("CMD")[-1])
    assert command[:2] == ["wahost", "serve"]
    health = _exec_form(_instructions("HEALTHCHECK")[-1])
    assert "/healthz" in " ".join(health)
    config = tmp_path / "wahost.toml"
    config.write_text(MINIMAL + f'[queue]\npath = "{tmp_path / "wahost.db"}"\n')
    port = _free_port()
    args = [str(config) if arg == "/etc/wahost/wahost.toml" else arg for arg in command]
    assert str(config) in args, "the CMD reads the configuration at /etc/wahost/wahost.toml"
    args = [str(port) if arg == "8080" else arg for arg in args]
    process = Running(args, tmp_path, _env())
    try:
        _wait_healthy(port, process)
        check = [arg.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for arg in health]
        check[0] = sys.executable if check[0] == "python" else check[0]
        assert subprocess.run(check, timeout=30).returncode == 0
    finally:
        process.stop()
    assert process.process.returncode == 0, process.output()


def _engine() -> str | None:
    for engine in ("docker", "podman"):
        if shutil.which(engine) is None:
            continue
        try:
            answer = subprocess.run([engine, "info"], capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0:
            return engine
    return None


def test_the_image_builds() -> None:
    engine = _engine()
    if engine is None:
        pytest.skip("no container engine answers here (docker/podman info failed or absent)")
    result = subprocess.run(
        [engine, "build", "-t", "wahost:test", str(ROOT)], capture_output=True, timeout=900
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-4000:]


# -- compose.yaml ----------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_compose_runs_web_two_workers_and_redis_with_its_append_only_file() -> None:
    services = _compose()["services"]
    assert set(services) == {"web", "worker", "redis"}
    assert services["web"]["command"][:2] == ["wahost", "serve"]
    assert services["worker"]["command"][:2] == ["wahost", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    redis = services["redis"]
    assert redis["command"][0] == "redis-server"
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_mounts_the_configuration_and_the_secrets_it_reads(tmp_path: Path) -> None:
    compose = _compose()
    secrets = compose["secrets"]
    for name in ("web", "worker"):
        service = compose["services"][name]
        mounts = [volume.split(":") for volume in service["volumes"]]
        assert ["./deploy/wahost.toml", "/etc/wahost/wahost.toml", "ro"] in mounts
        assert set(service["secrets"]) == set(secrets)
    # The mounted configuration loads with those secrets where Compose puts them.
    text = (ROOT / "deploy" / "wahost.toml").read_text()
    for name in secrets:
        (tmp_path / name).write_text(f"{name}-value\n")
        assert f"/run/secrets/{name}" in text
    config = parse_config(
        text.replace("/run/secrets/", f"{tmp_path}/"),
        env=compose["services"]["web"]["environment"],
    )
    assert config.queue.backend == "redis" and config.state.backend == "redis"
    assert config.queue.url == "redis://redis:6379/0"
    assert config.whatsapp.token == "whatsapp_token-value"
    assert config.worker.enabled is False  # the web process only receives
    assert config.server.host == "0.0.0.0" and config.server.port == 8080


def test_the_compose_commands_exist() -> None:
    from click.testing import CliRunner

    from wahost.cli import cli_group

    for name in ("web", "worker"):
        command = _compose()["services"][name]["command"]
        assert command[0] == "wahost"
        # Every option the service passes is one the command takes.
        result = CliRunner().invoke(cli_group(), [command[1], "--help"])
        assert result.exit_code == 0, result.output
        for option in (arg for arg in command[2:] if arg.startswith("--")):
            assert option in result.output, (name, option)


# -- the systemd unit ------------------------------------------------------------------------


def _unit() -> str:
    blocks = re.findall(r"```ini\n(.*?)```", OPERATIONS.read_text(), flags=re.S)
    units = [block for block in blocks if "[Service]" in block and "wahost serve" in block]
    assert len(units) == 1
    return units[0]


def test_the_systemd_unit_has_no_inline_comments() -> None:
    for line in _unit().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            assert "#" not in line.split("=", 1)[1], line


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    wahost = shutil.which("wahost", path=str(Path(sys.executable).parent)) or "/bin/true"
    # The unit's paths, pointed at what exists here: verify checks the commands are executable.
    unit = _unit().replace("/srv/wahost/.venv/bin/wahost", wahost)
    path = tmp_path / "wahost.service"
    path.write_text(unit)
    result = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    lines = [line for line in result.stderr.splitlines() if str(path) in line or "wahost" in line]
    problems = [line for line in lines if "ignoring" in line.lower() or "failed" in line.lower()]
    assert problems == [], result.stderr
    for command in re.findall(r"^Exec\w+=(.*)$", unit, flags=re.M):
        assert shlex.split(command)[1] in ("check", "serve")


def test_the_loaded_unit_keeps_its_stop_timeout_and_files_limit(tmp_path: Path) -> None:
    """What the unit means, read back by systemd (the inline comments made it drop both)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    path = tmp_path / "wahost.service"
    path.write_text(_unit())
    result = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert "TimeoutStopSec" not in result.stderr and "Failed to parse" not in result.stderr
    assert "LimitNOFILE" not in result.stderr


def test_the_example_configuration_loads_with_a_port_from_the_environment(tmp_path: Path) -> None:
    text = (ROOT / "config" / "wahost.toml").read_text().replace("port = 8080", 'port = "${PORT}"')
    path = tmp_path / "wahost.toml"
    path.write_text(text)
    env = {
        "PORT": "8181",
        "WHATSAPP_TOKEN": "t",
        "WHATSAPP_APP_SECRET": "s",
        "WHATSAPP_VERIFY_TOKEN": "v",
    }
    assert load_config(path, env=env).server.port == 8181
