"""The configuration file: decoding, defaults, secrets, error messages, plugin settings."""

from __future__ import annotations

import math
import tomllib
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wahost.config import (
    Config,
    ConfigError,
    LoggingConfig,
    PluginsConfig,
    QueueConfig,
    ServerConfig,
    StateConfig,
    WhatsAppConfig,
    WorkerConfig,
    config_to_toml,
    load_config,
    parse_config,
    validate_plugin_settings,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"

TOKEN = "EAAG-canary-token-7f3a9c"
APP_SECRET = "canary-app-secret-51be02"
VERIFY = "canary-verify-token-0d44"
ENV = {
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_TOKEN": TOKEN,
    "WHATSAPP_APP_SECRET": APP_SECRET,
    "WHATSAPP_VERIFY_TOKEN": VERIFY,
}
MINIMAL = """\
[whatsapp]
phone_number_id = "106540352242922"
token = "${WHATSAPP_TOKEN}"
app_secret = "${WHATSAPP_APP_SECRET}"
verify_token = "${WHATSAPP_VERIFY_TOKEN}"
"""


def parse(text: str = MINIMAL, env: dict[str, str] | None = None, **kwargs: Any) -> Config:
    return parse_config(
        text, source="config/wahost.toml", env=ENV if env is None else env, **kwargs
    )


def error(text: str, env: dict[str, str] | None = None, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, env, **kwargs)
    return str(info.value)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- decoding ------------------------------------------------------------------------------


def test_minimal_config_has_every_default() -> None:
    config = parse()
    assert config.whatsapp == WhatsAppConfig(
        phone_number_id="106540352242922",
        token=TOKEN,
        app_secret=APP_SECRET,
        verify_token=VERIFY,
    )
    assert config.whatsapp.api_version == "v24.0"
    assert config.whatsapp.graph_url == "https://graph.facebook.com"
    assert config.whatsapp.waba_id == ""
    assert config.whatsapp.phone_number_ids == []
    assert config.server == ServerConfig(
        host="127.0.0.1", port=8080, webhook_path="/webhook", max_body_bytes=4 * 1024 * 1024
    )
    assert config.queue == QueueConfig(
        backend="sqlite",
        path="var/wahost.db",
        url="",
        dedupe_ttl=691200.0,
        synchronous="normal",
        busy_timeout=5.0,
    )
    # An unset state path is the queue's, so both share one SQLite file.
    assert config.state == StateConfig(backend="sqlite", path="var/wahost.db", url="", ttl=None)
    assert config.worker == WorkerConfig(
        concurrency=None,
        max_attempts=5,
        backoff_base=1.0,
        backoff_cap=300.0,
        lease_seconds=60.0,
        hook_timeout=None,
        poll_interval=0.05,
        enabled=True,
    )
    assert config.logging == LoggingConfig(level="info", format="auto")
    assert config.plugins == PluginsConfig(enabled=[], disabled=[], strict=False, settings={})
    assert config.source == "config/wahost.toml"


FULL = """\
[whatsapp]
phone_number_id = "111"
token = "${WHATSAPP_TOKEN}"
app_secret = "${WHATSAPP_APP_SECRET}"
app_secrets = ["old-secret-value", "new-secret-value"]
verify_token = "${WHATSAPP_VERIFY_TOKEN}"
api_version = "v23.0"
graph_url = "http://127.0.0.1:9999"
waba_id = "222"
phone_number_ids = ["333", "444"]

[server]
host = "0.0.0.0"
port = 9000
webhook_path = "/hooks/wa"
max_body_bytes = 1024

[queue]
backend = "redis"
path = "/data/q.db"
url = "redis://localhost:6379/0"
dedupe_ttl = 3600
synchronous = "full"
busy_timeout = 1

[state]
backend = "memory"
path = "/data/state.db"
url = "redis://localhost:6379/1"
ttl = 86400

[worker]
concurrency = 8
max_attempts = 3
backoff_base = 0.5
backoff_cap = 10
lease_seconds = 30
hook_timeout = 2.5
poll_interval = 0.2
enabled = false

[logging]
level = "debug"
format = "json"

[plugins]
enabled = ["wahost-state-machine"]
disabled = ["wahost-profile"]
strict = true

[plugins.state_machine]
initial = "start"

[plugins.state_machine.states.start]
on_text = "menu"
"""


def test_full_config() -> None:
    config = parse(FULL)
    whatsapp = config.whatsapp
    assert whatsapp.all_app_secrets() == [APP_SECRET, "old-secret-value", "new-secret-value"]
    assert whatsapp.all_phone_number_ids() == ["111", "333", "444"]
    assert (whatsapp.api_version, whatsapp.graph_url, whatsapp.waba_id) == (
        "v23.0",
        "http://127.0.0.1:9999",
        "222",
    )
    assert config.server == ServerConfig(
        host="0.0.0.0", port=9000, webhook_path="/hooks/wa", max_body_bytes=1024
    )
    assert config.queue.backend == "redis" and config.queue.synchronous == "full"
    assert config.queue.dedupe_ttl == 3600.0 and isinstance(config.queue.dedupe_ttl, float)
    assert config.state == StateConfig(
        backend="memory", path="/data/state.db", url="redis://localhost:6379/1", ttl=86400.0
    )
    assert config.worker.hook_timeout == 2.5 and config.worker.enabled is False
    assert config.worker.backoff_cap == 10.0
    assert config.logging == LoggingConfig(level="debug", format="json")
    assert config.plugins.enabled == ["wahost-state-machine"]
    assert config.plugins.disabled == ["wahost-profile"]
    assert config.plugins.strict is True
    assert config.plugins.settings == {
        "state_machine": {"initial": "start", "states": {"start": {"on_text": "menu"}}}
    }


def test_load_config_records_source_and_base_dir(tmp_path: Path) -> None:
    path = write(tmp_path / "conf" / "bot.toml", MINIMAL)
    config = load_config(path, env=ENV)
    assert config.source == str(path)
    assert config.base_dir == path.parent


def test_load_config_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(write(tmp_path / "bot.toml", MINIMAL))
    assert config.whatsapp.token == TOKEN


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("does/not/exist.toml", env=ENV)
    assert str(info.value) == "does/not/exist.toml: cannot read the file: No such file or directory"


# -- environment variables and files -------------------------------------------------------


def test_env_reference_anywhere() -> None:
    text = MINIMAL + '[queue]\nurl = "${QUEUE_URL}"\n[plugins.x]\nnames = ["${WHO}"]\n'
    config = parse(text, {**ENV, "QUEUE_URL": "redis://q:6379/0", "WHO": "ana"})
    assert config.queue.url == "redis://q:6379/0"
    assert config.plugins.settings["x"] == {"names": ["ana"]}


def test_embedded_env_references() -> None:
    text = MINIMAL + '[queue]\npath = "${A}-${B}/q.db"\nurl = "literal $${NOT_A_VAR} and $5"\n'
    config = parse(text, {**ENV, "A": "left", "B": "right"})
    assert config.queue.path == "left-right/q.db"
    assert config.queue.url == "literal ${NOT_A_VAR} and $5"


def test_missing_env_var_names_key_and_variable_only() -> None:
    env = {k: v for k, v in ENV.items() if k != "WHATSAPP_TOKEN"}
    assert error(MINIMAL, env) == (
        "config/wahost.toml: whatsapp.token: environment variable WHATSAPP_TOKEN is not set"
    )


def test_malformed_env_reference() -> None:
    text = MINIMAL.replace('"${WHATSAPP_TOKEN}"', '"${WHATSAPP_TOKEN"')
    assert error(text).startswith("config/wahost.toml: whatsapp.token: invalid ${...} reference")


def test_secret_from_file_relative_to_config_dir(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "secrets" / "token", TOKEN + "\n")
    text = MINIMAL.replace('"${WHATSAPP_TOKEN}"', '{ file = "secrets/token" }')
    config = load_config(write(tmp_path / "conf" / "bot.toml", text), env=ENV)
    assert config.whatsapp.token == TOKEN


def test_secret_files_in_app_secrets_and_plugin_settings(tmp_path: Path) -> None:
    write(tmp_path / "s1", "rotated-secret-one\n")
    write(tmp_path / "key.pem", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    text = (
        MINIMAL
        + 'app_secrets = [{ file = "s1" }, "${EXTRA}"]\n'
        + '[plugins.flows]\nprivate_key = { file = "key.pem" }\nother = { file = "x" }\n'
    )
    config = parse(text, {**ENV, "EXTRA": "rotated-secret-two"}, base_dir=tmp_path)
    assert config.whatsapp.all_app_secrets() == [
        APP_SECRET,
        "rotated-secret-one",
        "rotated-secret-two",
    ]
    # Only secret-like keys read files; other tables are plugin data, kept as written.
    assert config.plugins.settings["flows"] == {
        "private_key": "-----BEGIN KEY-----\nabc\n-----END KEY-----",
        "other": {"file": "x"},
    }


def test_missing_secret_file(tmp_path: Path) -> None:
    text = MINIMAL.replace('"${WHATSAPP_TOKEN}"', '{ file = "secrets/nope" }')
    message = error(text, base_dir=tmp_path)
    assert message == (
        f"config/wahost.toml: whatsapp.token: cannot read secret file "
        f"{tmp_path / 'secrets' / 'nope'}: No such file or directory"
    )


def test_secret_table_other_than_file() -> None:
    text = MINIMAL.replace('"${WHATSAPP_TOKEN}"', '{ path = "x" }')
    assert error(text) == (
        'config/wahost.toml: whatsapp.token: expected a string or { file = "path" }'
    )


def test_resolution_does_not_touch_the_environment_mapping() -> None:
    env = dict(ENV)
    parse(MINIMAL, env)
    assert env == ENV


# -- errors --------------------------------------------------------------------------------


def test_unknown_section() -> None:
    assert error(MINIMAL + "[sever]\nport = 1\n") == "config/wahost.toml: sever: unknown key"


def test_unknown_key() -> None:
    text = MINIMAL.replace("token = ", "tokn = ", 1)
    assert error(text) == "config/wahost.toml: whatsapp.tokn: unknown key"
    assert error(MINIMAL + "[worker]\nconcurency = 2\n") == (
        "config/wahost.toml: worker.concurency: unknown key"
    )
    assert error(MINIMAL + "[plugins]\nenabeld = []\n") == (
        "config/wahost.toml: plugins.enabeld: unknown key"
    )


def test_loader_fields_are_not_keys() -> None:
    assert error('source = "x"\n' + MINIMAL) == "config/wahost.toml: source: unknown key"


def test_unknown_key_reported_through_load_config(tmp_path: Path) -> None:
    path = write(tmp_path / "wahost.toml", MINIMAL + "[sever]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV)
    assert (info.value.source, info.value.key, info.value.reason) == (
        str(path),
        "sever",
        "unknown key",
    )
    assert str(info.value) == f"{path}: sever: unknown key"


def test_wrong_type() -> None:
    text = MINIMAL.replace('"${WHATSAPP_TOKEN}"', "12345")
    assert error(text) == "config/wahost.toml: whatsapp.token: expected str, got int"
    assert error(MINIMAL + "[server]\nport = '80'\n") == (
        "config/wahost.toml: server.port: expected int, got str"
    )
    assert error(MINIMAL + "[worker]\nenabled = 'no'\n") == (
        "config/wahost.toml: worker.enabled: expected bool, got str"
    )
    assert error("server = 1\n" + MINIMAL) == (
        "config/wahost.toml: server: expected table, got int"
    )
    assert error(MINIMAL + "[worker]\nhook_timeout = 'soon'\n") == (
        "config/wahost.toml: worker.hook_timeout: expected float, got str"
    )


def test_missing_required_key() -> None:
    text = MINIMAL.replace('phone_number_id = "106540352242922"\n', "")
    assert error(text) == "config/wahost.toml: whatsapp.phone_number_id: required key is missing"
    assert error("[server]\n") == "config/wahost.toml: whatsapp: required key is missing"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[server]\nport = 0", "server.port: expected int >= 1, got 0"),
        ("[server]\nport = 65536", "server.port: expected int <= 65535, got 65536"),
        ("[server]\nmax_body_bytes = 0", "server.max_body_bytes: expected int >= 1, got 0"),
        (
            "[server]\nwebhook_path = 'webhook'",
            "server.webhook_path: must start with \"/\", got 'webhook'",
        ),
        ("[worker]\nconcurrency = 0", "worker.concurrency: expected int >= 1, got 0"),
        ("[worker]\nhook_timeout = 0", "worker.hook_timeout: expected float > 0.0, got 0"),
        (
            "[worker]\nbackoff_base = 5\nbackoff_cap = 1",
            "worker.backoff_cap: must be >= worker.backoff_base",
        ),
        ("[queue]\ndedupe_ttl = -1", "queue.dedupe_ttl: expected float > 0.0, got -1"),
        ("[state]\nttl = 0.0", "state.ttl: expected float > 0.0, got 0.0"),
        # No header: these lines continue MINIMAL's [whatsapp] table.
        (
            "api_version = '24'",
            "whatsapp.api_version: expected a version like \"v24.0\", got '24'",
        ),
        (
            "graph_url = 'graph.facebook.com'",
            "whatsapp.graph_url: expected an http(s) URL, got 'graph.facebook.com'",
        ),
    ],
)
def test_values_out_of_range(extra: str, message: str) -> None:
    assert error(MINIMAL + extra + "\n") == f"config/wahost.toml: {message}"


def test_empty_phone_number_id() -> None:
    text = MINIMAL.replace('"106540352242922"', '""')
    assert error(text) == "config/wahost.toml: whatsapp.phone_number_id: must not be empty"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "[queue]\nsynchronous = 'fast'",
            "queue.synchronous: expected one of 'normal', 'full', 'off', got 'fast'",
        ),
        (
            "[logging]\nformat = 'xml'",
            "logging.format: expected one of 'auto', 'json', 'console', got 'xml'",
        ),
        (
            "[logging]\nlevel = 'INFO'",
            "logging.level: expected one of 'debug', 'info', 'warning', 'error', 'critical', "
            "got 'INFO'",
        ),
    ],
)
def test_invalid_enum(extra: str, message: str) -> None:
    assert error(MINIMAL + extra + "\n") == f"config/wahost.toml: {message}"


