"""Flows media: a CDN file built with ``cryptography`` decrypts; each failed check has its error;
downloads go through the host's HTTP client without the Graph token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wahost_flows import FlowContext, FlowRequest, FlowResponse, FlowRouter, encrypt_request
from wahost_flows.media import (
    EncryptedHashMismatch,
    EncryptionMetadata,
    FlowMedia,
    FlowMediaError,
    HmacMismatch,
    InvalidMediaMetadata,
    MediaDecryptionError,
    MediaDownloadError,
    PaddingError,
    PlaintextHashMismatch,
    decrypt_flow_media,
    download_flow_media,
    encrypt_flow_media,
    parse_flow_media,
)

from wahost import Route, hookimpl

PHOTO = b"\xff\xd8\xff\xe0 not really a JPEG " * 50


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def build(
    plaintext: bytes,
    *,
    pad: bool = True,
    hmac_key: bytes | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A CDN file and its metadata, the way §10 describes WhatsApp making them."""
    key, iv = os.urandom(32), os.urandom(16)
    hmac_key = os.urandom(32) if hmac_key is None else hmac_key
    data = plaintext
    if pad:
        padder = padding.PKCS7(128).padder()
        data = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    cdn_file = ciphertext + hmac.new(hmac_key, iv + ciphertext, hashlib.sha256).digest()[:10]
    metadata = {
        "encrypted_hash": _b64(hashlib.sha256(cdn_file).digest()),
        "iv": _b64(iv),
        "encryption_key": _b64(key),
        "hmac_key": _b64(hmac_key),
        "plaintext_hash": _b64(hashlib.sha256(plaintext).digest()),
    }
    return cdn_file, metadata


def _rehash(cdn_file: bytes, metadata: dict[str, str]) -> dict[str, str]:
    return {**metadata, "encrypted_hash": _b64(hashlib.sha256(cdn_file).digest())}


def test_round_trip_built_with_cryptography() -> None:
    cdn_file, metadata = build(PHOTO)
    assert decrypt_flow_media(metadata, cdn_file) == PHOTO
    item = {"media_id": "m", "cdn_url": "https://x", "encryption_metadata": metadata}
    assert decrypt_flow_media(item, cdn_file) == PHOTO
    assert decrypt_flow_media(parse_flow_media([item])[0], cdn_file) == PHOTO


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_own_encryption_round_trips(size: int) -> None:
    plaintext = os.urandom(size)
    cdn_file, metadata = encrypt_flow_media(plaintext)
    assert decrypt_flow_media(metadata, cdn_file) == plaintext


def test_altered_file_fails_the_encrypted_hash() -> None:
    cdn_file, metadata = build(PHOTO)
    altered = bytes([cdn_file[0] ^ 1]) + cdn_file[1:]
    with pytest.raises(EncryptedHashMismatch) as caught:
        decrypt_flow_media(metadata, altered)
    assert caught.value.check == "encrypted_hash"


def test_altered_ciphertext_with_a_matching_file_hash_fails_the_hmac() -> None:
    cdn_file, metadata = build(PHOTO)
    altered = bytes([cdn_file[0] ^ 1]) + cdn_file[1:]
    with pytest.raises(HmacMismatch):
        decrypt_flow_media(_rehash(altered, metadata), altered)
    other_hmac_key = {**metadata, "hmac_key": _b64(os.urandom(32))}
    with pytest.raises(HmacMismatch):
        decrypt_flow_media(other_hmac_key, cdn_file)


def test_ciphertext_not_in_whole_blocks_fails_decryption() -> None:
    hmac_key = os.urandom(32)
    cdn_file, metadata = build(PHOTO, hmac_key=hmac_key)
    iv = base64.b64decode(metadata["iv"])
    ciphertext = cdn_file[:-10][:-3]
    short = ciphertext + hmac.new(hmac_key, iv + ciphertext, hashlib.sha256).digest()[:10]
    with pytest.raises(MediaDecryptionError, match="whole number of AES blocks") as caught:
        decrypt_flow_media(_rehash(short, metadata), short)
    assert not isinstance(caught.value, PaddingError)


def test_bad_pkcs7_padding_fails_the_padding_check() -> None:
    cdn_file, metadata = build(b"x" * 31 + b"\x00", pad=False)  # last byte 0: never valid
    with pytest.raises(PaddingError) as caught:
        decrypt_flow_media(metadata, cdn_file)
    assert isinstance(caught.value, MediaDecryptionError)
    assert caught.value.check == "padding"


