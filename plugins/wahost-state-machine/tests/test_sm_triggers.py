"""Each trigger kind against real decoded messages (Meta's shapes, via wahost's builders)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wahost_state_machine import (
    AnyMessage,
    FlowCompleted,
    MessageType,
    Regex,
    Reply,
    Text,
    When,
    flow_token,
)
from wahost_state_machine.triggers import as_triggers

from wahost.models import decode_message
from wahost.testing.payloads import make_interactive_reply, make_message, make_text


def message(webhook: dict[str, Any]) -> Any:
    item = webhook["entry"][0]["changes"][0]["value"]["messages"][0]
    return decode_message(json.dumps(item).encode())


def match(trigger: Any, webhook: dict[str, Any]) -> Any:
    value = trigger.match(None, message(webhook))
    return asyncio.run(value) if asyncio.iscoroutine(value) else value


def text(body: str) -> dict[str, Any]:
    return make_text(body)


def nfm(response: dict[str, Any] | None) -> dict[str, Any]:
    reply: dict[str, Any] = {"name": "flow", "body": "Sent"}
    if response is not None:
        reply["response_json"] = json.dumps(response)
    return make_message("interactive", {"type": "nfm_reply", "nfm_reply": reply})


IMAGE = make_message("image", {"id": "1", "mime_type": "image/jpeg", "sha256": "x"})
REACTION = make_message("reaction", {"message_id": "wamid.x", "emoji": "\U0001f44d"})


def test_message_type_matches_one_or_several_types() -> None:
    assert match(MessageType("image"), IMAGE) == "image"
    assert match(MessageType("video", "image"), IMAGE) == "image"
    assert match(MessageType("video"), IMAGE) is None
    assert match(MessageType("reaction"), REACTION) == "reaction"
    with pytest.raises(ValueError):
        MessageType()


def test_text_without_values_is_any_text() -> None:
    assert match(Text(), text("anything")) == "anything"
    assert match(Text(), IMAGE) is None


def test_text_is_exact_and_case_sensitive_unless_asked() -> None:
    assert match(Text("yes"), text("yes")) == "yes"
    assert match(Text("yes"), text("  yes\n")) == "  yes\n"  # surrounding spaces ignored
    assert match(Text("yes"), text("Yes")) is None
    assert match(Text("yes"), text("yes please")) is None
    assert match(Text("yes", ignore_case=True), text("YES")) == "YES"
    assert match(Text("straße", ignore_case=True), text("STRASSE")) == "STRASSE"  # casefold
    assert match(Text("yes", "y"), text("y")) == "y"
    assert match(Text("yes", strip=False), text(" yes")) is None


def test_regex_matches_the_whole_text() -> None:
    start = Regex(r"/start")
    assert match(start, text("/start")) is not None
    assert match(start, text("/started")) is None
    assert match(start, text("say /start")) is None
    found = match(Regex(r"(\d+) (\w+)"), text("2 pizzas"))
    assert isinstance(found, re.Match) and found.groups() == ("2", "pizzas")
    assert match(Regex(r"hi", re.IGNORECASE), text("HI")) is not None
    assert match(Regex(re.compile(r"x")), IMAGE) is None
    with pytest.raises(ValueError):
        Regex(re.compile("x"), re.IGNORECASE)


@given(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s))
def test_a_regex_of_a_literal_only_matches_that_exact_text(word: str) -> None:
    trigger = Regex(re.escape(word))
    assert match(trigger, text(word)) is not None
    assert match(trigger, text(word + "x")) is None
    assert match(trigger, text("x" + word)) is None


def test_reply_matches_button_and_list_ids_and_template_payloads() -> None:
    button = make_interactive_reply("yes", "Yes")
    row = make_interactive_reply("row-2", "Second", kind="list_reply")
    template = make_message("button", {"payload": "stop-promos", "text": "Stop"})
    assert match(Reply("yes"), button) == "yes"
    assert match(Reply("no"), button) is None
    assert match(Reply("row-1", "row-2"), row) == "row-2"
    assert match(Reply("stop-promos"), template) == "stop-promos"
    assert match(Reply(), row) == "row-2"  # any reply
    assert match(Reply(), text("yes")) is None
    assert match(Reply(), nfm({"flow_token": "x"})) is None


def test_flow_completed_recognises_its_flow_by_the_token() -> None:
    token = flow_token("survey")
    assert token.startswith("survey:") and token != flow_token("survey")
    done = nfm({"flow_token": token, "rating": "5"})
    assert match(FlowCompleted("survey"), done) == {"flow_token": token, "rating": "5"}
    assert match(FlowCompleted("survey"), nfm({"flow_token": "survey"})) is not None
    assert match(FlowCompleted("survey"), nfm({"flow_token": "surveys:1"})) is None
    assert match(FlowCompleted("signup"), done) is None
    assert match(FlowCompleted(), done) is not None
    assert match(FlowCompleted("survey"), nfm(None)) is None
    assert match(FlowCompleted(), nfm(None)) == {}
    assert match(FlowCompleted(), make_interactive_reply("yes", "Yes")) is None
    for bad in ("", "a:b"):
        with pytest.raises(ValueError):
            FlowCompleted(bad)


def test_the_shipped_nfm_reply_fixture_completes_a_flow() -> None:
    from wahost.testing import load_fixture

    webhook = json.loads(load_fixture("inbound_interactive_nfm_reply.json"))
    response = match(FlowCompleted(), webhook)
    assert response["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."


def test_when_runs_a_plain_or_async_predicate_with_ctx_and_message() -> None:
    seen: list[Any] = []

    def short(ctx: Any, msg: Any) -> bool:
        seen.append(ctx)
        return msg.type == "text" and len(msg.text.body) < 4

    async def is_image(ctx: Any, msg: Any) -> bool:
        return msg.type == "image"

    assert match(When(short), text("hey")) is True
    assert match(When(short), text("hello")) is None
    assert match(When(is_image), IMAGE) is True
    assert match(When(is_image), text("x")) is None
    assert seen == [None, None]


def test_any_message_takes_everything_but_passive_messages() -> None:
    for webhook in (text("x"), IMAGE, make_message("request_welcome", None)):
        assert match(AnyMessage(), webhook) is not None
    assert match(AnyMessage(), REACTION) is None


def test_on_accepts_a_trigger_a_predicate_or_a_list() -> None:
    def predicate(ctx: Any, msg: Any) -> bool:
        return True

    assert [type(t) for t in as_triggers(Text())] == [Text]
    assert [type(t) for t in as_triggers(predicate)] == [When]
    assert [type(t) for t in as_triggers([Text("a"), Reply("a")])] == [Text, Reply]
    with pytest.raises(TypeError, match=r"Text\(\)"):
        as_triggers(Text)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        as_triggers("yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        as_triggers([])
