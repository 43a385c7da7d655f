"""The Flows request/response encryption against the generated vectors, and its failures."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from wahost_flows.crypto import (
    FlowDecryptionError,
    decrypt_request,
    decrypt_response,
    encrypt_request,
    encrypt_response,
    flip_iv,
)
from wahost_flows.keys import load_private_key


@pytest.fixture(scope="module")
def private_key(vectors: dict[str, Any]) -> rsa.RSAPrivateKey:
    return load_private_key(vectors["private_key_pem_pkcs8_unencrypted"].encode())


def _raw(body: dict[str, str]) -> bytes:
    return json.dumps(body).encode()


def test_flipped_iv_matches_the_vectors(vectors: dict[str, Any]) -> None:
    iv = bytes.fromhex(vectors["iv_hex"])
    assert flip_iv(iv).hex() == vectors["flipped_iv_hex"]
    assert flip_iv(flip_iv(iv)) == iv


@pytest.mark.parametrize("name", ["ping", "init", "data_exchange", "error_notification"])
def test_vectors_decrypt_and_encrypt(
    vectors: dict[str, Any], cases: dict[str, Any], private_key: rsa.RSAPrivateKey, name: str
) -> None:
    case = cases[name]
    decrypted = decrypt_request(private_key, _raw(case["request_body"]))
    assert decrypted.plaintext.decode() == case["expected_decrypted_plaintext"]
    assert decrypted.aes_key.hex() == vectors["aes_key_hex"]
    assert decrypted.iv.hex() == vectors["iv_hex"]
    answer = encrypt_response(
        case["response_plaintext_utf8"].encode(), decrypted.aes_key, decrypted.iv
    )
    assert answer.decode() == case["expected_encrypted_response_base64"]
    assert (
        decrypt_response(answer, decrypted.aes_key, decrypted.iv).decode()
        == (case["response_plaintext_utf8"])
    )


def test_tampered_vector_fails(vectors: dict[str, Any], private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(FlowDecryptionError, match="tag"):
        decrypt_request(private_key, _raw(vectors["tampered_request_body_expect_http_421"]))


def test_reprs_never_show_the_aes_key(
    cases: dict[str, Any], private_key: rsa.RSAPrivateKey
) -> None:
    decrypted = decrypt_request(private_key, _raw(cases["ping"]["request_body"]))
    assert "0001020304" not in repr(decrypted)
    assert "aes_key" not in repr(decrypted)


def test_client_side_round_trip(private_key: rsa.RSAPrivateKey) -> None:
    payload = {"version": "3.0", "action": "data_exchange", "screen": "A", "data": {"x": "ü"}}
    body, key, iv = encrypt_request(private_key.public_key(), payload)
    decrypted = decrypt_request(private_key, _raw(body))
    assert json.loads(decrypted.plaintext) == payload
    assert (decrypted.aes_key, decrypted.iv) == (key, iv)


def test_another_key_is_refused_with_a_reason(
    vectors: dict[str, Any], cases: dict[str, Any]
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(FlowDecryptionError, match="cannot be unwrapped") as caught:
        decrypt_request(other, _raw(cases["init"]["request_body"]))
    assert "PRIVATE" not in caught.value.reason


def test_missing_padding_in_base64_is_tolerated(
    cases: dict[str, Any], private_key: rsa.RSAPrivateKey
) -> None:
    body = {k: v.rstrip("=") for k, v in cases["init"]["request_body"].items()}
    assert decrypt_request(private_key, _raw(body)).plaintext


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"initial_vector": "not base64!"}, "initial_vector is not base64"),
        ({"initial_vector": base64.b64encode(b"1234").decode()}, "initial_vector has 4 bytes"),
        ({"encrypted_flow_data": base64.b64encode(b"short").decode()}, "shorter than the GCM tag"),
        ({"encrypted_aes_key": base64.b64encode(b"x" * 256).decode()}, "cannot be unwrapped"),
        ({"encrypted_aes_key": 7}, "not an encrypted Flows request"),
    ],
)
def test_each_failure_names_its_step(
    cases: dict[str, Any], private_key: rsa.RSAPrivateKey, change: dict[str, Any], reason: str
) -> None:
    body = {**cases["init"]["request_body"], **change}
    with pytest.raises(FlowDecryptionError, match=reason):
        decrypt_request(private_key, json.dumps(body).encode())


def test_a_wrapped_key_of_a_wrong_size_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    from wahost_flows.crypto import _OAEP

    body, _, _ = encrypt_request(private_key.public_key(), {"action": "ping"})
    wrapped = private_key.public_key().encrypt(b"k" * 20, _OAEP)
    body["encrypted_aes_key"] = base64.b64encode(wrapped).decode()
    with pytest.raises(FlowDecryptionError, match="20 bytes"):
        decrypt_request(private_key, _raw(body))


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_flow_decryption_error(
    vectors: dict[str, Any], body: bytes
) -> None:
    key = _module_key(vectors)
    with pytest.raises(FlowDecryptionError):
        decrypt_request(key, body)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["encrypted_flow_data", "encrypted_aes_key", "initial_vector"]),
    position=st.integers(min_value=0),
    value=st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.integers())),
    mode=st.sampled_from(["flip", "replace", "drop"]),
)
def test_mutated_requests_only_raise_flow_decryption_error(
    vectors: dict[str, Any], field: str, position: int, value: Any, mode: str
) -> None:
    key = _module_key(vectors)
    body: dict[str, Any] = dict(vectors["cases"][2]["request_body"])
    if mode == "flip":
        raw = bytearray(base64.b64decode(body[field]))
        raw[position % len(raw)] ^= 1 + position % 255
        body[field] = base64.b64encode(bytes(raw)).decode()
    elif mode == "replace":
        body[field] = value
    else:
        del body[field]
    with pytest.raises(FlowDecryptionError):
        decrypt_request(key, json.dumps(body).encode())


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _module_key(vectors: dict[str, Any]) -> rsa.RSAPrivateKey:
    pem = vectors["private_key_pem_pkcs8_unencrypted"]
    if pem not in _KEYS:
        loaded = serialization.load_pem_private_key(pem.encode(), None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        _KEYS[pem] = loaded
    return _KEYS[pem]
