"""The configuration file: TOML decoded into typed structs, with secrets resolved.

``load_config("config/wahost.toml")`` reads the file, resolves every ``${VAR}`` reference from
the environment and every ``{ file = "path" }`` secret (relative to the file's directory), and
decodes the result into :class:`Config`. Anything wrong (a syntax error, an unknown key, a wrong
type, a value out of range, a missing variable) raises :class:`ConfigError`, whose message names
the file, the key and the reason, and never a secret's value.

Every struct field carries its documentation as ``Annotated[T, msgspec.Meta(description=...)]``;
``Meta.extra`` marks secrets (``{"secret": True}``) and fields the loader sets rather than reads
(``{"internal": True}``). The configuration reference is generated from these structs.
"""

from wahost.config.base import REDACTED, ConfigError, is_secret_key
from wahost.config.loader import load_config, parse_config, validate_plugin_settings
from wahost.config.schema import (
    BotConfig,
    Config,
    ConsoleConfig,
    DialoguesConfig,
    GraphConfig,
    LoggingConfig,
    OutboxConfig,
    PluginsConfig,
    QueueConfig,
    ServerConfig,
    StateConfig,
    WhatsAppConfig,
    WorkerConfig,
)
from wahost.config.toml import config_to_toml

__all__ = [
    "REDACTED",
    "BotConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DialoguesConfig",
    "GraphConfig",
    "LoggingConfig",
    "OutboxConfig",
    "PluginsConfig",
    "QueueConfig",
    "ServerConfig",
    "StateConfig",
    "WhatsAppConfig",
    "WorkerConfig",
    "config_to_toml",
    "is_secret_key",
    "load_config",
    "parse_config",
    "validate_plugin_settings",
]
