"""A lone UTF-16 surrogate escape ("\\ud800") in one update fails that update alone: the other
updates of its signed webhook are stored and handled, on a real server with a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from wahost import hookimpl
from wahost.models import DecodeError, Status, TextMessage, decode_unit
from wahost.testing import BotHarness
from wahost.testing.payloads import make_status, make_text, make_webhook, signed_webhook
from wahost.units import split


class Recorder:
    """A plugin recording the text of every message and the id of every status."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.statuses: list[str] = []

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.texts.append(message.text.body)
        return True

    @hookimpl
    async def on_status(self, status: Any) -> None:
        self.statuses.append(status.id)


def batch(broken: str = "bad \ud800 text") -> tuple[dict[str, Any], bytes]:
    """Three users' texts and a status in one webhook, the second text holding ``broken``."""
    payload = make_webhook(
        make_text("first", sender="15550000001"),
        make_text(broken, sender="15550000002"),
        make_text("third", sender="15550000003"),
        make_status("wamid.sent-before", "delivered"),
    )
    body, _ = signed_webhook(payload)
    return payload, body


def test_the_body_holds_a_lone_surrogate_escape_msgspec_refuses() -> None:
    _, body = batch()
    assert b"bad \\ud800 text" in body
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)


def test_only_the_unit_with_the_lone_surrogate_fails_to_decode() -> None:
    payload, body = batch()
    units = split(body)
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    assert [unit.key for unit in units] == [
        *(f"msg:{message['id']}" for message in messages),
        "status:wamid.sent-before:delivered",
    ]
    broken = units[1]
    # Its key and lane are the message's own; its body holds the item as Meta sent it.
    assert broken.conversation == f"{broken.phone_number_id}:15550000002"
    assert b'"body":"bad \\ud800 text"' in broken.body
    with pytest.raises(DecodeError, match=r"surrogate|hex escape"):
        decode_unit(broken)
    first, third, status = (decode_unit(unit) for unit in (units[0], units[2], units[3]))
    assert isinstance(first, TextMessage) and first.text.body == "first"
    assert isinstance(third, TextMessage) and third.text.body == "third"
    assert isinstance(status, Status) and status.id == "wamid.sent-before"


@pytest.mark.parametrize(
    "text",
    [
        "\udc00 a lone low surrogate",
        "\ud83d\ud83d two highs",
        "\ud83d at the end\ud800",
    ],
)
def test_every_kind_of_lone_surrogate_fails_only_its_unit(text: str) -> None:
    _, body = batch(text)
    units = split(body)
    assert len(units) == 4
    failing = []
    for unit in units:
        try:
            decode_unit(unit)
        except DecodeError:
            failing.append(unit.user)
    assert failing == ["15550000002"]


def test_pairs_and_escaped_backslashes_are_not_lone_surrogates() -> None:
    # "\\ud800" is the text \ud800 and "\ud83d\ude00" a valid pair: the body decodes as is.
    _, body = batch("a backslash \\ud800 and 😀")
    assert b"\\\\ud800" in body and b"\\ud83d\\ude00" in body
    texts = [update.text.body for update in map(decode_unit, split(body)[:3])]  # type: ignore[union-attr]
    assert texts == ["first", "a backslash \\ud800 and 😀", "third"]


def test_unreadable_routing_fields_key_the_unit_by_its_bytes_in_a_lane_of_its_own() -> None:
    payload, _ = batch("fine")
    value = payload["entry"][0]["changes"][0]["value"]
    message = value["messages"][1]
    del message["id"]
    message["from"] = "1555\ud800"
    value["contacts"] = []
    body = json.dumps(payload).encode()
    units = split(body)
    assert len(units) == 4
    broken = units[1]
    assert broken.key.startswith("msg:sha256:") and broken.user == ""
    assert broken.conversation == broken.key
    assert split(body)[1].key == broken.key  # Meta's retry is deduplicated
    assert [unit.user for unit in units[::2]] == ["15550000001", "15550000003"]


def test_a_lone_surrogate_in_the_envelope_itself_still_fails_the_body() -> None:
    payload, _ = batch("fine")
    payload["entry"][0]["id"] = "1022\ud800"
    with pytest.raises(DecodeError, match="not a webhook envelope"):
        split(json.dumps(payload).encode())


async def test_a_signed_batch_with_a_lone_surrogate_handles_every_other_update(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    payload, body = batch()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        assert bot.http is not None
        _, headers = signed_webhook(body)
        response = await bot.http.post(bot.webhook_url, content=body, headers=headers)
        assert response.status_code == 200
        await bot.idle()
        assert recorder.texts == ["first", "third"]
        assert recorder.statuses == ["wamid.sent-before"]
        assert await bot.host.queue.list_quarantine() == []
        dead = await bot.host.queue.list_dead()
        broken = payload["entry"][0]["changes"][0]["value"]["messages"][1]["id"]
        assert [item.unit.key for item in dead] == [f"msg:{broken}"]
        assert "undecodable unit" in dead[0].error
        # Meta's retry of the same body is deduplicated, the broken unit included.
        response = await bot.http.post(bot.webhook_url, content=body, headers=headers)
        assert response.status_code == 200
        await bot.idle()
        assert recorder.texts == ["first", "third"]
        assert len(await bot.host.queue.list_dead()) == 1
