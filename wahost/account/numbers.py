"""Phone numbers: list, quality and limits, registration, verification, display name
(reference/cloudapi.md §18.4, §18.5).

``PhoneNumbersApi(host.client, waba_id=config.whatsapp.waba_id)``. Registration and
deregistration are limited by Meta to 10 requests per number in 72 hours (133016 and a 72-hour
block beyond), so they are never retried. The two-step PIN is sent to Meta only; it is not
kept or logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from wahost.graph import GraphClient

__all__ = ["NUMBER_FIELDS", "PhoneNumber", "PhoneNumbersApi"]

#: The fields :meth:`PhoneNumbersApi.get` asks for by default. ``messaging_limit_tier`` is
#: not in the Meta text the reference read (UNVERIFIED); a field Meta does not answer stays
#: ``None``.
NUMBER_FIELDS = (
    "verified_name",
    "display_phone_number",
    "quality_rating",
    "messaging_limit_tier",
    "throughput",
    "status",
    "name_status",
    "code_verification_status",
    "new_display_name",
    "new_name_status",
)
_PIN = re.compile(r"\d{6}")
_REGION = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_CODE = re.compile(r"\d{4,10}")

CodeMethod = Literal["SMS", "VOICE"]


class PhoneNumber(msgspec.Struct, kw_only=True):
    """A business phone number as Meta describes it; fields not asked for are ``None``.
    ``throughput`` is Meta's object (``{"level": "STANDARD"}``)."""

    id: str
    verified_name: str | None = None
    display_phone_number: str | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None
    throughput: dict[str, Any] | None = None
    status: str | None = None
    name_status: str | None = None
    code_verification_status: str | None = None
    new_display_name: str | None = None
    new_name_status: str | None = None


def _success(answer: Any) -> None:
    """Meta answers ``{"success": true}``; anything else (``false``) is a failure."""
    if isinstance(answer, dict) and answer.get("success") is False:
        raise RuntimeError(f"Meta answered success: false ({answer})")


class PhoneNumbersApi:
    """The phone numbers of a WhatsApp Business Account (``waba_id``, needed only to list
    them); every other call acts on one number, the client's configured one by default."""

    def __init__(self, client: GraphClient, waba_id: str | None = None) -> None:
        self.client = client
        self.waba_id = waba_id

    def _number(self, phone_number_id: str | None) -> str:
        number = phone_number_id or self.client.phone_number_id
        if not number.isdigit():
            raise ValueError(f"phone_number_id: {number!r} is not a phone number id (digits)")
        return number

    async def list(self) -> list[PhoneNumber]:
        """The WABA's numbers with their name, number and quality rating."""
        if not self.waba_id:
            raise ValueError("waba_id: needed to list the numbers ([whatsapp] waba_id)")
        answer = await self.client.request(
            "GET",
            f"/{self.waba_id}/phone_numbers",
            params={"fields": ",".join(("id", *NUMBER_FIELDS))},
        )
        return msgspec.convert((answer or {}).get("data") or [], list[PhoneNumber])

    async def get(
        self, phone_number_id: str | None = None, *, fields: Sequence[str] = NUMBER_FIELDS
    ) -> PhoneNumber:
        """One number: quality rating, limits, status, name review."""
        unknown = sorted(set(fields) - set(NUMBER_FIELDS))
        if unknown:
            raise ValueError(f"fields: unknown {', '.join(unknown)} (known: {NUMBER_FIELDS})")
        answer = await self.client.request(
            "GET", f"/{self._number(phone_number_id)}", params={"fields": ",".join(fields)}
        )
        return msgspec.convert(answer, PhoneNumber)

    async def register(
        self,
        pin: str,
        *,
        data_localization_region: str | None = None,
        phone_number_id: str | None = None,
    ) -> None:
        """Register the number for the Cloud API with its two-step PIN (6 digits; sets it
        when the number has none); ``data_localization_region`` (ISO 3166 alpha-2, e.g.
        ``"DE"``) keeps data at rest in that region."""
        if not isinstance(pin, str) or not _PIN.fullmatch(pin):
            raise ValueError("pin: must be 6 digits")
        body = {"messaging_product": "whatsapp", "pin": pin}
        if data_localization_region is not None:
            if not _REGION.fullmatch(data_localization_region):
                raise ValueError(
                    "data_localization_region: a 2-letter country code in upper case "
                    f"(got {data_localization_region!r})"
                )
            body["data_localization_region"] = data_localization_region
        answer = await self.client.request(
            "POST", f"/{self._number(phone_number_id)}/register", json=body, retry=False
        )
        _success(answer)

    async def deregister(self, phone_number_id: str | None = None) -> None:
        """Deregister the number from the Cloud API (not on coexistence numbers)."""
        answer = await self.client.request(
            "POST", f"/{self._number(phone_number_id)}/deregister", retry=False
        )
        _success(answer)

    async def request_code(
        self,
        *,
        method: CodeMethod = "SMS",
        language: str = "en_US",
        phone_number_id: str | None = None,
    ) -> None:
        """Have Meta send a verification code to the number by SMS or voice call."""
        if method not in ("SMS", "VOICE"):
            raise ValueError(f"method: must be 'SMS' or 'VOICE' (got {method!r})")
        if not _LANGUAGE.fullmatch(language):
            raise ValueError(f"language: a code such as en or en_US (got {language!r})")
        answer = await self.client.request(
            "POST",
            f"/{self._number(phone_number_id)}/request_code",
            params={"code_method": method, "language": language},
            retry=False,
        )
        _success(answer)

    async def verify_code(self, code: str, *, phone_number_id: str | None = None) -> None:
        """Verify the number with the code Meta sent."""
        code = code.strip().replace("-", "") if isinstance(code, str) else code
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ValueError("code: the digits Meta sent")
        answer = await self.client.request(
            "POST",
            f"/{self._number(phone_number_id)}/verify_code",
            params={"code": code},
            retry=False,
        )
        _success(answer)

    async def set_display_name(self, name: str, *, phone_number_id: str | None = None) -> None:
        """Ask for a new display name; Meta reviews it (``new_name_status``
        ``PENDING_REVIEW``, then ``phone_number_name_update``). Sent as the query
        parameter Meta documents (§18.5)."""
        # Meta's naming rules are reviewed by people, not a length the reference gives.
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name: must not be empty")
        name = name.strip()
        answer = await self.client.request(
            "POST",
            f"/{self._number(phone_number_id)}",
            params={"new_display_name": name},
            retry=False,
        )
        _success(answer)
