"""The conversation survives a restart (SQLite) and a burst from one user walks in order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import wahost_state_machine
from wahost_state_machine import BOOKKEEPING, Regex, StateMachine, Text, current_step

from wahost import Context
from wahost.testing import TEST_PHONE_NUMBER_ID
from wahost.testing.payloads import make_text, make_webhook

USER = "16505551234"
KEY = f"{TEST_PHONE_NUMBER_ID}:{USER}"


@pytest.fixture(autouse=True)
def _old_api_warns() -> Iterator[None]:
    """Every test here defines machines with the deprecated API (``on=`` triggers, handlers
    ``(ctx, message)``): it still works, and warns with the rewrite."""
    with pytest.warns(DeprecationWarning, match="deprecated state machine API: @sm.state"):
        yield


def signup() -> StateMachine:
    sm = StateMachine("signup", initial="start")
    sm.add_state("ask_name", prompt="Your name?")
    sm.add_state("ask_city", prompt="Your city?")
    sm.add_state("done")

    @sm.state("start", on=Text("join", ignore_case=True))
    async def join(ctx: Context, message: Any) -> str:
        return "ask_name"

    @sm.state("ask_name", on=Text())
    async def name(ctx: Context, message: Any) -> str:
        ctx.state.update(name=message.text.body)
        return "ask_city"

    @sm.state("ask_city", on=Text())
    async def city(ctx: Context, message: Any) -> str:
        await ctx.reply(f"{ctx.state.get('name')} from {message.text.body}: welcome!")
        return "done"

    return sm


async def test_the_conversation_survives_a_restart_of_the_app(wahost_app) -> None:
    async with wahost_app(plugins=[wahost_state_machine, signup()]) as bot:
        assert bot.config.state.backend == "sqlite"
        await bot.post(make_text("join"))
        await bot.post(make_text("Ana"))
        await bot.idle()
        before = await bot.host.state.get(KEY)
    assert before.name == "ask_city"

    # A new host and worker on the same SQLite file, with a freshly defined machine.
    async with wahost_app(plugins=[wahost_state_machine, signup()]) as bot:
        restored = await bot.host.state.get(KEY)
        await bot.post(make_text("Lisbon"))
        await bot.idle()
        after = await bot.host.state.get(KEY)
    assert restored == before
    assert after.name == "done" and after.data["name"] == "Ana"
    assert after.data[BOOKKEEPING]["machine"] == "signup"
    assert [m.text for m in bot.graph.sent] == [
        "Your name?",
        "Your city?",
        "Ana from Lisbon: welcome!",
    ]


def counter(steps: int) -> StateMachine:
    """``s0 → s1 → … → s<steps>``, one step per message, recording what each step saw."""
    sm = StateMachine("counter", initial="s0")

    async def advance(ctx: Context, message: Any) -> str:
        current = current_step(ctx)
        assert current is not None
        walked = ctx.state.get("walked", [])
        ctx.state.update(walked=[*walked, [current.state, message.text.body]])
        await asyncio.sleep(0.001)  # give a concurrent handler the chance to interleave
        return f"s{int(current.state.removeprefix('s')) + 1}"

    for n in range(steps):
        sm.state(f"s{n}", on=Regex(r"m\d+"))(advance)
    sm.add_state(f"s{steps}")
    return sm


async def test_twenty_concurrent_messages_from_one_user_walk_the_machine_in_order(
    wahost_app,
) -> None:
    bodies = [f"m{i}" for i in range(20)]
    async with wahost_app(plugins=[wahost_state_machine, counter(20)]) as bot:
        responses = await asyncio.gather(*(bot.post(make_text(body)) for body in bodies))
        assert {r.status_code for r in responses} == {200}
        await bot.idle()
        state = await bot.host.state.get(KEY)
    walked = state.data["walked"]
    assert state.name == "s20"  # no lost transition
    assert [seen_in for seen_in, _ in walked] == [f"s{n}" for n in range(20)]
    assert sorted(body for _, body in walked) == sorted(bodies)  # each message exactly once


async def test_a_batch_of_twenty_messages_is_walked_in_arrival_order(wahost_app) -> None:
    bodies = [f"m{i}" for i in range(20)]
    async with wahost_app(plugins=[wahost_state_machine, counter(20)]) as bot:
        await bot.post(make_webhook(*(make_text(body) for body in bodies)))
        await bot.idle()
        state = await bot.host.state.get(KEY)
    assert state.name == "s20"
    assert [body for _, body in state.data["walked"]] == bodies
