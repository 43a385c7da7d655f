"""Commerce settings: whether the catalog shows and the cart is on (reference/cloudapi.md
§18.7).

``CommerceApi(host.client)``: :meth:`~CommerceApi.get` and :meth:`~CommerceApi.set`. Meta takes
the settings as query parameters (``true``/``false``); its defaults are the cart on and the
catalog hidden.
"""

from __future__ import annotations

import msgspec

from wahost.graph import GraphClient

__all__ = ["CommerceApi", "CommerceSettings"]


class CommerceSettings(msgspec.Struct, kw_only=True):
    is_cart_enabled: bool = True
    is_catalog_visible: bool = False
    id: str | None = None


class CommerceApi:
    """The commerce settings of one phone number (the client's configured one by default)."""

    def __init__(self, client: GraphClient, phone_number_id: str | None = None) -> None:
        self.client = client
        self.phone_number_id = phone_number_id or client.phone_number_id

    async def get(self) -> CommerceSettings:
        answer = await self.client.request(
            "GET", f"/{self.phone_number_id}/whatsapp_commerce_settings"
        )
        data = (answer or {}).get("data") or [{}]
        return msgspec.convert(data[0], CommerceSettings)

    async def set(
        self, *, cart_enabled: bool | None = None, catalog_visible: bool | None = None
    ) -> None:
        """Turn the cart and/or the catalog's visibility on or off."""
        params: dict[str, str] = {}
        for name, value in (
            ("is_cart_enabled", cart_enabled),
            ("is_catalog_visible", catalog_visible),
        ):
            if value is None:
                continue
            if not isinstance(value, bool):
                raise ValueError(f"{name}: must be True or False (got {value!r})")
            params[name] = "true" if value else "false"
        if not params:
            raise ValueError("set: give cart_enabled or catalog_visible")
        await self.client.request(
            "POST", f"/{self.phone_number_id}/whatsapp_commerce_settings", params=params
        )
