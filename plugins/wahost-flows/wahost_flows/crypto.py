"""The Flows data-exchange encryption (reference/cloudapi.md §9).

Request: ``{"encrypted_flow_data", "encrypted_aes_key", "initial_vector"}``, all base64. The AES
key is unwrapped with RSA-OAEP (SHA-256, MGF1-SHA-256); the body is AES-GCM with the IV as sent
and the 16-byte tag appended. The response is AES-GCM with the same key and the IV with every
bit flipped, tag appended, base64.

:func:`decrypt_request` raises :class:`FlowDecryptionError` for anything it cannot decrypt,
whatever the input (the endpoint answers 421), and its reason never contains key material.
:func:`encrypt_request` and :func:`decrypt_response` do the client's side, for tests and tools.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wahost.errors import WahostError

__all__ = [
    "DecryptedRequest",
    "FlowDecryptionError",
    "decrypt_request",
    "decrypt_response",
    "encrypt_request",
    "encrypt_response",
    "flip_iv",
]

_OAEP = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)
_TAG_BYTES = 16
_AES_KEY_SIZES = (16, 24, 32)


class FlowDecryptionError(WahostError):
    """The request cannot be decrypted; ``reason`` says which step failed (no key material)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Envelope(msgspec.Struct):
    encrypted_flow_data: str
    encrypted_aes_key: str
    initial_vector: str


_envelope = msgspec.json.Decoder(_Envelope)


@dataclass(frozen=True, slots=True)
class DecryptedRequest:
    """A decrypted request: the JSON ``plaintext`` and what the response is encrypted with."""

    plaintext: bytes
    aes_key: bytes = field(repr=False)
    iv: bytes = field(repr=False)


def flip_iv(iv: bytes) -> bytes:
    """The response IV: every bit of the request IV inverted."""
    return bytes(byte ^ 0xFF for byte in iv)


def _b64(value: str, name: str) -> bytes:
    # Meta sends the standard alphabet with padding; tolerate missing padding, nothing else.
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FlowDecryptionError(f"{name} is not base64") from None


def decrypt_request(private_key: rsa.RSAPrivateKey, body: bytes) -> DecryptedRequest:
    """Decrypt a request body. Raises :class:`FlowDecryptionError` and nothing else."""
    try:
        envelope = _envelope.decode(body)
    except msgspec.ValidationError as exc:
        raise FlowDecryptionError(f"not an encrypted Flows request: {exc}") from None
    except msgspec.DecodeError:
        raise FlowDecryptionError("the body is not JSON") from None
    except RecursionError:  # msgspec's answer to JSON nested too deeply
        raise FlowDecryptionError("the body is JSON nested too deeply") from None
    except Exception as exc:  # whatever else a decoder may raise: still the client's fault
        raise FlowDecryptionError(f"the body cannot be decoded ({type(exc).__name__})") from None
    wrapped_key = _b64(envelope.encrypted_aes_key, "encrypted_aes_key")
    iv = _b64(envelope.initial_vector, "initial_vector")
    data = _b64(envelope.encrypted_flow_data, "encrypted_flow_data")
    try:
        aes_key = private_key.decrypt(wrapped_key, _OAEP)
    except Exception:  # ValueError in practice; any failure means the same to the client
        raise FlowDecryptionError(
            "encrypted_aes_key cannot be unwrapped with this endpoint's private key "
            "(RSA-OAEP SHA-256); the client may hold an old public key"
        ) from None
    if len(aes_key) not in _AES_KEY_SIZES:
        raise FlowDecryptionError(f"the unwrapped AES key has {len(aes_key)} bytes")
    if not 8 <= len(iv) <= 128:
        raise FlowDecryptionError(f"initial_vector has {len(iv)} bytes")
    if len(data) < _TAG_BYTES:
        raise FlowDecryptionError("encrypted_flow_data is shorter than the GCM tag")
    try:
        plaintext = AESGCM(aes_key).decrypt(iv, data, None)
    except InvalidTag:
        raise FlowDecryptionError("AES-GCM tag check failed (data altered or wrong key)") from None
    except Exception as exc:
        raise FlowDecryptionError(f"AES-GCM decryption failed ({type(exc).__name__})") from None
    return DecryptedRequest(plaintext=plaintext, aes_key=aes_key, iv=iv)


def encrypt_response(plaintext: bytes, aes_key: bytes, iv: bytes) -> bytes:
    """The response body: AES-GCM with the request's key and flipped IV, tag appended, base64."""
    sealed = AESGCM(aes_key).encrypt(flip_iv(iv), plaintext, None)
    return base64.b64encode(sealed)


# -- the client's side (tests, tools) ---------------------------------------------------------


def encrypt_request(
    public_key: rsa.RSAPublicKey,
    payload: Any,
    *,
    aes_key: bytes | None = None,
    iv: bytes | None = None,
) -> tuple[dict[str, str], bytes, bytes]:
    """Encrypt ``payload`` (JSON-encodable, or ``bytes`` as is) as WhatsApp does.

    Returns ``(body, aes_key, iv)``: the request body as a dict, and what
    :func:`decrypt_response` needs. A fresh key and IV are drawn unless given.
    """
    aes_key = os.urandom(16) if aes_key is None else aes_key
    iv = os.urandom(16) if iv is None else iv
    plaintext = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    body = {
        "encrypted_flow_data": base64.b64encode(AESGCM(aes_key).encrypt(iv, plaintext, None)),
        "encrypted_aes_key": base64.b64encode(public_key.encrypt(aes_key, _OAEP)),
        "initial_vector": base64.b64encode(iv),
    }
    return {name: value.decode("ascii") for name, value in body.items()}, aes_key, iv


def decrypt_response(body: bytes | str, aes_key: bytes, iv: bytes) -> bytes:
    """Decrypt an endpoint's response as WhatsApp does; raises ``InvalidTag`` when altered."""
    sealed = base64.b64decode(body, validate=True)
    return AESGCM(aes_key).decrypt(flip_iv(iv), sealed, None)