def test_wrong_plaintext_hash_fails_the_last_check() -> None:
    cdn_file, metadata = build(PHOTO)
    metadata["plaintext_hash"] = _b64(hashlib.sha256(b"something else").digest())
    with pytest.raises(PlaintextHashMismatch):
        decrypt_flow_media(metadata, cdn_file)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"iv": "!!"}, "iv is not base64"),
        ({"iv": _b64(b"short")}, "iv has 5 bytes, expected 16"),
        ({"encryption_key": _b64(b"k" * 16)}, "encryption_key has 16 bytes, expected 32"),
        ({"hmac_key": ""}, "hmac_key is empty"),
        ({"plaintext_hash": 5}, "not Flows media encryption metadata"),
    ],
)
def test_unusable_metadata(change: dict[str, Any], match: str) -> None:
    cdn_file, metadata = build(PHOTO)
    with pytest.raises(InvalidMediaMetadata, match=match):
        decrypt_flow_media({**metadata, **change}, cdn_file)


def test_every_error_is_a_flow_media_error() -> None:
    errors = [
        InvalidMediaMetadata,
        EncryptedHashMismatch,
        HmacMismatch,
        MediaDecryptionError,
        PaddingError,
        PlaintextHashMismatch,
        MediaDownloadError,
    ]
    assert all(issubclass(error, FlowMediaError) for error in errors)
    assert len({error.check for error in errors}) == len(errors)


def test_the_photo_picker_fixture_parses(fixture_json: Any) -> None:
    request = fixture_json("flow_request_plain_photo_picker.json")
    [item] = parse_flow_media(request["data"]["photo_picker"])
    assert item.file_name == "IMG_5237.jpg"
    assert item.cdn_url.startswith("https://mmg.whatsapp.net/")
    assert len(base64.b64decode(item.encryption_metadata.encryption_key)) == 32
    with pytest.raises(InvalidMediaMetadata):
        parse_flow_media([{"media_id": "x"}])


class FakeCdn:
    """Serves CDN files on the harness's own loopback server, recording request headers."""

    __name__ = "fake_cdn"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.headers: list[dict[str, str]] = []

    @hookimpl
    def register_routes(self) -> list[Route]:
        import quart

        async def serve(name: str) -> Any:
            self.headers.append({k.lower(): v for k, v in quart.request.headers.items()})
            if name not in self.files:
                return quart.Response(b"gone", status=404)
            return quart.Response(self.files[name], content_type="application/octet-stream")

        return [Route("/cdn/<name>", serve, name="fake_cdn")]


async def test_picked_photo_is_downloaded_without_the_token_and_decrypted(
    flows_bot: Any, vectors: dict[str, Any], make_router_plugin: Any
) -> None:
    from cryptography.hazmat.primitives import serialization

    cdn = FakeCdn()
    cdn_file, metadata = build(PHOTO)
    cdn.files["photo"] = cdn_file
    router = FlowRouter()
    received: list[bytes] = []

    @router.on("UPLOAD")
    async def upload(request: FlowRequest, ctx: FlowContext) -> FlowResponse:
        for item in parse_flow_media(request.data["photo_picker"]):
            received.append(await download_flow_media(ctx.host, item, require_https=False))
        return FlowResponse("DONE", {"files": len(received)})

    async with flows_bot(plugins=[cdn, make_router_plugin(router)]) as bot:
        url = bot.harness.url + "/cdn/photo"
        item = {
            "media_id": "1",
            "cdn_url": url,
            "file_name": "a.jpg",
            "encryption_metadata": metadata,
        }
        payload = {
            "version": "3.0",
            "action": "data_exchange",
            "screen": "UPLOAD",
            "flow_token": "t",
            "data": {"photo_picker": [item]},
        }
        public = serialization.load_pem_public_key(vectors["public_key_pem"].encode())
        body, _, _ = encrypt_request(public, payload)  # type: ignore[arg-type]
        assert (await bot.post(body)).status_code == 200

        host = bot.host
        missing = FlowMedia("2", bot.harness.url + "/cdn/none", EncryptionMetadata(**metadata))
        with pytest.raises(MediaDownloadError, match="HTTP 404"):
            await download_flow_media(host, missing, require_https=False)
        with pytest.raises(MediaDownloadError, match="larger than 100 bytes"):
            await download_flow_media(host, item, require_https=False, max_bytes=100)
        with pytest.raises(MediaDownloadError, match="https"):
            await download_flow_media(host, item)
        # Flip the last byte: overwriting it with a fixed value left the file
        # unchanged whenever the random ciphertext already ended in that value.
        cdn.files["photo"] = cdn_file[:-1] + bytes([cdn_file[-1] ^ 0xFF])
        with pytest.raises(EncryptedHashMismatch):
            await download_flow_media(host, item, require_https=False)
    assert received == [PHOTO]
    assert cdn.headers and all("authorization" not in headers for headers in cdn.headers)
