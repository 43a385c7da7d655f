"""``wahost flows keygen`` → ``upload-key`` (fake Graph API) → a request to that key decrypts."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import click
import pytest
import wahost_flows
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from wahost_flows import FlowResponse, FlowRouter, decrypt_response, encrypt_request
from wahost_flows.keys import is_encrypted_pem, load_private_key

from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, FakeGraph

PASSPHRASE = "a long passphrase from the environment"
OTHER_NUMBER = "222333444555"


def _root() -> click.Group:
    root = click.Group("wahost")
    wahost_flows.register_commands(root)
    return root


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(_root(), list(args), env=env, catch_exceptions=False)


def _config(tmp_path: Path, graph_url: str, **endpoint: str) -> Path:
    lines = [
        "[whatsapp]",
        f'phone_number_id = "{TEST_PHONE_NUMBER_ID}"',
        f'phone_number_ids = ["{OTHER_NUMBER}"]',
        f'token = "{TEST_TOKEN}"',
        f'app_secret = "{TEST_APP_SECRET}"',
        'verify_token = "verify"',
        f'graph_url = "{graph_url}"',
        "[queue]",
        f'path = "{tmp_path / "wahost.db"}"',
        "[[plugins.flows.endpoints]]",
        *(f"{name} = {json.dumps(value)}" for name, value in endpoint.items()),
    ]
    path = tmp_path / "wahost.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_entry_point_is_declared() -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="wahost")}
    assert names.get("wahost-flows") == "wahost_flows"


def test_keygen_writes_an_encrypted_pkcs8_key_and_prints_the_public_key(tmp_path: Path) -> None:
    out = tmp_path / "private.pem"
    result = _invoke(
        "flows", "keygen", "--out", str(out), "--passphrase-env", "PASS", env={"PASS": PASSPHRASE}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "encrypted" in result.stderr
    pem = out.read_bytes()
    assert is_encrypted_pem(pem) and pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PASSPHRASE.encode() not in pem
    key = load_private_key(pem, PASSPHRASE)
    assert key.key_size == 2048
    printed = serialization.load_pem_public_key(result.stdout.encode())
    assert printed.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]

    again = CliRunner().invoke(_root(), ["flows", "keygen", "--out", str(out)])
    assert again.exit_code != 0 and "exists; use --force" in again.output
    unset = CliRunner().invoke(
        _root(), ["flows", "keygen", "--out", str(tmp_path / "x.pem"), "--passphrase-env", "NOPE"]
    )
    assert unset.exit_code != 0 and "NOPE is not set" in unset.output


def test_keygen_without_passphrase_says_so(tmp_path: Path) -> None:
    result = _invoke("flows", "keygen", "--out", str(tmp_path / "plain.pem"))
    assert result.exit_code == 0
    assert "NOT encrypted" in result.stderr
    assert (tmp_path / "plain.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


async def test_keygen_upload_key_show_key_then_a_request_to_that_key_decrypts(
    tmp_path: Path, flows_bot: Any, make_router_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"FLOWS_KEY_PASSPHRASE": PASSPHRASE}
    keygen = _invoke(
        "flows", "keygen", "--out", str(tmp_path / "private.pem"),
        "--passphrase-env", "FLOWS_KEY_PASSPHRASE", env=env,
    )  # fmt: skip
    assert keygen.exit_code == 0
    async with FakeGraph() as graph:
        config = _config(
            tmp_path, graph.url, key_file="private.pem", passphrase="${FLOWS_KEY_PASSPHRASE}"
        )
        run = CliRunner().invoke
        before = await asyncio.to_thread(
            run, _root(), ["flows", "show-key", "--config", str(config)], env=env
        )
        upload = await asyncio.to_thread(
            run, _root(), ["flows", "upload-key", "--config", str(config)], env=env
        )
        show = await asyncio.to_thread(
            run, _root(), ["flows", "show-key", "--config", str(config)], env=env
        )
        wrong = await asyncio.to_thread(
            run,
            _root(),
            ["flows", "upload-key", "--config", str(config)],
            env={"FLOWS_KEY_PASSPHRASE": "wrong"},
        )
        uploads = [r for r in graph.requests if r.method == "POST"]
    assert "no public key uploaded" in before.output
    assert upload.exit_code == 0, upload.output
    assert f"to {TEST_PHONE_NUMBER_ID}" in upload.output and f"to {OTHER_NUMBER}" in upload.output
    assert graph.business_public_keys[TEST_PHONE_NUMBER_ID] == keygen.stdout
    assert graph.business_public_keys[OTHER_NUMBER] == keygen.stdout
    assert all(r.headers["content-type"].startswith("application/x-www-form") for r in uploads)
    assert show.exit_code == 0
    assert "signature status VALID" in show.output and "matches endpoint /flows" in show.output
    assert wrong.exit_code != 0
    assert "plugins.flows.endpoints[0].passphrase: wrong passphrase" in wrong.output
    assert "wrong" not in wrong.output.replace("wrong passphrase", "")

    # The host, configured with the same key file, decrypts what WhatsApp encrypts to the
    # public key Meta now holds.
    monkeypatch.setenv("FLOWS_KEY_PASSPHRASE", PASSPHRASE)
    router = FlowRouter()

    @router.init
    def opened(request: Any, ctx: Any) -> FlowResponse:
        return FlowResponse("WELCOME", {"token": request.flow_token})

    uploaded = serialization.load_pem_public_key(
        graph.business_public_keys[TEST_PHONE_NUMBER_ID].encode()
    )
    payload = {"version": "3.0", "action": "INIT", "flow_token": "tok-1"}
    body, aes_key, iv = encrypt_request(uploaded, payload)  # type: ignore[arg-type]
    flows = {
        "endpoints": [
            {"key_file": str(tmp_path / "private.pem"), "passphrase": "${FLOWS_KEY_PASSPHRASE}"}
        ]
    }
    async with flows_bot(plugins=[make_router_plugin(router)], flows=flows) as bot:
        response = await bot.post(body)
    assert response.status_code == 200
    answer = json.loads(decrypt_response(response.text, aes_key, iv))
    assert answer == {"screen": "WELCOME", "data": {"token": "tok-1"}}


async def test_upload_key_options_and_conflicts(tmp_path: Path, vectors: dict[str, Any]) -> None:
    (tmp_path / "a.pem").write_text(vectors["private_key_pem_pkcs8_unencrypted"])
    async with FakeGraph() as graph:
        config = _config(tmp_path, graph.url, key_file="a.pem", name="main")
        with config.open("a") as file:  # a second endpoint with another key, same numbers
            file.write('[[plugins.flows.endpoints]]\npath = "/b"\nkey_file = "b.pem"\n')
        _invoke("flows", "keygen", "--out", str(tmp_path / "b.pem"))
        run = CliRunner().invoke
        conflict = await asyncio.to_thread(
            run, _root(), ["flows", "upload-key", "--config", str(config)]
        )
        one = await asyncio.to_thread(
            run,
            _root(),
            ["flows", "upload-key", "--config", str(config), "--endpoint", "main",
             "--phone-number-id", OTHER_NUMBER],
        )  # fmt: skip
        unknown = await asyncio.to_thread(
            run, _root(), ["flows", "upload-key", "--config", str(config), "--endpoint", "zzz"]
        )
    assert conflict.exit_code != 0 and "have different keys" in conflict.output
    assert one.exit_code == 0, one.output
    assert list(graph.business_public_keys) == [OTHER_NUMBER]
    assert graph.business_public_keys[OTHER_NUMBER] == vectors["public_key_pem"]
    assert unknown.exit_code != 0 and "no endpoint named zzz (known: main, /b)" in unknown.output


async def test_graph_errors_are_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(b"")
    async with FakeGraph() as graph:
        _invoke("flows", "keygen", "--out", str(tmp_path / "k.pem"), "--force")
        config = _config(tmp_path, graph.url, key_file="k.pem")
        config.write_text(config.read_text().replace(TEST_TOKEN, "bad-token"))
        result = await asyncio.to_thread(
            CliRunner().invoke, _root(), ["flows", "upload-key", "--config", str(config)]
        )
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


async def test_a_phone_number_id_that_leaves_its_path_makes_no_request(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        _invoke("flows", "keygen", "--out", str(tmp_path / "k.pem"))
        config = _config(tmp_path, graph.url, key_file="k.pem")
        walk_out = f"../../{TEST_PHONE_NUMBER_ID}/messages?x="
        result = await asyncio.to_thread(
            CliRunner().invoke,
            _root(),
            ["flows", "show-key", "--config", str(config), "--phone-number-id", walk_out],
        )
    assert result.exit_code == 1
    assert "phone number id" in result.output and "Traceback" not in result.output
    assert graph.requests == []