def test_a_token_with_a_line_break_is_refused_without_showing_it() -> None:
    env = {**ENV, "WHATSAPP_TOKEN": "EAAG-first-half\nsecond-half"}
    message = error(MINIMAL, env)
    assert message == (
        "config/wahost.toml: whatsapp.token: contains a line break: paste the token on one line"
    )
    assert "half" not in message


def test_errors_about_secrets_never_show_the_value() -> None:
    env = {**ENV, "WHATSAPP_TOKEN": ""}
    message = error(MINIMAL, env)
    assert message == "config/wahost.toml: whatsapp.token: must not be empty"
    text = MINIMAL + "[plugins.x]\npassword = 'hunter2-longer'\n"
    config = parse(text)

    class Schema(msgspec.Struct):
        password: int = 0

    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(config, {"x": Schema})
    assert "hunter2" not in str(info.value)


def test_toml_syntax_error_names_file_and_line() -> None:
    text = MINIMAL + "[server]\nport = = 1\n"
    with pytest.raises(ConfigError) as info:
        parse(text)
    err = info.value
    assert (err.source, err.key, err.line) == ("config/wahost.toml", "", 7)
    assert str(err) == "config/wahost.toml: line 7, column 8: invalid TOML: invalid value"


def test_toml_syntax_error_at_end_of_file() -> None:
    assert error(MINIMAL + "x = [1,\n") == (
        "config/wahost.toml: line 7, column 1: invalid TOML: invalid value"
    )


