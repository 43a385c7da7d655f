"""The media API of one host: upload, info, download, delete (reference/cloudapi.md §8).

::

    media = wahost_media.for_host(host)
    media_id = await media.upload("chart.png", "image/png")
    info = await media.info(media_id)           # url (valid 5 minutes), mime_type, sha256, size
    path = await media.download(media_id, "var/out/chart.png")
    await media.delete(media_id)

Every call goes through the host's Graph API client (token, retries, typed errors).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from wahost.errors import GraphError
from wahost.graph_guard import TokenHostError, graph_path_id
from wahost.slots import SlotKey
from wahost_media.cache import UploadCache
from wahost_media.config import MediaConfig
from wahost_media.download import Downloaded, stream_to_file
from wahost_media.errors import MediaError, MediaTooLargeError
from wahost_media.limits import (
    Kind,
    check_upload,
    extension_for,
    is_animated_webp,
    kind_of,
    mime_from_name,
    size_limit,
    sniff_mime,
)
from wahost_media.source import Source, UploadSource, open_source

if TYPE_CHECKING:
    from wahost import Message, Wahost
    from wahost.graph import GraphClient

__all__ = ["Media", "MediaInfo", "Uploaded", "for_host"]

log = structlog.get_logger("wahost_media")

#: HTTP statuses of a download that mean "this URL no longer works" (Meta's URLs last
#: 5 minutes): the URL is fetched again once (reference/cloudapi.md §8).
REFRESH_STATUSES = frozenset({401, 403, 404})
_MEDIA: SlotKey[Media] = SlotKey("wahost-media")


class MediaInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What ``GET /<MEDIA_ID>`` answers. ``url`` works for 5 minutes, with the token."""

    id: str
    url: str
    mime_type: str | None = None
    #: Base64 SHA-256 of the file, as Meta gives it.
    sha256: str | None = None
    file_size: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> MediaInfo:
        """Decode Meta's answer; ``file_size`` may be a number or a string of digits."""
        raw = msgspec.convert(data, _RawInfo)
        size = raw.file_size
        if isinstance(size, str):
            size = int(size) if size.strip().isdigit() else None
        return cls(
            id=raw.id, url=raw.url, mime_type=raw.mime_type, sha256=raw.sha256, file_size=size
        )


@dataclasses.dataclass(frozen=True)
class Uploaded:
    """The outcome of an upload."""

    media_id: str
    mime_type: str
    kind: Kind
    #: The file name sent with it.
    filename: str
    #: True when the id came from the upload cache (nothing was uploaded).
    reused: bool = False


class _RawInfo(msgspec.Struct):
    id: str
    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | str | None = None


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def _check_size(size: int | None, max_bytes: int | None) -> None:
    if size is not None and max_bytes is not None and size > max_bytes:
        raise MediaTooLargeError(
            f"media is {size:,} bytes, over the limit of {max_bytes:,}", size=size, limit=max_bytes
        )


