"""QR codes and short links that open a chat with a prefilled message
(reference/cloudapi.md §18.2).

``QrCodesApi(host.client)``: create, list, get, update, delete, and the image URL. Meta keeps
at most 2,000 codes per number, with a prefilled message of at most 140 characters; codes do
not expire. The message is checked before any request.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from wahost.account import validation
from wahost.graph import GraphClient

__all__ = ["PREFILLED_MAX", "QrCode", "QrCodesApi"]

#: Meta's limit on the prefilled message (§18.2).
PREFILLED_MAX = 140
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")

ImageFormat = Literal["PNG", "SVG"]


class QrCode(msgspec.Struct, kw_only=True):
    """A QR code: ``deep_link_url`` is its short link (``https://wa.me/message/<code>``),
    ``qr_image_url`` the image when one was asked for."""

    code: str
    prefilled_message: str = ""
    deep_link_url: str | None = None
    qr_image_url: str | None = None


def _code(code: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(f"code: {code!r} is not a QR code's code (letters and digits)")
    return code


def _format(image_format: str) -> str:
    if image_format not in ("PNG", "SVG"):
        raise ValueError(f"image_format: must be 'PNG' or 'SVG' (got {image_format!r})")
    return image_format


def _one(answer: Any) -> QrCode:
    """Meta wraps a single code in ``data[]`` on GET and gives it bare on create/update."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(data, list):
        if not data:
            raise LookupError("Meta answered no QR code")
        answer = data[0]
    return msgspec.convert(answer, QrCode)


class QrCodesApi:
    """The QR codes of one phone number (the client's configured one by default)."""

    def __init__(self, client: GraphClient, phone_number_id: str | None = None) -> None:
        self.client = client
        self.phone_number_id = phone_number_id or client.phone_number_id

    @property
    def _path(self) -> str:
        return f"/{self.phone_number_id}/message_qrdls"

    async def create(self, prefilled_message: str, *, image_format: ImageFormat = "PNG") -> QrCode:
        """A new code whose chat opens with ``prefilled_message``; its image URL in
        ``image_format``."""
        body = {
            "prefilled_message": validation.text(
                prefilled_message, "prefilled_message", PREFILLED_MAX
            ),
            "generate_qr_image": _format(image_format),
        }
        return _one(await self.client.request("POST", self._path, json=body, retry=False))

    async def list(self) -> list[QrCode]:
        """Every code of the number."""
        answer = await self.client.request("GET", self._path)
        return msgspec.convert((answer or {}).get("data") or [], list[QrCode])

    async def get(self, code: str) -> QrCode:
        """One code."""
        return _one(await self.client.request("GET", f"{self._path}/{_code(code)}"))

    async def image_url(self, code: str, image_format: ImageFormat = "PNG") -> str:
        """The URL of the code's image, asked with the field ``qr_image_url.format(...)``
        (pywa's form; UNVERIFIED in Meta's text)."""
        fields = (
            f"code,prefilled_message,deep_link_url,qr_image_url.format({_format(image_format)})"
        )
        answer = await self.client.request(
            "GET", f"{self._path}/{_code(code)}", params={"fields": fields}
        )
        url = _one(answer).qr_image_url
        if not url:
            raise LookupError(f"Meta answered no image URL for {code}")
        return url

    async def update(self, code: str, prefilled_message: str) -> QrCode:
        """Change the code's prefilled message (the code and link stay the same)."""
        body = {
            "code": _code(code),
            "prefilled_message": validation.text(
                prefilled_message, "prefilled_message", PREFILLED_MAX
            ),
        }
        return _one(await self.client.request("POST", self._path, json=body))

    async def delete(self, code: str) -> None:
        """Delete the code; its link and image stop working."""
        await self.client.request("DELETE", f"{self._path}/{_code(code)}")
