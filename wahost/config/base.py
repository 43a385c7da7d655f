"""What every configuration module shares: the error type and which keys hold secrets."""

from __future__ import annotations

from wahost.errors import ConfigError as ConfigError

_SECRET = {"secret": True}
_INTERNAL = {"internal": True}
_SECRET_WORDS = ("token", "secret", "passphrase", "password", "private_key")
_PLUGINS_KEYS = frozenset({"enabled", "disabled", "strict"})
REDACTED = "***"


def is_secret_key(name: str) -> bool:
    """Whether a plugin-settings key holds a secret (its name contains token, secret, ...)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)