# -- app secrets ---------------------------------------------------------------------------


def test_app_secret_alone() -> None:
    assert parse().whatsapp.all_app_secrets() == [APP_SECRET]


def test_app_secrets_alone() -> None:
    text = MINIMAL.replace(
        'app_secret = "${WHATSAPP_APP_SECRET}"', 'app_secrets = ["s-one", "s-two"]'
    )
    whatsapp = parse(text).whatsapp
    assert whatsapp.app_secret is None
    assert whatsapp.all_app_secrets() == ["s-one", "s-two"]


def test_app_secret_and_app_secrets_merge_without_duplicates() -> None:
    text = MINIMAL + f'app_secrets = ["{APP_SECRET}", "next-one"]\n'
    assert parse(text).whatsapp.all_app_secrets() == [APP_SECRET, "next-one"]


def test_no_app_secret_is_an_error() -> None:
    text = MINIMAL.replace('app_secret = "${WHATSAPP_APP_SECRET}"\n', "")
    assert error(text).startswith(
        "config/wahost.toml: whatsapp.app_secret: required key is missing"
    )
    empty_list = text + "app_secrets = []\n"
    assert error(empty_list).startswith("config/wahost.toml: whatsapp.app_secret: required key")


def test_empty_app_secret_is_an_error() -> None:
    assert error(MINIMAL + 'app_secrets = ["ok-secret", ""]\n') == (
        "config/wahost.toml: whatsapp.app_secrets[1]: must not be empty"
    )


