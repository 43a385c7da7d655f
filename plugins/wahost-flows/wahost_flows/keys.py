"""The endpoint's RSA key pair: generate, write (PKCS#8, encrypted), load, public half.

Meta encrypts each request's AES key to the business's 2048-bit RSA public key, uploaded per
phone number (reference/cloudapi.md §9). The private key stays in a PEM file next to the bot,
preferably encrypted with a passphrase.

``cryptography`` writes encrypted PKCS#8 with PBKDF2 at a fixed 2048 iterations, too few for a
passphrase a person chose, and offers no setting for it. So :func:`encode_private_key` writes
the standard PBES2 structure itself (RFC 8018: PBKDF2-HMAC-SHA256 with
:data:`KDF_ITERATIONS` iterations, AES-256-CBC) with ``cryptography``'s primitives; OpenSSL
and ``cryptography`` read it back like any ``ENCRYPTED PRIVATE KEY``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from wahost.errors import WahostError

__all__ = [
    "KDF_ITERATIONS",
    "KEY_SIZE",
    "PrivateKeyError",
    "encode_private_key",
    "generate_private_key",
    "is_encrypted_pem",
    "load_private_key",
    "public_key_pem",
    "same_public_key",
    "write_private_key",
]

#: The RSA key size Meta's Flows encryption uses.
KEY_SIZE = 2048
#: PBKDF2-HMAC-SHA256 iterations of a key written with a passphrase (OWASP's 2023 figure).
KDF_ITERATIONS = 600_000

_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_OID_HMAC_SHA256 = "1.2.840.113549.2.9"
_OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"


class PrivateKeyError(WahostError, ValueError):
    """A private key cannot be loaded. ``reason`` says why (never the key or passphrase);
    ``passphrase_problem`` is true when the passphrase (missing, wrong, superfluous) is the
    cause rather than the file."""

    def __init__(self, reason: str, *, passphrase_problem: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.passphrase_problem = passphrase_problem


def generate_private_key() -> rsa.RSAPrivateKey:
    """A new RSA-2048 key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def public_key_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The public key as PEM (``-----BEGIN PUBLIC KEY-----``), the form Meta takes."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def same_public_key(a: str | bytes, b: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bool:
    """Whether PEM public key ``a`` is the public half of ``b`` (false when ``a`` is no key)."""
    try:
        loaded = serialization.load_pem_public_key(a.encode() if isinstance(a, str) else a)
    except (ValueError, TypeError):
        return False
    public = b.public_key() if isinstance(b, rsa.RSAPrivateKey) else b
    return isinstance(loaded, rsa.RSAPublicKey) and loaded.public_numbers() == (
        public.public_numbers()
    )


# -- writing --------------------------------------------------------------------------------


def encode_private_key(
    key: rsa.RSAPrivateKey, passphrase: str | None = None, *, iterations: int = KDF_ITERATIONS
) -> bytes:
    """The key as PKCS#8 PEM; encrypted (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC) when a
    passphrase is given."""
    info = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if passphrase is None:
        return _pem("PRIVATE KEY", info)
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt, iv = os.urandom(16), os.urandom(16)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    aes_key = kdf.derive(passphrase.encode("utf-8"))
    padder = padding.PKCS7(128).padder()
    padded = padder.update(info) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf_params = _seq(
        _octets(salt), _integer(iterations), _integer(32), _seq(_oid(_OID_HMAC_SHA256), _NULL)
    )
    pbes2_params = _seq(
        _seq(_oid(_OID_PBKDF2), kdf_params),
        _seq(_oid(_OID_AES256_CBC), _octets(iv)),
    )
    der = _seq(_seq(_oid(_OID_PBES2), pbes2_params), _octets(encrypted))
    return _pem("ENCRYPTED PRIVATE KEY", der)


def write_private_key(
    path: Path,
    key: rsa.RSAPrivateKey,
    passphrase: str | None = None,
    *,
    overwrite: bool = False,
    iterations: int = KDF_ITERATIONS,
) -> None:
    """Write the key to ``path``, readable by its owner only (mode 0600); an existing file is
    an error unless ``overwrite``."""
    data = encode_private_key(key, passphrase, iterations=iterations)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _pem(label: str, der: bytes) -> bytes:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    body = "\n".join(lines)
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode("ascii")


# Minimal DER: only what a PBES2 EncryptedPrivateKeyInfo needs.


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _integer(value: int) -> bytes:
    # Positive only; one more byte than the bits need keeps the sign bit clear.
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


_NULL = b"\x05\x00"


# -- loading --------------------------------------------------------------------------------


def is_encrypted_pem(data: bytes) -> bool:
    """Whether PEM ``data`` is an encrypted private key (PKCS#8, or PKCS#1 with
    ``Proc-Type: 4,ENCRYPTED``)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(data: bytes, passphrase: str | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM: PKCS#8 or PKCS#1 (``BEGIN RSA PRIVATE KEY``), plain
    or encrypted. Raises :class:`PrivateKeyError` saying what is wrong."""
    encrypted = is_encrypted_pem(data)
    if encrypted and not passphrase:
        raise PrivateKeyError(
            "the key is encrypted but no passphrase is set", passphrase_problem=True
        )
    if not encrypted and passphrase:
        raise PrivateKeyError(
            "a passphrase is set but the key is not encrypted", passphrase_problem=True
        )
    if b"-----BEGIN" not in data:
        raise PrivateKeyError("not a PEM file (expected -----BEGIN PRIVATE KEY----- or similar)")
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password)
    except Exception as exc:
        if encrypted:
            # Decrypted with a wrong passphrase, the data usually fails its padding check
            # ("Bad decrypt. Incorrect password?"), but now and then the padding looks right
            # by chance and the garbage fails to parse instead: both are a wrong passphrase,
            # unless the file itself is damaged.
            if "password" in str(exc).lower():
                raise PrivateKeyError("wrong passphrase", passphrase_problem=True) from None
            raise PrivateKeyError(
                "wrong passphrase, or a damaged key file", passphrase_problem=True
            ) from None
        if isinstance(exc, ValueError | TypeError):
            # The message of cryptography names the PEM problem, never the key material.
            raise PrivateKeyError(f"not a readable PEM private key ({exc})") from None
        # An unsupported algorithm or a malformed structure.
        raise PrivateKeyError(f"not a readable PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
        raise PrivateKeyError(f"a {kind or 'non-RSA'} key; Flows needs an RSA key")
    if key.key_size < KEY_SIZE:
        raise PrivateKeyError(f"an RSA key of {key.key_size} bits; Flows needs {KEY_SIZE} bits")
    return key
