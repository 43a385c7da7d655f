"""Resumable uploads (reference/cloudapi.md §18.6): a file handed to Meta for a handle, which the
business profile's picture (``profile_picture_handle``) and template media examples
(``header_handle``) take.

Two requests: ``POST /<APP_ID>/uploads?file_name&file_length&file_type`` opens a session
(``{"id": "upload:<SESSION_ID>"}``), then ``POST /upload:<SESSION_ID>`` with the bytes and a
``file_offset`` header answers ``{"h": "<handle>"}``. Step 2's header names and auth form come
from pywa, not from Meta's text (UNVERIFIED); the answer is read tolerantly.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wahost.graph_guard import graph_path_id

if TYPE_CHECKING:
    from wahost.graph import GraphClient

#: The file types Meta's resumable upload takes, by file name suffix (§18.6).
FILE_TYPES = {
    ".pdf": "application/pdf",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".mp4": "video/mp4",
}

#: A session id as Meta answers it: ``upload:`` then an opaque id, maybe with a ``?sig=``.
_SESSION = re.compile(r"upload:[A-Za-z0-9_\-=.:+]+(\?[A-Za-z0-9_\-=.&%+]*)?")


async def upload_handle(
    client: GraphClient, app_id: str, data: bytes, *, file_name: str, file_type: str
) -> str:
    """Upload ``data`` and return Meta's handle for it.

    ``app_id`` is the Meta app's id (``[whatsapp] app_id``); ``file_type`` one of
    :data:`FILE_TYPES`' values. Raises ``ValueError`` naming the argument before any request.
    """
    app = graph_path_id(app_id, what="app_id")
    if file_type not in FILE_TYPES.values():
        taken = ", ".join(sorted(set(FILE_TYPES.values())))
        raise ValueError(f"file_type: {file_type!r} is not one Meta takes ({taken})")
    if not data:
        raise ValueError("data: the file is empty")
    if not file_name or "/" in file_name:
        raise ValueError(f"file_name: {file_name!r} must be a plain file name")
    params = {"file_name": file_name, "file_length": str(len(data)), "file_type": file_type}
    opened: Any = await client.request("POST", f"/{app}/uploads", params=params)
    session = opened.get("id") if isinstance(opened, dict) else None
    if not isinstance(session, str) or not _SESSION.fullmatch(session):
        raise ValueError(f"Meta opened no upload session (answered {opened!r})")
    # Not retried blindly: a resumed upload would start from Meta's offset, not from 0.
    stored: Any = await client.request(
        "POST", f"/{session}", content=data, headers={"file_offset": "0"}, retry=False
    )
    handle = stored.get("h") if isinstance(stored, dict) else None
    if not isinstance(handle, str) or not handle:
        raise ValueError(f"Meta gave no handle for the upload (answered {stored!r})")
    return handle


async def upload_file(client: GraphClient, app_id: str, path: Path) -> str:
    """:func:`upload_handle` of a local file, its type from its suffix."""
    file_type = FILE_TYPES.get(path.suffix.lower())
    if file_type is None:
        raise ValueError(
            f"{path}: Meta's resumable upload takes {', '.join(sorted(FILE_TYPES))} files"
        )
    data = await asyncio.to_thread(path.read_bytes)
    return await upload_handle(client, app_id, data, file_name=path.name, file_type=file_type)