class Media:
    """Upload, inspect, download and delete media with one host's Graph API client."""

    def __init__(self, host: Wahost) -> None:
        self.host = host

    @property
    def client(self) -> GraphClient:
        if self.host.client is None:
            raise RuntimeError("the host is not started")
        return self.host.client

    @property
    def settings(self) -> MediaConfig:
        """``[plugins.media]``, or the defaults when the plugin's hooks are not loaded."""
        try:
            settings = self.host.plugin_config("media", MediaConfig)
        except KeyError:
            return MediaConfig()
        return settings

    @property
    def cache(self) -> UploadCache:
        return UploadCache(self.host.state, ttl=self.settings.upload_cache_ttl)

    # -- upload ---------------------------------------------------------------------------

    async def upload(
        self,
        source: Source,
        mime_type: str | None = None,
        filename: str | None = None,
        *,
        kind: Kind | None = None,
        reuse: bool = False,
        phone_number_id: str | None = None,
    ) -> str:
        """Upload bytes, a file at a path, or a binary file object; returns the media id.

        ``mime_type`` defaults to the one told by the file name's extension or the first
        bytes. Meta's supported types and size limits are checked first
        (:class:`~wahost_media.errors.MediaLimitError`, no request made). ``filename`` is the
        name sent in the form (default: the path's name). ``reuse=True`` returns the id of the
        same content uploaded earlier (the upload cache) instead of uploading it again.
        """
        uploaded = await self.upload_file(
            source, mime_type, filename, kind=kind, reuse=reuse, phone_number_id=phone_number_id
        )
        return uploaded.media_id

    async def upload_file(
        self,
        source: Source,
        mime_type: str | None = None,
        filename: str | None = None,
        *,
        kind: Kind | None = None,
        reuse: bool = False,
        phone_number_id: str | None = None,
    ) -> Uploaded:
        """:meth:`upload`, returning the MIME type, kind and name used as well."""
        pnid = graph_path_id(phone_number_id or self.client.phone_number_id, what="phone number id")
        if mime_type is not None:
            spool_limit = size_limit(kind_of(mime_type), animated=True)
        else:
            spool_limit = size_limit("document")
        opened = await asyncio.to_thread(open_source, source, spool_limit=spool_limit)
        try:
            mime = mime_type or self._guess_mime(opened, filename)
            animated = is_animated_webp(opened.head)
            actual = check_upload(mime, opened.size, kind=kind, animated=animated)
            name = Path(filename or opened.name or f"upload{extension_for(mime)}").name
            uploaded = Uploaded("", mime, actual, name)
            key = None
            if reuse:
                key = UploadCache.key(pnid, mime, await asyncio.to_thread(opened.sha256))
                cached = await self.cache.get(key)
                if cached is not None:
                    log.debug("reusing uploaded media", media_id=cached)
                    return dataclasses.replace(uploaded, media_id=cached, reused=True)
            answer = await self.client.request(
                "POST",
                f"/{pnid}/media",
                data={"messaging_product": "whatsapp", "type": mime},
                files={"file": (name, opened.file, mime)},
            )
        finally:
            await asyncio.to_thread(opened.close)
        media_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise MediaError(f"the upload answer has no media id: {answer!r}")
        if key is not None:
            await self.cache.put(key, media_id)
        return dataclasses.replace(uploaded, media_id=media_id)

    @staticmethod
    def _guess_mime(opened: UploadSource, filename: str | None) -> str:
        for name in (filename, opened.name):
            if name and (mime := mime_from_name(name)):
                return mime
        mime = sniff_mime(opened.head)
        if mime is None:
            raise MediaError("cannot tell the MIME type of the media; pass mime_type=")
        return mime

    # -- info and delete --------------------------------------------------------------------

    async def info(self, media_id: str, *, phone_number_id: str | None = None) -> MediaInfo:
        """The media's download URL (valid 5 minutes), MIME type, SHA-256 and size.

        ``media_id`` must look like an id (:func:`wahost.graph_guard.graph_path_id`:
        :class:`~wahost.graph_guard.InvalidGraphIdError`, a ``ValueError``, otherwise)."""
        path = f"/{graph_path_id(media_id, what='media id')}"
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        return MediaInfo.from_json(await self.client.request("GET", path, params=params))

    async def delete(self, media_id: str, *, phone_number_id: str | None = None) -> None:
        """Delete uploaded media (and forget it in the upload cache)."""
        path = f"/{graph_path_id(media_id, what='media id')}"
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        answer = await self.client.request("DELETE", path, params=params)
        await self.cache.forget(media_id)
        if not (isinstance(answer, dict) and answer.get("success") is True):
            raise MediaError(f"Meta did not confirm the deletion of {media_id}: {answer!r}")

    async def forget(self, media_id: str) -> None:
        """Stop reusing ``media_id`` from the upload cache."""
        await self.cache.forget(media_id)

    # -- download ---------------------------------------------------------------------------

    async def download(
        self,
        media: str | MediaInfo,
        dest: str | os.PathLike[str],
        *,
        url: str | None = None,
        sha256: str | None = None,
        max_bytes: int | None = None,
        mime_type: str | None = None,
    ) -> Path:
        """Download media to ``dest``, streamed to disk in chunks; returns the file's path.

        ``media`` is a media id, a :class:`MediaInfo`, or a download URL. ``dest`` is the file
        to write, or an existing directory to write ``<sha256 hex><extension>`` into. With an
        id, ``url`` (e.g. the one in an inbound webhook) is tried first; a URL that answers
        401, 403 or 404 (expired), or whose host may not get the access token
        (:mod:`wahost.graph_guard`), is fetched again once. The SHA-256 Meta gave (or ``sha256``)
        is verified: :class:`~wahost_media.errors.ChecksumMismatchError`. ``max_bytes``:
        :class:`~wahost_media.errors.MediaTooLargeError` past it. Nothing is left on disk
        when it fails. A bare URL can be neither refreshed nor verified unless ``sha256`` is
        given.
        """
        target = Path(dest)
        is_dir = await asyncio.to_thread(target.is_dir)
        result = await self.fetch(
            media,
            target,
            content_addressed=is_dir,
            url=url,
            sha256=sha256,
            max_bytes=max_bytes,
            mime_type=mime_type,
        )
        return result.path

    async def download_message(
        self, message: Message, dest: str | os.PathLike[str], *, max_bytes: int | None = None
    ) -> Path:
        """Download the media of an inbound media message (image, audio, video, document,
        sticker) to ``dest``, using the URL and SHA-256 of the webhook."""
        obj = getattr(message, message.type, None)
        if obj is None or not hasattr(obj, "sha256"):
            raise MediaError(f"a {message.type!r} message carries no media")
        return await self.download(
            obj.id,
            dest,
            url=obj.url,
            sha256=obj.sha256,
            max_bytes=max_bytes,
            mime_type=obj.mime_type,
        )

    async def fetch(
        self,
        media: str | MediaInfo,
        dest: Path,
        *,
        content_addressed: bool = False,
        url: str | None = None,
        sha256: str | None = None,
        max_bytes: int | None = None,
        mime_type: str | None = None,
    ) -> Downloaded:
        """:meth:`download`, returning the details (size, hash, type) as well."""
        media_id: str | None
        if isinstance(media, MediaInfo):
            media_id, url = media.id, url or media.url
            sha256, mime_type = sha256 or media.sha256, mime_type or media.mime_type
            _check_size(media.file_size, max_bytes)
        elif _is_url(media):
            media_id, url = None, media
        else:
            media_id = media
        refreshed = False
        while True:
            if url is None:
                assert media_id is not None
                info = await self.info(media_id)
                url, sha256 = info.url, sha256 or info.sha256
                mime_type = mime_type or info.mime_type
                _check_size(info.file_size, max_bytes)
            try:
                return await stream_to_file(
                    self.client,
                    url,
                    dest,
                    content_addressed=content_addressed,
                    sha256=sha256,
                    max_bytes=max_bytes,
                    mime_type=mime_type,
                )
            except TokenHostError as exc:
                # A URL that came with the id (a webhook's) names a host that may not get the
                # token: ask Graph once for a fresh one; if that is refused too, it stands.
                if refreshed or media_id is None:
                    raise
                log.warning(
                    "media URL not on a host that may get the access token, fetching a fresh one",
                    media_id=media_id,
                    host=exc.host,
                )
                refreshed, url = True, None
            except GraphError as exc:
                if refreshed or media_id is None or exc.http_status not in REFRESH_STATUSES:
                    raise
                log.info(
                    "media URL refused, fetching a fresh one",
                    media_id=media_id,
                    http_status=exc.http_status,
                )
                refreshed, url = True, None

    # -- Flows media ------------------------------------------------------------------------

    async def download_flow_media(
        self,
        item: Any,
        dest: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        require_https: bool = True,
    ) -> Path:
        """Download and decrypt one file a WhatsApp Flow's PhotoPicker or DocumentPicker sent
        to the endpoint (an item of the picker's value, reference/cloudapi.md §10) and write
        it to ``dest`` (a file, or a directory for a name by content hash); returns the path.

        Downloading (without the Graph token) and decrypting are wahost-flows' own
        (``wahost_flows.media``); :class:`~wahost_media.errors.FlowsNotInstalledError` when
        it is not installed, its ``FlowMediaError`` when a check fails. ``max_bytes`` defaults
        to wahost-flows' limit (a picker allows 25 MiB per file); ``require_https=False`` is
        for tests against a local server.
        """
        from wahost_media.flows import download_flow_media

        options: dict[str, Any] = {"require_https": require_https}
        if max_bytes is not None:
            options["max_bytes"] = max_bytes
        return await download_flow_media(self.host, item, Path(dest), **options)


def for_host(host: Wahost) -> Media:
    """The :class:`Media` of ``host`` (one per host)."""
    return host.slots.setdefault(_MEDIA, lambda: Media(host))
