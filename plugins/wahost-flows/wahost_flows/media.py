"""Files a user picks in a Flow (PhotoPicker, DocumentPicker), as the endpoint receives them.

A picker's value in a ``data_exchange`` request is a list of ``{"media_id", "cdn_url",
"file_name", "encryption_metadata": {"encrypted_hash", "iv", "encryption_key", "hmac_key",
"plaintext_hash"}}`` (all base64). The file on the CDN is ``ciphertext || hmac10``, AES-256-CBC
with PKCS7 padding and a truncated HMAC-SHA256 (reference/cloudapi.md §10).

Stable public API (other plugins import it)::

    from wahost_flows.media import decrypt_flow_media, download_flow_media, FlowMediaError

:func:`decrypt_flow_media` makes five checks, each failing with its own error:

1. ``sha256(cdn_file) == encrypted_hash``            → :class:`EncryptedHashMismatch`
2. ``HMAC-SHA256(hmac_key, iv || ciphertext)[:10]`` equals the last 10 bytes, compared in
   constant time                                      → :class:`HmacMismatch`
3. the ciphertext is whole AES blocks, decrypted with AES-256-CBC → :class:`MediaDecryptionError`
4. the PKCS7 padding is valid                        → :class:`PaddingError`
5. ``sha256(plaintext) == plaintext_hash``            → :class:`PlaintextHashMismatch`

Metadata that cannot be used (not base64, wrong sizes) raises :class:`InvalidMediaMetadata`,
a failed download :class:`MediaDownloadError`; all are :class:`FlowMediaError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
import msgspec
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wahost.errors import GraphError, WahostError

if TYPE_CHECKING:
    from wahost.host import Wahost

__all__ = [
    "EncryptedHashMismatch",
    "EncryptionMetadata",
    "FlowMedia",
    "FlowMediaError",
    "HmacMismatch",
    "InvalidMediaMetadata",
    "MediaDecryptionError",
    "MediaDownloadError",
    "PaddingError",
    "PlaintextHashMismatch",
    "decrypt_flow_media",
    "download_flow_media",
    "encrypt_flow_media",
    "parse_flow_media",
]

_HMAC_BYTES = 10
_BLOCK = 16
#: Largest CDN file :func:`download_flow_media` accepts by default: a picker allows 25 MiB
#: per file (``max-file-size-kb`` at most 25600), plus padding and HMAC.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024 + 64


class FlowMediaError(WahostError):
    """A Flows media file failed a check; ``check`` names which."""

    check: ClassVar[str] = "media"


class InvalidMediaMetadata(FlowMediaError):
    """The encryption metadata is missing, not base64, or of the wrong sizes."""

    check = "metadata"


class EncryptedHashMismatch(FlowMediaError):
    """The SHA-256 of the CDN file is not ``encrypted_hash``."""

    check = "encrypted_hash"


class HmacMismatch(FlowMediaError):
    """The 10-byte HMAC-SHA256 over ``iv || ciphertext`` does not match."""

    check = "hmac"


class MediaDecryptionError(FlowMediaError):
    """AES-256-CBC decryption failed (the ciphertext is not whole blocks)."""

    check = "decryption"


class PaddingError(MediaDecryptionError):
    """The decrypted data has no valid PKCS7 padding."""

    check = "padding"


class PlaintextHashMismatch(FlowMediaError):
    """The SHA-256 of the decrypted file is not ``plaintext_hash``."""

    check = "plaintext_hash"


class MediaDownloadError(FlowMediaError):
    """The CDN file could not be downloaded (HTTP error, too large, not https)."""

    check = "download"


class EncryptionMetadata(msgspec.Struct):
    """``encryption_metadata`` of a picked file; every value base64."""

    encrypted_hash: str
    iv: str
    encryption_key: str
    hmac_key: str
    plaintext_hash: str


class FlowMedia(msgspec.Struct):
    """One picked file as the endpoint receives it."""

    media_id: str
    cdn_url: str
    encryption_metadata: EncryptionMetadata
    file_name: str = ""


def parse_flow_media(value: Any) -> list[FlowMedia]:
    """The files of a picker's value (``request.data["photo_picker"]``): a list of items, or
    one item. Raises :class:`InvalidMediaMetadata`."""
    items = value if isinstance(value, list) else [value]
    try:
        return [msgspec.convert(item, FlowMedia) for item in items]
    except msgspec.ValidationError as exc:
        raise InvalidMediaMetadata(f"not a Flows media item: {exc}") from None


def _metadata(value: EncryptionMetadata | FlowMedia | Mapping[str, Any]) -> EncryptionMetadata:
    if isinstance(value, FlowMedia):
        return value.encryption_metadata
    if isinstance(value, EncryptionMetadata):
        return value
    if isinstance(value, Mapping) and "encryption_metadata" in value:
        value = value["encryption_metadata"]
    try:
        return msgspec.convert(value, EncryptionMetadata)
    except msgspec.ValidationError as exc:
        raise InvalidMediaMetadata(f"not Flows media encryption metadata: {exc}") from None


def _b64(value: str, name: str, size: int | None) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMediaMetadata(f"{name} is not base64") from None
    if size is not None and len(raw) != size:
        raise InvalidMediaMetadata(f"{name} has {len(raw)} bytes, expected {size}")
    if not raw:
        raise InvalidMediaMetadata(f"{name} is empty")
    return raw


def decrypt_flow_media(
    metadata: EncryptionMetadata | FlowMedia | Mapping[str, Any], data: bytes
) -> bytes:
    """Check and decrypt a CDN file ``data`` with its ``encryption_metadata`` (the struct, the
    media item, or the raw dict of either); returns the file's bytes."""
    meta = _metadata(metadata)
    encrypted_hash = _b64(meta.encrypted_hash, "encrypted_hash", 32)
    iv = _b64(meta.iv, "iv", _BLOCK)
    key = _b64(meta.encryption_key, "encryption_key", 32)
    hmac_key = _b64(meta.hmac_key, "hmac_key", None)
    plaintext_hash = _b64(meta.plaintext_hash, "plaintext_hash", 32)

    if not hmac.compare_digest(hashlib.sha256(data).digest(), encrypted_hash):
        raise EncryptedHashMismatch("the SHA-256 of the CDN file does not match encrypted_hash")
    ciphertext, tag = data[:-_HMAC_BYTES], data[-_HMAC_BYTES:]
    expected = hmac.new(hmac_key, iv + ciphertext, hashlib.sha256).digest()[:_HMAC_BYTES]
    if len(data) < _HMAC_BYTES or not hmac.compare_digest(expected, tag):
        raise HmacMismatch("the HMAC-SHA256 of iv and ciphertext does not match")
    if not ciphertext or len(ciphertext) % _BLOCK:
        raise MediaDecryptionError(
            f"the ciphertext has {len(ciphertext)} bytes, not a whole number of AES blocks"
        )
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise PaddingError("the decrypted file has no valid PKCS7 padding") from None
    if not hmac.compare_digest(hashlib.sha256(plaintext).digest(), plaintext_hash):
        raise PlaintextHashMismatch("the SHA-256 of the decrypted file does not match")
    return plaintext


