"""``wahost media upload|download|info|delete`` against the fake Graph API (served from
another thread: the commands run their own event loop)."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner
from wahost_media.cli import media_group

from wahost.cli import cli_group
from wahost.config import config_to_toml
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, TEST_VERIFY_TOKEN
from wahost.testing.fake_graph import FakeGraph

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def write_config(tmp_path: Path, graph: FakeGraph) -> Path:
    path = tmp_path / "wahost.toml"
    data = {
        "whatsapp": {
            "phone_number_id": TEST_PHONE_NUMBER_ID,
            "token": TEST_TOKEN,
            "app_secret": TEST_APP_SECRET,
            "verify_token": TEST_VERIFY_TOKEN,
            "graph_url": graph.url,
        },
        "queue": {"path": str(tmp_path / "wahost.db")},
        "logging": {"level": "warning"},
        "plugins": {"enabled": ["wahost-media"]},
    }
    path.write_text(config_to_toml(data))
    return path


def test_upload_then_download(tmp_path: Path, graph_thread: FakeGraph) -> None:
    config = write_config(tmp_path, graph_thread)
    source = tmp_path / "menu.pdf"
    source.write_bytes(PDF)
    runner = CliRunner()

    uploaded = runner.invoke(media_group, ["upload", "--config", str(config), str(source)])
    assert uploaded.exit_code == 0, uploaded.output
    media_id = uploaded.output.strip()
    held = graph_thread.media[media_id]
    assert (held.data, held.mime_type, held.filename) == (PDF, "application/pdf", "menu.pdf")

    out = tmp_path / "out.pdf"
    downloaded = runner.invoke(
        media_group, ["download", "--config", str(config), media_id, str(out)]
    )
    assert downloaded.exit_code == 0, downloaded.output
    assert downloaded.output.strip() == str(out)
    assert out.read_bytes() == PDF

    into_dir = runner.invoke(
        media_group, ["download", "--config", str(config), media_id, str(tmp_path)]
    )
    assert into_dir.output.strip() == str(tmp_path / f"{hashlib.sha256(PDF).hexdigest()}.pdf")

    info = runner.invoke(media_group, ["info", "--config", str(config), media_id])
    assert json.loads(info.output)["file_size"] == len(PDF)

    deleted = runner.invoke(media_group, ["delete", "--config", str(config), media_id])
    assert deleted.exit_code == 0 and media_id in graph_thread.deleted_media


def test_errors_are_one_line(tmp_path: Path, graph_thread: FakeGraph) -> None:
    config = write_config(tmp_path, graph_thread)
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.truncate(5_000_001)
    runner = CliRunner()
    refused = runner.invoke(media_group, ["upload", "--config", str(config), str(big)])
    assert refused.exit_code == 1
    assert "MediaLimitError" in refused.output and "5 MB" in refused.output
    assert "Traceback" not in refused.output
    assert graph_thread.requests == []
    missing = runner.invoke(
        media_group, ["download", "--config", str(config), "999", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1 and "(100)" in missing.output
    no_config = runner.invoke(media_group, ["info", "--config", str(tmp_path / "none.toml"), "1"])
    assert no_config.exit_code == 1 and "none.toml" in no_config.output


def test_registered_in_the_wahost_command(tmp_path: Path, graph_thread: FakeGraph) -> None:
    if not any(ep.name == "wahost-media" for ep in entry_points(group="wahost")):
        pytest.skip("wahost-media is not installed (pip install -e plugins/wahost-media)")
    config = write_config(tmp_path, graph_thread)
    source = tmp_path / "a.pdf"
    source.write_bytes(PDF)
    result = CliRunner().invoke(
        cli_group(), ["media", "upload", "--config", str(config), str(source)]
    )
    assert result.exit_code == 0, result.output
    assert graph_thread.media[result.output.strip()].data == PDF
