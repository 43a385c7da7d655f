"""What the endpoint logs, through wahost's real logging set-up: reasons, never key material."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import wahost_flows
from cryptography.hazmat.primitives import serialization
from wahost_flows import FlowResponse, encrypt_request
from wahost_flows.keys import load_private_key, write_private_key

from wahost import Wahost
from wahost.host import StartupError
from wahost.logs import configure_logging
from wahost.testing import make_config

PASSPHRASE = "canary-passphrase-7f3a"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """wahost's JSON logging at debug into a buffer, with no secrets to redact (so a leak
    would show); the previous set-up restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    saved = structlog.get_config()
    out = io.StringIO()
    configure_logging(level="debug", format="json", stream=out)
    yield out
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    structlog.configure(**saved)


async def test_logs_carry_reasons_and_never_keys_or_passphrases(
    tmp_path: Path,
    vectors: dict[str, Any],
    flows_bot: Any,
    log_output: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    make_router_plugin: Any,
) -> None:
    key = load_private_key(vectors["private_key_pem_pkcs8_unencrypted"].encode())
    key_file = tmp_path / "secret.pem"
    write_private_key(key_file, key, PASSPHRASE, iterations=1000)
    monkeypatch.setenv("FLOWS_KEY_PASSPHRASE", PASSPHRASE)
    flows = {"endpoints": [{"key_file": str(key_file), "passphrase": "${FLOWS_KEY_PASSPHRASE}"}]}

    router = wahost_flows.FlowRouter()
    router.init(lambda request, ctx: FlowResponse("A"))
    public = serialization.load_pem_public_key(vectors["public_key_pem"].encode())
    aes_key = bytes(range(16, 32))
    body, _, _ = encrypt_request(
        public, {"action": "INIT", "flow_token": "tok-canary-99"}, aes_key=aes_key
    )  # type: ignore[arg-type]
    async with flows_bot(plugins=[make_router_plugin(router)], flows=flows) as bot:
        assert (await bot.post(body)).status_code == 200
        tampered = vectors["tampered_request_body_expect_http_421"]
        assert (await bot.post(tampered)).status_code == 421
        assert (await bot.post(body, secret="wrong")).status_code == 432

    # A wrong passphrase at start-up: the error is logged too.
    monkeypatch.setenv("FLOWS_KEY_PASSPHRASE", "not-" + PASSPHRASE)
    config = make_config(tmp_path, {"plugins": {"flows": flows}})
    with pytest.raises(StartupError):
        await Wahost(config, plugins=[wahost_flows], load_entrypoints=False).start()

    text = log_output.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    reasons = [e.get("reason", "") for e in events if e["event"].startswith("flow request not")]
    assert reasons and "AES-GCM" in reasons[0]
    answered = [e for e in events if e["event"] == "flow request answered"]
    assert answered and answered[0]["flow_token"] == "***"  # the core masks *token* fields
    assert answered[0]["flow_ref"]
    assert any(e["event"] == "flow request signature refused" for e in events)
    assert any("wrong passphrase" in line for line in text.splitlines())
    pem_body = "".join(vectors["private_key_pem_pkcs8_unencrypted"].splitlines()[1:-1])
    for secret in (
        PASSPHRASE,
        "PRIVATE KEY",
        pem_body[100:140],
        aes_key.hex(),
        base64.b64encode(aes_key).decode(),
        vectors["aes_key_hex"],
        "tok-canary-99",
    ):
        assert secret not in text, secret
