"""Logging: JSON and console output, and canary secrets that must never reach the stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from wahost.logs import add_secrets, configure_logging, get_logger

TOKEN = "EAAGcanaryTOKEN4f9d2b71"
APP_SECRET = "canary-app-secret-8c1e"
PASSPHRASE = "canary passphrase: correct horse"
CANARIES = (TOKEN, APP_SECRET, PASSPHRASE)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave the root logger and structlog as they were, for the other test modules."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    structlog_config = structlog.get_config()
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    structlog.configure(**structlog_config)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def configure(
    format: str = "json", level: str = "info", stream: io.StringIO | None = None
) -> io.StringIO:
    out = io.StringIO() if stream is None else stream
    configure_logging(level=level, format=format, secrets=CANARIES, stream=out)
    return out


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def assert_clean(out: io.StringIO) -> str:
    text = out.getvalue()
    for canary in CANARIES:
        assert canary not in text
    assert "***" in text
    return text


# -- format --------------------------------------------------------------------------------


def test_json_lines_have_timestamp_level_logger_event() -> None:
    out = configure()
    get_logger("wahost.test").info("hello", n=1)
    logging.getLogger("some.library").warning("from %s", "stdlib")
    first, second = lines(out)
    assert first["event"] == "hello" and first["n"] == 1
    assert first["level"] == "info" and first["logger"] == "wahost.test"
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert second == {
        "event": "from stdlib",
        "level": "warning",
        "logger": "some.library",
        "timestamp": second["timestamp"],
    }


def test_auto_format_is_json_off_a_terminal_and_console_on_one() -> None:
    out = configure(format="auto")
    get_logger("t").info("plain")
    assert json.loads(out.getvalue())["event"] == "plain"
    tty = configure(format="auto", stream=Tty())
    get_logger("t").info("pretty", key="value")
    text = tty.getvalue()
    assert "pretty" in text and "key" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_console_format_redacts_and_prints_tracebacks() -> None:
    out = configure(format="console")
    log = get_logger("t")
    log.info(f"token {TOKEN}", secret=APP_SECRET)
    try:
        raise RuntimeError(f"failed with {PASSPHRASE}")
    except RuntimeError:
        log.exception("boom")
    text = assert_clean(out)
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: failed with ***" in text


def test_level_filters_and_httpx_is_quiet() -> None:
    out = configure(level="warning")
    get_logger("t").info("not shown")
    logging.getLogger("httpx").info("HTTP Request: POST https://graph.facebook.com/x")
    get_logger("t").warning("shown")
    assert [line["event"] for line in lines(out)] == ["shown"]
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    out = configure(level="debug")
    logging.getLogger("httpx").info("still not shown at debug")
    get_logger("t").debug("debug shown")
    assert [line["event"] for line in lines(out)] == ["debug shown"]


def test_bad_level_or_format() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging(level="loud")
    with pytest.raises(ValueError, match="log format"):
        configure_logging(format="xml")


def test_reconfiguring_replaces_the_handler_and_secrets() -> None:
    first = configure()
    log = get_logger("t")  # created before the second configure: follows it
    second = io.StringIO()
    configure_logging(format="json", secrets=["only-the-new-secret"], stream=second)
    log.info("after", a=TOKEN, b="only-the-new-secret")
    assert first.getvalue() == ""
    [line] = lines(second)
    assert line["a"] == TOKEN  # the old secrets are gone with the old configuration
    assert line["b"] == "***"
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "wahost"]
    assert len(ours) == 1


def test_logger_created_at_import_time_follows_configure() -> None:
    log = get_logger("early", component="worker")
    out = configure()
    log.info("late", x=1)
    [line] = lines(out)
    assert line["component"] == "worker" and line["logger"] == "early"


def test_get_logger_without_name_uses_the_callers_module() -> None:
    out = configure()
    get_logger().info("who")
    assert lines(out)[0]["logger"] == __name__


# -- redaction -----------------------------------------------------------------------------


def test_secret_in_message() -> None:
    out = configure()
    get_logger("t").info(f"sending with token {TOKEN} and {APP_SECRET}")
    assert lines(out)[0]["event"] == "sending with token *** and ***"
    assert_clean(out)


def test_secret_as_keyword_value() -> None:
    out = configure()
    get_logger("t").info("configured", detail=f"passphrase={PASSPHRASE}", header=TOKEN)
    [line] = lines(out)
    assert line["detail"] == "passphrase=***" and line["header"] == "***"
    assert_clean(out)


def test_secret_nested_in_dicts_and_lists() -> None:
    out = configure()
    payload = {"outer": {"list": [f"x {APP_SECRET} y", (TOKEN, 1)], "ok": "visible"}}
    get_logger("t").info("payload", payload=payload)
    [line] = lines(out)
    assert line["payload"] == {"outer": {"list": ["x *** y", ["***", 1]], "ok": "visible"}}
    assert_clean(out)


def test_sensitive_key_names_are_masked_whatever_the_value() -> None:
    out = configure()
    get_logger("t").info(
        "keys",
        password="short",
        Authorization="Basic dXNlcjpwdw==",
        headers={"X-App-Secret": "abc", "Content-Type": "application/json"},
        access_token=12345,
        private_key=b"pem",
        verify_token=None,
    )
    [line] = lines(out)
    assert line["password"] == "***" and line["Authorization"] == "***"
    assert line["headers"] == {"X-App-Secret": "***", "Content-Type": "application/json"}
    assert line["access_token"] == "***" and line["private_key"] == "***"
    assert line["verify_token"] is None


def test_secret_in_exception_traceback() -> None:
    out = configure()
    try:
        raise ValueError(f"Graph API rejected token {TOKEN}")
    except ValueError:
        get_logger("t").exception("send failed")
    [line] = lines(out)
    assert "ValueError: Graph API rejected token ***" in line["exception"]
    assert_clean(out)


def test_exc_info_object_is_redacted_too() -> None:
    out = configure()
    error = KeyError(APP_SECRET)
    get_logger("t").error("lookup failed", exc_info=error)
    assert "KeyError" in lines(out)[0]["exception"]
    assert_clean(out)


def test_stdlib_logger_with_url_containing_the_token() -> None:
    out = configure()
    logging.getLogger("httpx").warning(
        "HTTP Request: GET https://graph.facebook.com/v24.0/me?access_token=%s", TOKEN
    )
    [line] = lines(out)
    assert line["logger"] == "httpx"
    assert line["event"] == "HTTP Request: GET https://graph.facebook.com/v24.0/me?access_token=***"
    assert_clean(out)


def test_stdlib_exception_and_extra() -> None:
    out = configure()
    log = logging.getLogger("hypercorn.error")
    try:
        raise ConnectionError(PASSPHRASE)
    except ConnectionError:
        log.exception("connection lost", extra={"peer": f"user:{APP_SECRET}@host"})
    [line] = lines(out)
    assert "ConnectionError: ***" in line["exception"]
    assert line["peer"] == "user:***@host"
    assert_clean(out)


def test_bearer_header_string() -> None:
    out = configure()
    log = get_logger("t")
    log.info("request", header=f"Authorization: Bearer {TOKEN}")
    log.info("unknown token", header="authorization: bearer abc.DEF-ghi_jkl~mno+/==")
    first, second = lines(out)
    assert first["header"] == "Authorization: Bearer ***"
    assert second["header"] == "authorization: bearer ***"
    assert_clean(out)


def test_query_parameters_named_like_secrets() -> None:
    out = configure()
    get_logger("t").info("GET /webhook?hub.mode=subscribe&hub.verify_token=short&hub.challenge=1")
    event = lines(out)[0]["event"]
    assert event == "GET /webhook?hub.mode=subscribe&hub.verify_token=***&hub.challenge=1"


def test_secret_inside_an_object_repr() -> None:
    class Request:
        def __repr__(self) -> str:
            return f"<Request token={TOKEN}>"

    out = configure()
    get_logger("t").info("req", request=Request())
    assert lines(out)[0]["request"] == "<Request token=***>"
    assert_clean(out)


def test_secrets_added_later() -> None:
    out = configure()
    log = get_logger("t")
    log.info("before", value="late-secret-value")
    add_secrets(["late-secret-value", "tiny"])
    log.info("after", value="late-secret-value", small="tiny")
    before, after = lines(out)
    assert before["value"] == "late-secret-value"
    assert after["value"] == "***"
    assert after["small"] == "tiny"  # shorter than 6 characters: not searched for


def test_bound_and_contextvar_values_are_redacted() -> None:
    out = configure()
    structlog.contextvars.bind_contextvars(conversation=f"c-{APP_SECRET}")
    try:
        get_logger("t", unit=TOKEN).info("bound")
        logging.getLogger("lib").warning("stdlib with context")
    finally:
        structlog.contextvars.clear_contextvars()
    first, second = lines(out)
    assert first["unit"] == "***" and first["conversation"] == "c-***"
    assert second["conversation"] == "c-***"
    assert_clean(out)


def test_every_line_is_valid_json() -> None:
    out = configure()
    log = get_logger("t")
    log.info('quotes " and \\ and \n newlines', value=f'"{TOKEN}"')
    try:
        raise ValueError(TOKEN)
    except ValueError:
        log.exception("multi-line")
    logging.getLogger("x").error("bytes %r", TOKEN.encode())
    assert len(lines(out)) == 3
    assert_clean(out)
