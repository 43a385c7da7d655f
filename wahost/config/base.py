"""What every configuration module shares: the error type and which keys hold secrets."""

from __future__ import annotations

_SECRET = {"secret": True}
_INTERNAL = {"internal": True}
_SECRET_WORDS = ("token", "secret", "passphrase", "password", "private_key")
_PLUGINS_KEYS = frozenset({"enabled", "disabled", "strict"})
REDACTED = "***"


def is_secret_key(name: str) -> bool:
    """Whether a plugin-settings key holds a secret (its name contains token, secret, ...)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)


class ConfigError(Exception):
    """The configuration is invalid: ``str(err)`` is ``"<source>: <key>: <reason>"``.

    ``source`` is the file, ``key`` the dotted key path (``whatsapp.token``; empty for an error
    about the whole file) and ``reason`` what is wrong. TOML syntax errors leave ``key`` empty
    and set ``line`` and ``column`` instead.
    """

    def __init__(
        self,
        source: str,
        key: str,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(source, key, reason)
        self.source = source
        self.key = key
        self.reason = reason
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.reason}"
        if self.line is not None:
            return f"{self.source}: line {self.line}, column {self.column}: {self.reason}"
        return f"{self.source}: {self.reason}"
