"""Every shipped fixture through a real host: the typed facts a bot author reads.

Each fixture is posted signed to a BotHarness (loopback HTTP → queue → worker) and a
recording plugin keeps what each hook received, so these tests check the decoded models the
way a plugin sees them, not the decoder alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wahost import hookimpl
from wahost.models import Event, Message, Status, TextMessage, WebhookError
from wahost.testing import BotHarness


class Recorder:
    """Keeps every update a hook received, in order."""

    def __init__(self) -> None:
        self.updates: list[Message | Status | Event | WebhookError] = []

    @hookimpl
    async def on_message(self, message: Message) -> bool:
        self.updates.append(message)
        return True

    @hookimpl
    async def on_status(self, status: Status) -> None:
        self.updates.append(status)

    @hookimpl
    async def on_event(self, event: Event) -> None:
        self.updates.append(event)

    @hookimpl
    async def on_webhook_error(self, error: WebhookError) -> None:
        self.updates.append(error)


async def received(tmp_path: Path, *names: str) -> dict[str, list[Any]]:
    """What the recording plugin got for each fixture, posted one at a time."""
    recorder = Recorder()
    seen: dict[str, list[Any]] = {}
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        for name in names:
            assert (await bot.post_fixture(name)).status_code == 200, name
            await bot.idle()
            seen[name] = list(recorder.updates)
            recorder.updates.clear()
    return seen


async def test_group_message_and_group_status_carry_the_group_and_participant(
    tmp_path: Path,
) -> None:
    seen = await received(tmp_path, "meta_groups_messaging.json", "pywa_message_status_group.json")
    [message] = seen["meta_groups_messaging.json"]
    assert isinstance(message, TextMessage)
    assert message.group_id == "<GROUP_ID>" and message.in_group
    assert message.sender == "<GROUP_PARTICIPANT_PHONE_NUMBER>"
    assert message.text.body == "<MESSAGE_BODY>"
    [status] = seen["pywa_message_status_group.json"]
    assert isinstance(status, Status)
    assert status.group_id == "fowefinoewcnw"
    assert status.participant == "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"
    assert status.recipient_participant_user_id == "US.123456"
    assert status.recipient_participant_parent_user_id == "<PARENT_BSUID>"
