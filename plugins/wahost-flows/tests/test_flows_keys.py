"""Private keys: every PEM flavour loads; start-up refuses a wrong setup, naming file and key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import wahost_flows
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from wahost_flows.endpoint import ENDPOINTS
from wahost_flows.keys import (
    PrivateKeyError,
    encode_private_key,
    load_private_key,
    public_key_pem,
    same_public_key,
    write_private_key,
)

from wahost import Wahost
from wahost.config import ConfigError
from wahost.host import StartupError
from wahost.testing import make_config

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def key(vectors: dict[str, Any]) -> rsa.RSAPrivateKey:
    return load_private_key(vectors["private_key_pem_pkcs8_unencrypted"].encode())


def _pem(key: Any, fmt: serialization.PrivateFormat, passphrase: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, fmt, encryption)
    return pem


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_pkcs1_and_pkcs8_load_with_and_without_passphrase(
    key: rsa.RSAPrivateKey, fmt: str, passphrase: str | None
) -> None:
    formats = {
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
        "pkcs8": serialization.PrivateFormat.PKCS8,
    }
    pem = _pem(key, formats[fmt], passphrase)
    assert (b"RSA PRIVATE KEY" in pem) == (fmt == "pkcs1")
    loaded = load_private_key(pem, passphrase)
    assert loaded.private_numbers() == key.private_numbers()


def test_written_keys_are_pbes2_pbkdf2_sha256_aes256_with_many_iterations(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, PASSPHRASE)
    pem = path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    oids = {
        "PBES2": "06092a864886f70d01050d",
        "PBKDF2": "06092a864886f70d01050c",
        "hmacWithSHA256": "06082a864886f70d0209",
        "aes-256-cbc": "060960864801650304012a",
    }
    for name, encoded in oids.items():
        assert bytes.fromhex(encoded) in der, name
    assert bytes.fromhex("02030927c0") in der  # INTEGER 600000: the iteration count
    assert load_private_key(pem, PASSPHRASE).private_numbers() == key.private_numbers()
    with pytest.raises(FileExistsError):
        write_private_key(path, key)


def test_unencrypted_written_key_is_plain_pkcs8(key: rsa.RSAPrivateKey) -> None:
    pem = encode_private_key(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert load_private_key(pem).private_numbers() == key.private_numbers()


@pytest.mark.parametrize(
    ("make", "passphrase", "reason", "passphrase_problem"),
    [
        (lambda k: encode_private_key(k, PASSPHRASE, iterations=1000), None, "no passphrase", True),
        (lambda k: encode_private_key(k, PASSPHRASE, iterations=1000), "nope", "wrong", True),
        (lambda k: encode_private_key(k), PASSPHRASE, "not encrypted", True),
        (lambda k: b"hello", None, "not a PEM", False),
        (
            lambda k: b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None,
            "not a readable",
            False,
        ),
        (
            lambda k: _pem(
                ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8
            ),
            None,
            "RSA",
            False,
        ),
        (
            lambda k: _pem(
                rsa.generate_private_key(65537, 1024), serialization.PrivateFormat.PKCS8
            ),
            None,
            "1024 bits",
            False,
        ),
    ],
    ids=[
        "missing-passphrase",
        "wrong-passphrase",
        "superfluous",
        "not-pem",
        "bad-der",
        "ec",
        "small",
    ],
)
def test_unusable_keys_say_why(
    key: rsa.RSAPrivateKey, make: Any, passphrase: str | None, reason: str, passphrase_problem: bool
) -> None:
    with pytest.raises(PrivateKeyError, match=reason) as caught:
        load_private_key(make(key), passphrase)
    assert caught.value.passphrase_problem is passphrase_problem
    if passphrase:
        assert passphrase not in str(caught.value)


def test_same_public_key(key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(65537, 2048)
    assert same_public_key(public_key_pem(key), key)
    assert not same_public_key(public_key_pem(other), key)
    assert not same_public_key("not a key", key)


# -- start-up ---------------------------------------------------------------------------------


def _host(tmp_path: Path, flows: dict[str, Any]) -> Wahost:
    config = make_config(tmp_path, {"plugins": {"flows": flows}})
    return Wahost(config, plugins=[wahost_flows], load_entrypoints=False)


@pytest.fixture
def encrypted_key_file(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "keys" / "flows.pem"
    path.parent.mkdir()
    write_private_key(path, key, PASSPHRASE, iterations=1000)
    return path


async def test_passphrase_from_env_and_from_file(
    tmp_path: Path, encrypted_key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWS_KEY_PASSPHRASE", PASSPHRASE)
    (tmp_path / "passphrase.txt").write_text(PASSPHRASE + "\n")
    flows = {
        "endpoints": [
            {"key_file": "keys/flows.pem", "passphrase": "${FLOWS_KEY_PASSPHRASE}"},
            {
                "path": "/flows2",
                "key_file": str(encrypted_key_file),
                "passphrase": {"file": "passphrase.txt"},
            },
        ]
    }
    host = _host(tmp_path, flows)
    async with host:
        assert sorted(host.slots[ENDPOINTS]) == ["/flows", "/flows2"]
    assert PASSPHRASE in host.config.secrets()  # so the log redactor masks it


@pytest.mark.parametrize(
    ("passphrase", "config_key", "reason"),
    [
        (None, "plugins.flows.endpoints[0].passphrase", "encrypted but no passphrase"),
        ("wrong", "plugins.flows.endpoints[0].passphrase", "wrong passphrase"),
    ],
)
async def test_missing_or_wrong_passphrase_stops_start_up(
    tmp_path: Path, encrypted_key_file: Path, passphrase: str | None, config_key: str, reason: str
) -> None:
    endpoint: dict[str, Any] = {"key_file": str(encrypted_key_file)}
    if passphrase is not None:
        endpoint["passphrase"] = passphrase
    host = _host(tmp_path, {"endpoints": [endpoint]})
    with pytest.raises(StartupError) as caught:
        await host.start()
    message = str(caught.value)
    assert config_key in message
    assert str(encrypted_key_file) in message
    assert reason in message
    assert "wahost-flows" in message or "wahost_flows" in message
    assert PASSPHRASE not in message
    assert not host.started


async def test_missing_key_file_stops_start_up(tmp_path: Path) -> None:
    host = _host(tmp_path, {"endpoints": [{"key_file": "nowhere.pem"}]})
    with pytest.raises(StartupError, match=r"endpoints\[0\]\.key_file: cannot read .*nowhere\.pem"):
        await host.start()


def test_unset_passphrase_variable_fails_at_config_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWS_KEY_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="FLOWS_KEY_PASSPHRASE is not set"):
        make_config(
            tmp_path,
            {
                "plugins": {
                    "flows": {
                        "endpoints": [
                            {"key_file": "k.pem", "passphrase": "${FLOWS_KEY_PASSPHRASE}"}
                        ]
                    }
                }
            },
        )


async def test_private_key_text_from_the_environment(
    tmp_path: Path, vectors: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWS_PRIVATE_KEY", vectors["private_key_pem_pkcs8_unencrypted"])
    host = _host(tmp_path, {"endpoints": [{"private_key": "${FLOWS_PRIVATE_KEY}"}]})
    async with host:
        assert list(host.slots[ENDPOINTS]) == ["/flows"]


async def test_no_endpoint_configured_idles(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    host = Wahost(config, plugins=[wahost_flows], load_entrypoints=False)
    async with host:
        assert host.slots[ENDPOINTS] == {}


@pytest.mark.parametrize(
    ("flows", "match"),
    [
        ({"endpoints": [{}]}, r"endpoints\[0\]\.key_file: set key_file or private_key"),
        ({"endpoints": [{"key_file": "a", "private_key": "b"}]}, "set key_file or private_key"),
        (
            {"endpoints": [{"key_file": "a"}, {"key_file": "b"}]},
            r"endpoints\[1\]\.path: /flows is used twice",
        ),
        (
            {
                "endpoints": [
                    {"key_file": "a", "name": "x"},
                    {"key_file": "b", "path": "/b", "name": "x"},
                ]
            },
            "used twice",
        ),
        ({"endpoints": [{"key_file": "a", "path": "/webhook"}]}, "belongs to the core"),
        ({"endpoints": [{"key_file": "a", "passphrase": ""}]}, "passphrase: must not be empty"),
    ],
)
async def test_invalid_endpoint_settings_stop_start_up(
    tmp_path: Path, flows: dict[str, Any], match: str
) -> None:
    host = _host(tmp_path, flows)
    with pytest.raises(StartupError, match=match):
        await host.start()


@pytest.mark.parametrize(
    ("flows", "match"),
    [
        ({"endpoints": [{"key_file": "a", "path": "flows"}]}, r"endpoints\[0\]\.path: .*'flows'"),
        ({"endpoints": [{"key_file": "a", "colour": 1}]}, r"endpoints\[0\]\.colour: unknown key"),
        (
            {"token_expired_body": "loud"},
            "token_expired_body: expected one of 'plain', 'encrypted'",
        ),
        ({"handler_timeout": 0}, "handler_timeout"),
    ],
)
def test_wrong_types_fail_when_the_host_is_built(
    tmp_path: Path, flows: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        _host(tmp_path, flows)


def test_a_wrong_passphrase_is_named_whatever_the_decryption_gives(key: rsa.RSAPrivateKey) -> None:
    """Decrypted with a wrong passphrase, the key usually fails its padding check; now and
    then (about one passphrase in 256) the padding looks right by chance and the garbage fails
    to parse instead. Both are a wrong passphrase, never a problem of the key file."""
    pem = _pem(key, serialization.PrivateFormat.PKCS8, "right")
    for n in range(20_000):
        wrong = f"wrong-{n}"
        try:
            serialization.load_pem_private_key(pem, wrong.encode())
        except ValueError as exc:
            if "password" not in str(exc).lower():
                break  # the rare case: cryptography's message does not say password
    else:
        pytest.fail("no wrong passphrase whose decryption passed the padding check")
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key(pem, wrong)
    assert caught.value.passphrase_problem
    assert caught.value.reason.startswith("wrong passphrase")