def encrypt_flow_media(plaintext: bytes) -> tuple[bytes, EncryptionMetadata]:
    """Encrypt a file as WhatsApp does for the CDN (fresh keys): ``(cdn_file, metadata)``.
    For tests and fakes."""
    key, hmac_key, iv = os.urandom(32), os.urandom(32), os.urandom(_BLOCK)
    padder = padding.PKCS7(_BLOCK * 8).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize())
    ciphertext += encryptor.finalize()
    cdn_file = ciphertext + hmac.new(hmac_key, iv + ciphertext, hashlib.sha256).digest()[:10]

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    metadata = EncryptionMetadata(
        encrypted_hash=b64(hashlib.sha256(cdn_file).digest()),
        iv=b64(iv),
        encryption_key=b64(key),
        hmac_key=b64(hmac_key),
        plaintext_hash=b64(hashlib.sha256(plaintext).digest()),
    )
    return cdn_file, metadata


async def download_flow_media(
    host: Wahost,
    item: FlowMedia | Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    require_https: bool = True,
) -> bytes:
    """Download a picked file from its ``cdn_url`` with the host's HTTP client and decrypt it
    (:func:`decrypt_flow_media`). The GET carries no ``Authorization`` header: the CDN URL is
    pre-signed (as pywa fetches it). Raises :class:`FlowMediaError`."""
    media = item if isinstance(item, FlowMedia) else parse_flow_media(item)[0]
    url = urlsplit(media.cdn_url)
    if url.scheme != "https" and (require_https or url.scheme != "http"):
        raise MediaDownloadError(f"cdn_url must be an https URL, got scheme {url.scheme!r}")
    if host.client is None:
        raise RuntimeError("the host is not started")
    try:
        # No Graph token to a CDN URL (pre-signed, reference/cloudapi.md §10).
        response = await host.client.stream(
            media.cdn_url, authenticated=False, follow_redirects=True
        )
    except GraphError as exc:
        raise MediaDownloadError(f"{url.hostname} answered HTTP {exc.http_status}") from None
    except httpx.HTTPError as exc:
        raise MediaDownloadError(f"downloading from {url.hostname} failed: {exc!r}") from None
    try:
        if response.status_code != 200:
            raise MediaDownloadError(f"{url.hostname} answered HTTP {response.status_code}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise MediaDownloadError(f"the file is larger than {max_bytes} bytes")
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise MediaDownloadError(f"downloading from {url.hostname} failed: {exc!r}") from None
    finally:
        await response.aclose()
    return decrypt_flow_media(media.encryption_metadata, b"".join(chunks))
