"""A 50 MB download is streamed: the client's peak memory stays far below the file's size.

The fake Graph API runs in a child process, so tracemalloc (which counts every allocation of
this process, all threads included) sees only the client: the 50 MB the server holds and the
copies it makes to answer are not in the figure. Only the download is measured; the host is
started before tracemalloc starts.
"""

from __future__ import annotations

import base64
import hashlib
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import wahost_media

from wahost import Wahost
from wahost.testing import make_config

SIZE = 50 * 1024 * 1024
PEAK_LIMIT = 10 * 1024 * 1024


async def test_50_mb_download_is_streamed(
    tmp_path: Path, graph_process: Callable[[int], dict[str, str]]
) -> None:
    served = graph_process(SIZE)
    config = make_config(tmp_path, {"whatsapp": {"graph_url": served["url"]}})
    async with Wahost(config, plugins=[wahost_media], load_entrypoints=False) as host:
        media = wahost_media.for_host(host)
        dest = tmp_path / "big.mp4"
        started = time.monotonic()
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            path = await media.download(served["media_id"], dest)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - started
    print(f"\n50 MB download: peak {peak / 2**20:.2f} MiB traced, {elapsed:.2f} s")
    assert path.stat().st_size == SIZE
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    assert base64.b64encode(digest.digest()).decode() == served["sha256"]
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes while downloading {SIZE:,}"


def test_the_measure_sees_a_whole_file_in_memory(tmp_path: Path) -> None:
    """The control: reading the file whole shows up in the same measure."""
    path = tmp_path / "f"
    with path.open("wb") as file:
        file.truncate(SIZE)
    tracemalloc.start()
    try:
        data = path.read_bytes()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data) == SIZE
    assert peak >= SIZE
