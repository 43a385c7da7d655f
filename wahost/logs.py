"""Logging: structlog for wahost, the stdlib loggers of libraries through the same renderer,
and every known secret redacted from what is written.

``configure_logging(level="info", secrets=config.secrets())`` writes JSON lines (or pretty
console lines on a terminal) to stderr. Both structlog loggers and stdlib loggers (httpx,
hypercorn, plugins' own ``logging`` use) end in one stdlib handler on the root logger, whose
formatter runs the redaction, so nothing reaches the stream unredacted:

* every occurrence of a known secret value (6 characters or more) in any string, including
  the message, nested dicts and lists, and formatted tracebacks;
* the value of any key whose name contains token, secret, passphrase, password,
  authorization or private_key, whatever it holds;
* ``Bearer <credentials>`` and ``?access_token=...``-style query parameters.

A final pass redacts the rendered line too, which catches secrets inside the ``repr`` of
objects the renderer had to stringify.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["MIN_SECRET_LENGTH", "add_secrets", "configure_logging", "get_logger"]

#: Shorter secrets are not searched for in text: redacting them would mangle ordinary words.
MIN_SECRET_LENGTH = 6
REDACTED = "***"

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_SENSITIVE_KEY = re.compile(
    r"token|secret|passphrase|password|authorization|private_key", re.IGNORECASE
)
# RFC 6750 b64token characters.
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
_SENSITIVE_PARAMETER = re.compile(
    r"([?&;][A-Za-z0-9_.\-]*(?:token|secret|passphrase|password|signature)[A-Za-z0-9_.\-]*=)"
    r"[^&#\s\"']+",
    re.IGNORECASE,
)
_HANDLER_NAME = "wahost"
_QUIET_LOGGERS = ("httpx", "httpcore")


def _is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and _SENSITIVE_KEY.search(key.replace("-", "_")) is not None


class _Redactor:
    """A structlog processor that redacts secrets, kept as one object across configures."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def reset(self, secrets: Iterable[str]) -> None:
        self._secrets = set()
        self._pattern = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
        if new - self._secrets:
            self._secrets |= new
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def text(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
        return _SENSITIVE_PARAMETER.sub(rf"\1{REDACTED}", text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                key: REDACTED if _is_sensitive_key(key) and item is not None else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        if isinstance(value, set | frozenset):
            return {self.value(item) for item in value}
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("utf-8", "replace")
            redacted = self.text(text)
            return value if redacted == text else redacted.encode()
        return value

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        redacted: EventDict = self.value(event_dict)
        return redacted

    def rendered(self, logger: WrappedLogger, method: str, line: Any) -> Any:
        """The last processor: redact the rendered line (object reprs, renderer output)."""
        return self.text(line) if isinstance(line, str) else line


_redactor = _Redactor()

# Attributes every LogRecord has, plus those that formatting adds (other handlers, e.g.
# pytest's, may have formatted the record first): the rest came from ``extra={...}``.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


#: Extras that only repeat the message for a terminal (uvicorn's ANSI-coloured copy).
_DROPPED_EXTRAS = frozenset({"color_message"})


def _add_record_extras(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """Copy a stdlib record's ``extra={...}`` values into the event dict (to be redacted)."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in _DROPPED_EXTRAS and key[0] != "_":
                event_dict.setdefault(key, value)
    return event_dict


# Run for structlog's own loggers, at the call; the stdlib records get the foreign chain.
_SHARED: list[Processor] = [
    # First: an event below the level is dropped before any other processor runs.
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]
_FOREIGN: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _add_record_extras,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(
    *,
    level: str = "info",
    format: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send structlog and stdlib logging to ``stream`` (default stderr), secrets redacted.

    ``format`` is ``"json"`` (one JSON object per line), ``"console"`` (for people, coloured on
    a terminal) or ``"auto"``: console when ``stream`` is a terminal, JSON otherwise. Every
    line has an ISO 8601 UTC ``timestamp``, ``level``, ``logger`` and ``event``. ``secrets``
    are the values to redact (``Config.secrets()``); more can come later with
    :func:`add_secrets`. Calling it again replaces the previous configuration, secrets included.
    httpx and httpcore are set to WARNING: at INFO they log every request URL.
    """
    numeric_level = _LEVELS.get(level.lower())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(_LEVELS)}")
    if format not in ("auto", "json", "console"):
        raise ValueError(f"unknown log format {format!r}; expected auto, json or console")
    out = sys.stderr if stream is None else stream
    tty = _isatty(out)
    renderer: Processor
    if format == "json" or (format == "auto" and not tty):
        renderer = structlog.processors.JSONRenderer(default=repr)
    else:
        # plain_traceback: rich tracebacks would print local variables, secrets among them.
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )
    _redactor.reset(secrets)

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_FOREIGN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, so their secrets are redacted too.
            structlog.processors.format_exc_info,
            _redactor,
            renderer,
            _redactor.rendered,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(ignore_frame_names=[__name__]),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # Not cached, so loggers created before a reconfiguration follow it.
        cache_logger_on_first_use=False,
    )


def add_secrets(values: Iterable[str]) -> None:
    """Redact these values too from now on (e.g. a key a plugin loads at start-up)."""
    _redactor.add(values)


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name`` (the caller's module if omitted) with ``bound`` values.

    The logger is resolved lazily at each call, so one created at import time follows a later
    :func:`configure_logging`.
    """
    args = () if name is None else (name,)
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(*args, **bound)
    return logger


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
