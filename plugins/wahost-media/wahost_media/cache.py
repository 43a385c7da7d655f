"""The upload cache: the same content is uploaded once per media lifetime.

Media uploaded to Meta lives 30 days (reference/cloudapi.md §8). The cache maps
``(phone number id, MIME type, SHA-256 of the content)`` to the media id Meta gave, in the
host's state store (namespace :data:`NAMESPACE`), so it survives restarts and is shared by
every worker on the store. Entries expire a day before Meta forgets the media by default.
Writes go straight to the store, not through ``ctx``: the upload happened, whatever becomes
of the unit, and a retried unit should find it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wahost_media.limits import base_type

if TYPE_CHECKING:
    from wahost.state.base import StateStore

__all__ = ["DEFAULT_TTL", "MEDIA_LIFETIME", "NAMESPACE", "UploadCache"]

NAMESPACE = "wahost-media:uploads"
#: Meta keeps uploaded media 30 days.
MEDIA_LIFETIME = 30 * 24 * 3600.0
#: How long a cached media id is reused: one day less, to be safe.
DEFAULT_TTL = 29 * 24 * 3600.0


class UploadCache:
    """Content key -> media id, with a reverse entry so a deleted id can be forgotten."""

    def __init__(self, state: StateStore, *, ttl: float = DEFAULT_TTL) -> None:
        self.state = state
        self.ttl = ttl

    @staticmethod
    def key(phone_number_id: str, mime_type: str, sha256_hex: str) -> str:
        return f"{phone_number_id}:{base_type(mime_type)}:{sha256_hex.lower()}"

    async def get(self, key: str) -> str | None:
        value = await self.state.kv_get(NAMESPACE, f"content:{key}")
        return value.decode() if value is not None else None

    async def put(self, key: str, media_id: str) -> None:
        await self.state.kv_set(NAMESPACE, f"content:{key}", media_id.encode(), ttl=self.ttl)
        await self.state.kv_set(NAMESPACE, f"id:{media_id}", key.encode(), ttl=self.ttl)

    async def forget(self, media_id: str) -> None:
        """Drop ``media_id`` from the cache (it was deleted, or Meta refused it)."""
        key = await self.state.kv_get(NAMESPACE, f"id:{media_id}")
        if key is not None:
            content = f"content:{key.decode()}"
            # Only when it still points at this id: a newer upload may have replaced it.
            if await self.state.kv_get(NAMESPACE, content) == media_id.encode():
                await self.state.kv_delete(NAMESPACE, content)
        await self.state.kv_delete(NAMESPACE, f"id:{media_id}")