# -- plugin settings -----------------------------------------------------------------------


class GreeterSettings(msgspec.Struct, kw_only=True):
    greeting: str = "hello"
    retries: int = 3


class RequiredSettings(msgspec.Struct, kw_only=True):
    endpoint: str


def test_plugin_settings_decoded() -> None:
    config = parse(MINIMAL + "[plugins.greeter]\ngreeting = 'hi'\n")
    settings = validate_plugin_settings(config, {"greeter": GreeterSettings})
    assert settings == {"greeter": GreeterSettings(greeting="hi", retries=3)}


def test_plugin_settings_default_when_table_absent() -> None:
    settings = validate_plugin_settings(parse(), {"greeter": GreeterSettings})
    assert settings == {"greeter": GreeterSettings()}


def test_plugin_settings_required_key_without_table() -> None:
    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(parse(), {"api": RequiredSettings})
    assert str(info.value) == ("config/wahost.toml: plugins.api.endpoint: required key is missing")


def test_plugin_table_without_schema() -> None:
    config = parse(MINIMAL + "[plugins.nobody]\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(config, {"greeter": GreeterSettings})
    assert str(info.value) == (
        "config/wahost.toml: plugins.nobody: no installed plugin reads this table"
    )
    ignored = validate_plugin_settings(config, {"greeter": GreeterSettings}, unknown="ignore")
    assert ignored == {"greeter": GreeterSettings()}


def test_plugin_settings_wrong_type_names_plugin_key() -> None:
    config = parse(MINIMAL + "[plugins.greeter]\nretries = 'many'\n")
    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(config, {"greeter": GreeterSettings})
    assert str(info.value) == "config/wahost.toml: plugins.greeter.retries: expected int, got str"


def test_plugin_settings_unknown_key_even_if_struct_allows_it() -> None:
    config = parse(MINIMAL + "[plugins.greeter]\ngreting = 'hi'\n")
    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(config, {"greeter": GreeterSettings})
    assert str(info.value) == "config/wahost.toml: plugins.greeter.greting: unknown key"


class Step(msgspec.Struct):
    delay: float


class Flow(msgspec.Struct):
    steps: list[Step] = []


def test_plugin_settings_nested_errors_name_the_path() -> None:
    config = parse(MINIMAL + "[plugins.flow]\nsteps = [{ delay = 1 }, { delay = 'x' }]\n")
    with pytest.raises(ConfigError) as info:
        validate_plugin_settings(config, {"flow": Flow})
    assert str(info.value) == (
        "config/wahost.toml: plugins.flow.steps[1].delay: expected float, got str"
    )


# -- secrets and redaction -----------------------------------------------------------------

PLUGIN_SECRETS = """\
[queue]
url = "redis://:${REDIS_PASSWORD}@redis:6379/0"

[plugins.flows]
passphrase = "${FLOWS_PASSPHRASE}"
private_key = "-----BEGIN PRIVATE KEY-----canary"
endpoint = "https://example.com/flows?x=1"

[plugins.flows.keys]
api_token = "nested-plugin-token"
public = "not secret"
"""
PLUGIN_ENV = {**ENV, "FLOWS_PASSPHRASE": "canary-passphrase", "REDIS_PASSWORD": "redis-pw-canary"}


def test_secrets_lists_every_secret_value() -> None:
    text = MINIMAL + 'app_secrets = ["rotation-secret"]\n' + PLUGIN_SECRETS
    config = parse(text, PLUGIN_ENV)
    assert sorted(config.secrets()) == sorted(
        [
            TOKEN,
            APP_SECRET,
            "rotation-secret",
            VERIFY,
            "canary-passphrase",
            "-----BEGIN PRIVATE KEY-----canary",
            "nested-plugin-token",
            "redis-pw-canary",
        ]
    )


def test_plugin_name_alone_does_not_make_values_secret() -> None:
    config = parse(MINIMAL + "[plugins.token_refresher]\ninterval = 'hourly'\n")
    assert "hourly" not in config.secrets()
    assert config.redacted()["plugins"]["token_refresher"] == {"interval": "hourly"}


def test_redacted_has_no_secret_values() -> None:
    text = MINIMAL + 'app_secrets = ["rotation-secret"]\n' + PLUGIN_SECRETS
    config = parse(text, PLUGIN_ENV)
    data = config.redacted()
    dumped = repr(data)
    for secret in config.secrets():
        assert secret not in dumped
    assert data["whatsapp"]["token"] == "***"
    assert data["whatsapp"]["app_secret"] == "***"
    assert data["whatsapp"]["app_secrets"] == ["***"]
    assert data["whatsapp"]["verify_token"] == "***"
    assert data["queue"]["url"] == "redis://:***@redis:6379/0"
    flows = data["plugins"]["flows"]
    assert flows["passphrase"] == "***" and flows["private_key"] == "***"
    assert flows["endpoint"] == "https://example.com/flows?x=1"
    assert flows["keys"] == {"api_token": "***", "public": "not secret"}
    # The resolved config itself is untouched.
    assert config.whatsapp.token == TOKEN


def test_redacted_is_toml_shaped_and_round_trips() -> None:
    config = parse(FULL)
    text = config_to_toml(config.redacted())
    assert "[plugins.state_machine.states.start]" in text
    again = parse_config(text, env={})
    assert again.whatsapp.token == "***"
    assert again.server == config.server
    assert again.worker == config.worker
    assert again.plugins.settings == config.plugins.settings


def test_unset_values_are_comments_in_toml() -> None:
    text = config_to_toml(parse().redacted())
    assert "# hook_timeout is not set" in text
    assert "# ttl is not set" in text


def test_config_to_toml_quotes_and_escapes() -> None:
    data = {
        "a b": {"key.with.dots": 'quote " and \\ and \n and \x01 and \x7f', "": 1},
        "t": {"inline": [{"x": 1, "y": None}, {}], "f": [math.inf, -math.inf, 0.1]},
    }
    parsed = tomllib.loads(config_to_toml(data))
    assert parsed == {
        "a b": {"key.with.dots": 'quote " and \\ and \n and \x01 and \x7f', "": 1},
        "t": {"inline": [{"x": 1}, {}], "f": [math.inf, -math.inf, 0.1]},
    }


_keys = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_keys, _values, max_size=5))
def test_config_to_toml_round_trips(data: dict[str, Any]) -> None:
    assert tomllib.loads(config_to_toml(data)) == data


