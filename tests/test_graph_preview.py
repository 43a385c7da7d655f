"""``SentMessage.preview``: what a history shows of a message the bot sent."""

from __future__ import annotations

import json

import pytest

from wahost.graph import PREVIEW_CHARS, preview
from wahost.testing.harness import FIXTURES


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "text", "text": {"body": "Hello\n  there"}}, "Hello there"),
        (
            {"type": "image", "image": {"link": "https://x/cat.jpg", "caption": "A cat"}},
            "[image] A cat",
        ),
        (
            {"type": "document", "document": {"id": "123", "filename": "menu.pdf"}},
            "[document] menu.pdf",
        ),
        (
            {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"}}},
            "Pick",
        ),
        ({"type": "template", "template": {"name": "order_update"}}, "template order_update"),
        ({"type": "reaction", "reaction": {"message_id": "w", "emoji": "👍"}}, "reaction 👍"),
        ({"type": "location", "location": {"latitude": 1.5, "longitude": 2}}, "1.5, 2"),
        ({"type": "contacts", "contacts": [{}, {}]}, "[2 contact(s)]"),
        ({"type": "mystery", "mystery": 3}, ""),
        ({}, ""),
    ],
)
def test_preview_of_each_kind(body: dict[str, object], expected: str) -> None:
    assert preview(body) == expected


def test_a_long_text_is_cut() -> None:
    text = preview({"type": "text", "text": {"body": "x" * 500}})
    assert len(text) == PREVIEW_CHARS and text.endswith("…")


def test_every_send_fixture_has_a_preview_without_error() -> None:
    for path in sorted(FIXTURES.glob("send_request_*.json")):
        body = json.loads(path.read_text())
        assert isinstance(preview(body), str), path.name