# -- the shipped files and the structs -----------------------------------------------------


def test_shipped_example_config_parses() -> None:
    config = load_config(CONFIG_DIR / "wahost.toml", env=ENV)
    assert config.whatsapp.token == TOKEN
    assert config.whatsapp.phone_number_id == ENV["WHATSAPP_PHONE_NUMBER_ID"]


def test_shipped_full_example_parses_to_the_defaults() -> None:
    config = load_config(CONFIG_DIR / "wahost.example-full.toml", env=ENV)
    defaults = parse()
    for section in ("server", "queue", "state", "worker", "logging", "plugins"):
        assert getattr(config, section) == getattr(defaults, section), section
    assert config.whatsapp == defaults.whatsapp


def _table_types() -> dict[str, type[msgspec.Struct]]:
    hints = typing.get_type_hints(Config)
    return {
        field.name: hints[field.name]
        for field in msgspec.structs.fields(Config)
        if isinstance(hints[field.name], type) and issubclass(hints[field.name], msgspec.Struct)
    }


def test_full_example_lists_every_key() -> None:
    text = (CONFIG_DIR / "wahost.example-full.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    for table, struct in _table_types().items():
        section = text.split(f"[{table}]\n", 1)[1].split("\n[", 1)[0]
        for field in msgspec.structs.fields(struct):
            if field.name == "settings":
                continue  # [plugins.<name>] tables
            # A key whose default is unset cannot be written (TOML has no null): commented out.
            listed = field.name in raw[table] or f"# {field.name} = " in section
            assert listed, f"{table}.{field.name}"


def test_every_field_is_documented() -> None:
    structs: list[type[msgspec.Struct]] = [Config, *_table_types().values()]
    for struct in structs:
        hints = typing.get_type_hints(struct, include_extras=True)
        assert struct.__doc__, struct.__name__
        for field in msgspec.structs.fields(struct):
            metas = [
                m
                for m in getattr(hints[field.name], "__metadata__", ())
                if isinstance(m, msgspec.Meta)
            ]
            assert any(m.description for m in metas), f"{struct.__name__}.{field.name}"


def test_json_schema_can_be_generated() -> None:
    # The configuration reference is generated from the structs (descriptions, defaults).
    schema = msgspec.json.schema(Config)
    properties = schema["$defs"]["WhatsAppConfig"]["properties"]
    assert properties["api_version"]["default"] == "v24.0"
    assert "description" in properties["token"]
    assert schema["$defs"]["ServerConfig"]["properties"]["port"]["maximum"] == 65535


class _MenuState(msgspec.Struct, forbid_unknown_fields=True):
    prompt: str
    timeout: float | None = None


class _Menu(msgspec.Struct, forbid_unknown_fields=True):
    states: dict[str, _MenuState]


class _Menus(msgspec.Struct, forbid_unknown_fields=True):
    menus: dict[str, _Menu] = msgspec.field(default_factory=dict)


def test_plugin_settings_errors_inside_dict_tables_name_the_key() -> None:
    """msgspec writes a dict key in an error path as ``[...]``; the error must name it."""
    config = parse(
        MINIMAL
        + '\n[plugins.sm.menus.main.states.start]\nprompt = "Hi"\n'
        + '\n[plugins.sm.menus.main.states.ask]\nprompt = "Name?"\ntimeout = "soon"\n'
    )
    with pytest.raises(ConfigError) as error:
        validate_plugin_settings(config, {"sm": _Menus})
    assert error.value.key == "plugins.sm.menus.main.states.ask.timeout"
    assert "expected" in error.value.reason


class _Checked(msgspec.Struct):
    url: str
    password: str

    def __post_init__(self) -> None:
        if not self.url.startswith("https://"):
            raise ValueError("url must start with https://")


def test_a_rejected_plugin_table_is_not_quoted_in_the_error() -> None:
    """A plugin struct refusing its table must not make the error print the table (secrets)."""
    config = parse(MINIMAL + '[plugins.x]\nurl = "http://a"\npassword = "hunter2-canary"\n')
    with pytest.raises(ConfigError) as error:
        validate_plugin_settings(config, {"x": _Checked})
    assert "url must start with https://" in str(error.value)
    assert "hunter2-canary" not in str(error.value)
