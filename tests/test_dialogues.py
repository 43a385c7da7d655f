"""Dialogues (``await ctx.ask(...)``) through the real path: signed webhooks → worker → router →
the fake Graph API, with the journal in a real SQLite file.

The crash and multi-worker guarantees are in ``test_dialogues_crash.py`` and the Redis
plugin's ``test_redis_dialogues.py``.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from wahost import (
    AskTimeout,
    CallbackData,
    Context,
    ConversationCancelled,
    Message,
    Router,
    hookimpl,
)
from wahost import filters as F
from wahost.dialogues.engine import waiting
from wahost.dialogues.journal import DEADLINES, NAMESPACE
from wahost.outbound import ReplyButton, ReplyButtons
from wahost.testing import BotHarness, FakeGraph
from wahost.testing.payloads import make_interactive_reply, make_status, make_text

USER = "16505551234"
OTHER = "16505550000"
FAST = {"dialogues": {"timer_interval": 0.05}}


def texts(graph: FakeGraph, user: str = USER) -> list[str]:
    """What the bot sent to ``user``, as text (a button message: its body)."""
    shown = []
    for sent in graph.messages_to(user):
        if sent["type"] == "text":
            shown.append(sent.text)
        else:
            shown.append(sent.message.interactive.body)
    return shown


class Chat:
    """A user talking to a bot under test: each line is posted, then the bot is left idle."""

    def __init__(self, bot: BotHarness, user: str = USER) -> None:
        self.bot = bot
        self.user = user

    async def say(self, *lines: str) -> None:
        for line in lines:
            response = await self.bot.post(make_text(line, sender=self.user))
            assert response.status_code == 200
            await self.bot.idle()

    async def press(self, data: CallbackData | str, title: str = "a button") -> None:
        reply_id = data if isinstance(data, str) else data.pack()
        await self.bot.post(make_interactive_reply(reply_id, title, sender=self.user))
        await self.bot.idle()


def signup_router() -> Router:
    """The issue's example, with a catch-all after it."""
    router = Router(name="signup")

    @router.message(F.command("signup"))
    async def signup(message: Message, ctx: Context) -> None:
        name = await ctx.ask("What's your name?", F.text, timeout=600)
        age = await ctx.ask(
            f"Hi {name.text.body}! How old are you?",  # type: ignore[attr-defined]
            F.regex(r"^\d{1,3}$"),
            retry="Please send your age as a number.",
        )
        await ctx.reply(f"Welcome {name.text.body} ({age.text.body})")  # type: ignore[attr-defined]

    @router.message()
    async def fallback(ctx: Context) -> None:
        await ctx.reply("menu")

    return router


async def journal_of(bot: BotHarness, user: str = USER) -> bytes | None:
    from wahost.testing import TEST_PHONE_NUMBER_ID

    return await bot.host.state.kv_get(NAMESPACE, f"{TEST_PHONE_NUMBER_ID}:{user}")


# -- the issue's example ---------------------------------------------------------------------------


async def test_the_signup_dialogue_of_the_issue_end_to_end(tmp_path: Path) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[signup_router()], graph=graph) as bot,
    ):
        chat = Chat(bot)
        await chat.say("/signup")
        assert texts(graph) == ["What's your name?"]
        assert await journal_of(bot) is not None
        await chat.say("Ann")
        assert texts(graph)[-1] == "Hi Ann! How old are you?"
        await chat.say("forty-two")  # not an answer: retry, and the dialogue keeps waiting
        assert texts(graph)[-1] == "Please send your age as a number."
        await chat.say("42")
        await chat.say("hello")  # the conversation is free again: the router has it
    assert texts(graph) == [
        "What's your name?",
        "Hi Ann! How old are you?",
        "Please send your age as a number.",
        "Welcome Ann (42)",
        "menu",
    ]


async def test_conversations_wait_independently_and_the_journal_goes_when_it_ends(
    tmp_path: Path,
) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[signup_router()], graph=graph) as bot,
    ):
        ann, bob = Chat(bot, USER), Chat(bot, OTHER)
        await ann.say("/signup")
        await bob.say("/signup", "Bob")
        await ann.say("Ann", "30")
        assert await journal_of(bot, USER) is None
        assert await journal_of(bot, OTHER) is not None
        await bob.say("25")
        assert await journal_of(bot, OTHER) is None
        assert await bot.host.state.kv_scan(DEADLINES) == []  # answered: no timeout left
    assert texts(graph, USER)[-1] == "Welcome Ann (30)"
    assert texts(graph, OTHER)[-1] == "Welcome Bob (25)"


async def test_no_coroutine_is_held_while_a_conversation_waits(tmp_path: Path) -> None:
    router = Router(name="held")
    frames: list[weakref.ref[Any]] = []

    class Marker:
        pass

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        marker = Marker()  # lives in the handler's frame as long as the coroutine does
        frames.append(weakref.ref(marker))
        await ctx.ask("Yes?", F.text)
        await ctx.reply(f"got it {marker is not None}")

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        await Chat(bot).say("/go")
        gc.collect()
        assert frames and all(ref() is None for ref in frames), "the handler's frame is alive"
        handlers = [t for t in asyncio.all_tasks() if "go" in t.get_coro().__qualname__]
        assert handlers == []
        await Chat(bot).say("yes")
    assert texts(graph) == ["Yes?", "got it True"]


# -- answers that do not match ---------------------------------------------------------------------


async def test_without_retry_a_non_answer_goes_to_the_routers_and_the_dialogue_keeps_waiting(
    tmp_path: Path,
) -> None:
    router = Router(name="photo")

    @router.message(F.command("photo"))
    async def photo(ctx: Context) -> None:
        picture = await ctx.ask("Send a photo", F.image)
        await ctx.reply(f"thanks for {picture.type}")

    @router.message()
    async def fallback(message: Message, ctx: Context) -> None:
        await ctx.reply(f"router: {message.text.body}")  # type: ignore[attr-defined]

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        await Chat(bot).say("/photo", "hello")
        assert await journal_of(bot) is not None
        await bot.post(_image(USER))
        await bot.idle()
    assert texts(graph) == ["Send a photo", "router: hello", "thanks for image"]


def _image(user: str) -> dict[str, Any]:
    from wahost.testing.payloads import make_message

    return make_message("image", {"id": "1234", "mime_type": "image/jpeg"}, sender=user)


# -- timeouts -----------------------------------------------------------------------------------


def timeout_router(calls: list[str]) -> Router:
    router = Router(name="slow")

    @router.message(F.command("quiz"))
    async def quiz(ctx: Context) -> None:
        try:
            answer = await ctx.ask("2 + 2?", F.text, timeout=0.3)
        except AskTimeout as exc:
            calls.append(f"timeout at step {exc.step}")
            await ctx.reply("Too slow!")
            return
        await ctx.reply(f"You said {answer.text.body}")  # type: ignore[attr-defined]

    @router.message()
    async def fallback(ctx: Context) -> None:
        await ctx.reply("menu")

    return router


async def test_a_timeout_raises_ask_timeout_in_the_dialogue(tmp_path: Path) -> None:
    calls: list[str] = []
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[timeout_router(calls)], graph=graph, config=FAST) as bot,
    ):
        await Chat(bot).say("/quiz")
        await graph.wait_for(2, timeout=5)
        await bot.idle()
        assert calls == ["timeout at step 0"]
        assert await journal_of(bot) is None
        assert await bot.host.state.kv_scan(DEADLINES) == []
        await Chat(bot).say("4")  # too late: the conversation is free
    assert texts(graph) == ["2 + 2?", "Too slow!", "menu"]


async def test_an_answer_in_time_cancels_the_timeout(tmp_path: Path) -> None:
    calls: list[str] = []
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[timeout_router(calls)], graph=graph, config=FAST) as bot,
    ):
        await Chat(bot).say("/quiz", "4")
        await asyncio.sleep(0.6)
        await bot.idle()
    assert calls == []
    assert texts(graph) == ["2 + 2?", "You said 4"]


async def test_a_timeout_comes_although_the_host_that_asked_stopped(tmp_path: Path) -> None:
    calls: list[str] = []
    async with FakeGraph() as graph:
        async with BotHarness(
            tmp_path, plugins=[timeout_router(calls)], graph=graph, config=FAST
        ) as bot:
            await Chat(bot).say("/quiz")
        await asyncio.sleep(0.5)  # the deadline passes while no host runs
        assert calls == []
        async with BotHarness(
            tmp_path, plugins=[timeout_router(calls)], graph=graph, config=FAST
        ) as bot:
            await graph.wait_for(2, timeout=5)
            await bot.idle()
    assert calls == ["timeout at step 0"]
    assert texts(graph) == ["2 + 2?", "Too slow!"]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_dialogues_and_timeouts_on_both_builtin_backends(
    tmp_path: Path, backend: str
) -> None:
    calls: list[str] = []
    config = {**FAST, "queue": {"backend": backend}, "state": {"backend": backend}}
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[timeout_router(calls)], graph=graph, config=config) as bot,
    ):
        await Chat(bot, OTHER).say("/quiz")
        await Chat(bot).say("/quiz", "4")
        await graph.wait_for(4, timeout=5)
        await bot.idle()
        assert await bot.host.state.kv_scan(DEADLINES) == []
        assert await bot.host.state.kv_scan(NAMESPACE) == []
    assert calls == ["timeout at step 0"]
    assert texts(graph, OTHER) == ["2 + 2?", "Too slow!"]
    assert texts(graph) == ["2 + 2?", "You said 4"]


async def test_an_uncaught_timeout_ends_the_dialogue(tmp_path: Path) -> None:
    router = Router(name="uncaught")

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        await ctx.ask("Quick!", F.text, timeout=0.2)
        await ctx.reply("never")

    @router.message()
    async def fallback(ctx: Context) -> None:
        await ctx.reply("menu")

    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[router], graph=graph, config=FAST) as bot,
    ):
        with capture_logs() as logs:
            await Chat(bot).say("/go")
            deadline = time.monotonic() + 5
            while await journal_of(bot) is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await bot.idle()
        await Chat(bot).say("hi")
    assert texts(graph) == ["Quick!", "menu"]
    ended = [e for e in logs if e["event"] == "dialogue ended"]
    assert ended and "no answer to step 0" in ended[0]["reason"]


# -- cancel ---------------------------------------------------------------------------------------


def cancel_router() -> Router:
    router = Router(name="booking")

    @router.message(F.command("book"))
    async def book(ctx: Context) -> None:
        try:
            day = await ctx.ask("Which day?", F.text)
            await ctx.ask(f"{day.text.body} it is. At what time?", F.text)  # type: ignore[attr-defined]
        except ConversationCancelled as exc:
            await ctx.reply(f"Cancelled at step {exc.step}.")
            return
        await ctx.reply("Booked.")

    @router.message()
    async def fallback(message: Message, ctx: Context) -> None:
        await ctx.reply(f"router: {message.text.body}")  # type: ignore[attr-defined]

    return router


async def test_the_cancel_command_raises_conversation_cancelled(tmp_path: Path) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[cancel_router()], graph=graph) as bot,
    ):
        await Chat(bot).say("/book", "Monday", " /CANCEL ", "/cancel")
    assert texts(graph) == [
        "Which day?",
        "Monday it is. At what time?",
        "Cancelled at step 1.",
        "router: /cancel",  # no dialogue waits any more: an ordinary message
    ]


async def test_the_cancel_command_is_configurable(tmp_path: Path) -> None:
    config = {"dialogues": {"cancel_command": "stop"}}
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[cancel_router()], graph=graph, config=config) as bot,
    ):
        await Chat(bot).say("/book", "/cancel", "Stop")
    assert texts(graph) == ["Which day?", "/cancel it is. At what time?", "Cancelled at step 1."]


# -- errors, divergence, versions ------------------------------------------------------------------


async def test_an_exception_ends_the_dialogue_logged_with_the_routers_name(tmp_path: Path) -> None:
    router = Router(name="broken")
    reported: list[tuple[str, str]] = []

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        answer = await ctx.ask("Number?", F.text)
        await ctx.reply(f"half is {10 / int(answer.text.body)}")  # type: ignore[attr-defined]

    @router.message()
    async def fallback(ctx: Context) -> None:
        await ctx.reply("menu")

    class Watcher:
        __name__ = "watcher"

        @hookimpl
        def on_plugin_error(self, plugin: str, exc: BaseException) -> None:
            reported.append((plugin, type(exc).__name__))

    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[Watcher(), router], graph=graph) as bot,
    ):
        with capture_logs() as logs:
            await Chat(bot).say("/go", "0")
        stats = await bot.host.queue.stats()
        assert stats.dead == 0 and stats.waiting_retry == 0  # acked: it would only fail again
        assert await journal_of(bot) is None
        await Chat(bot).say("5")  # free: the router has it
    assert reported == [("broken", "ZeroDivisionError")]
    errors = [e for e in logs if e["event"] == "plugin raised"]
    assert errors[0]["plugin"] == "broken"
    assert texts(graph) == ["Number?", "menu"]


PROMPTS = {"first": "What's your name?"}


def diverging_router() -> Router:
    router = Router(name="changing")

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        name = await ctx.ask(PROMPTS["first"], F.text)
        await ctx.ask(f"And your city, {name.text.body}?", F.text)  # type: ignore[attr-defined]
        await ctx.reply("done")

    @router.message()
    async def fallback(message: Message, ctx: Context) -> None:
        await ctx.reply(f"router: {message.text.body}")  # type: ignore[attr-defined]

    return router


async def test_a_replay_that_diverges_ends_the_dialogue_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[diverging_router()], graph=graph) as bot,
    ):
        await Chat(bot).say("/go")
        monkeypatch.setitem(PROMPTS, "first", "Your name, please?")  # the code changed
        with capture_logs() as logs:
            await Chat(bot).say("Ann")
        assert await journal_of(bot) is None
    # Nothing of the dialogue was sent again or further; the answer went to the router.
    assert texts(graph) == ["What's your name?", "router: Ann"]
    [diverged] = [e for e in logs if e["event"] == "dialogue diverged from its journal"]
    assert diverged["plugin"] == "changing"
    assert "send 0 is not the one its journal recorded" in diverged["error"]


async def test_a_changed_version_ends_the_dialogues_started_under_the_old_one(
    tmp_path: Path,
) -> None:
    def versioned(version: str, prompt: str) -> Router:
        router = Router(name="versioned")

        @router.message(F.command("go"), version=version)
        async def go(ctx: Context) -> None:
            answer = await ctx.ask(prompt, F.text)
            await ctx.reply(f"v{version}: {answer.text.body}")  # type: ignore[attr-defined]

        @router.message()
        async def fallback(message: Message, ctx: Context) -> None:
            await ctx.reply(f"router: {message.text.body}")  # type: ignore[attr-defined]

        return router

    async with FakeGraph() as graph:
        async with BotHarness(tmp_path, plugins=[versioned("1", "Old?")], graph=graph) as bot:
            await Chat(bot).say("/go")
        async with BotHarness(tmp_path, plugins=[versioned("2", "New?")], graph=graph) as bot:
            with capture_logs() as logs:
                await Chat(bot).say("answer")
            assert await journal_of(bot) is None
            await Chat(bot).say("/go", "answer")
    assert texts(graph) == ["Old?", "router: answer", "New?", "v2: answer"]
    [ended] = [e for e in logs if e["event"] == "dialogue ended"]
    assert "version is '2', it started under '1'" in ended["reason"]
    assert not [e for e in logs if e["event"] == "dialogue diverged from its journal"]


async def test_a_new_dialogue_replaces_the_one_waiting(tmp_path: Path) -> None:
    router = Router(name="menus")

    @router.message(F.command("a"))
    async def first(ctx: Context) -> None:
        answer = await ctx.ask("A?", F.regex(r"^\d+$"), timeout=600)
        await ctx.reply(f"a={answer.text.body}")  # type: ignore[attr-defined]

    @router.message(F.command("b"))
    async def second(ctx: Context) -> None:
        answer = await ctx.ask("B?", F.text)
        await ctx.reply(f"b={answer.text.body}")  # type: ignore[attr-defined]

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        with capture_logs() as logs:
            await Chat(bot).say("/a", "/b")  # "/b" is no answer to A (no retry): the router's
        assert await bot.host.state.kv_scan(DEADLINES) == []  # A's timeout went with it
        await Chat(bot).say("7")
    assert texts(graph) == ["A?", "B?", "b=7"]
    assert [e["replaced"] for e in logs if e["event"].startswith("a new dialogue")] == [
        f"menus:{__name__}.test_a_new_dialogue_replaces_the_one_waiting.<locals>.first"
    ]


# -- what the code between asks may do -----------------------------------------------------------


async def test_sends_and_state_between_asks_happen_once(tmp_path: Path) -> None:
    router = Router(name="steps")
    effects: list[str] = []

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        await ctx.reply("Let's start.")  # before the first ask: journaled with it
        effects.append(f"start replaying={ctx.replaying}")
        first = await ctx.ask("One?", F.text)
        if not ctx.replaying:
            effects.append("after one")
        ctx.state.update(one=first.text.body)  # type: ignore[attr-defined]
        await ctx.reply("Noted.")
        second = await ctx.ask("Two?", F.text)
        ctx.state.update(two=second.text.body)  # type: ignore[attr-defined]
        await ctx.reply(f"{ctx.state.get('one')} {ctx.state.get('two')}")

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        await Chat(bot).say("/go", "a", "b")
        from wahost.testing import TEST_PHONE_NUMBER_ID

        state = await bot.host.state.get(f"{TEST_PHONE_NUMBER_ID}:{USER}")
    assert texts(graph) == ["Let's start.", "One?", "Noted.", "Two?", "a b"]
    assert state is not None and state.data == {"one": "a", "two": "b"}
    assert effects == [
        "start replaying=False",
        "start replaying=True",
        "after one",
        "start replaying=True",
    ]


# -- ask_choice and wait_status -------------------------------------------------------------------


class Size(CallbackData, prefix="size"):
    name: str


class Other(CallbackData, prefix="other"):
    value: int


async def test_ask_choice_returns_the_decoded_value_and_other_presses_are_no_answer(
    tmp_path: Path,
) -> None:
    router = Router(name="coffee")

    @router.message(F.command("coffee"))
    async def coffee(ctx: Context) -> None:
        buttons = [ReplyButton(Size(name=n), n.title()) for n in ("small", "large")]
        size = await ctx.ask_choice(
            ReplyButtons("Which size?", buttons), Size, retry="Pick a size, please."
        )
        await ctx.reply(f"A {size.name} coffee ({type(size).__name__})")

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        chat = Chat(bot)
        await chat.say("/coffee")
        await chat.press(Other(value=1))
        await chat.press("size:broken")  # does not decode: no answer either
        await chat.press(Size(name="large"), "Large")
    assert texts(graph) == [
        "Which size?",
        "Pick a size, please.",
        "Pick a size, please.",
        "A large coffee (Size)",
    ]


async def test_wait_status_returns_once_the_message_is_read(tmp_path: Path) -> None:
    router = Router(name="receipt")
    seen: list[str] = []

    @router.message(F.command("terms"))
    async def terms(ctx: Context) -> None:
        sent = await ctx.reply("Please read our terms.")
        status = await ctx.wait_status(sent, "read", timeout=30)
        seen.append(status.status_raw)
        await ctx.reply("Thanks for reading them.")

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        graph.send_statuses(bot.webhook_url, statuses=("sent", "delivered"))
        await Chat(bot).say("/terms")
        await graph.wait_for(1)
        await asyncio.sleep(0.3)
        await bot.idle()
        assert seen == []  # sent and delivered are not "read"
        await bot.post(make_status(graph.sent[0].wamid, "read", recipient=USER))
        await graph.wait_for(2)
        await bot.idle()
    assert seen == ["read"]
    assert texts(graph) == ["Please read our terms.", "Thanks for reading them."]


async def test_wait_status_for_a_message_already_read_returns_at_once(tmp_path: Path) -> None:
    router = Router(name="earlier")

    @router.message(F.command("go"))
    async def go(ctx: Context) -> None:
        sent = await ctx.reply("Look at this.")
        await ctx.ask("Ready?", F.text)
        status = await ctx.wait_status(sent, "delivered")  # delivered while we waited
        await ctx.reply(f"it was {status.status_raw}")

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        graph.send_statuses(bot.webhook_url, statuses=("sent", "delivered", "read"))
        await Chat(bot).say("/go")
        await graph.wait_for(2)
        deadline = time.monotonic() + 5
        while graph.statuses_posted < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await bot.idle()
        await Chat(bot).say("yes")
        await graph.wait_for(3)
    assert texts(graph) == ["Look at this.", "Ready?", "it was read"]


# -- where ask works ------------------------------------------------------------------------------


async def test_ask_outside_a_router_handler_says_where_it_works(tmp_path: Path) -> None:
    errors: list[str] = []

    class Plain:
        __name__ = "plain"

        @hookimpl
        async def on_message(self, ctx: Context) -> bool:
            try:
                await ctx.ask("Hello?")
            except RuntimeError as exc:
                errors.append(str(exc))
            return True

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[Plain()], graph=graph) as bot:
        await Chat(bot).say("hi")
    assert errors and "inside a Router's message or status handler" in errors[0]
    assert graph.sent == []


async def test_the_same_function_registered_twice_keeps_its_own_filters(tmp_path: Path) -> None:
    router = Router(name="twice")

    async def order(ctx: Context, command: Any = None, match: Any = None) -> None:
        what = command.name if command is not None else match.group(1)
        answer = await ctx.ask(f"How many {what}?", F.text)
        await ctx.reply(f"{answer.text.body} {what}")  # type: ignore[attr-defined]

    router.message(F.command("tea"))(order)
    router.message(F.regex(r"^give (\w+)$"))(order)
    names = [h.dialogue_name for h in router.handlers]
    assert names[0] != names[1]

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
        await Chat(bot).say("give cakes", "3")
    assert texts(graph) == ["How many cakes?", "3 cakes"]


async def test_waiting_tells_what_a_conversation_waits_for(tmp_path: Path) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[signup_router()], graph=graph) as bot,
    ):
        from wahost.testing import TEST_PHONE_NUMBER_ID

        conversation = f"{TEST_PHONE_NUMBER_ID}:{USER}"
        assert await waiting(bot.host.state, conversation) is None
        await Chat(bot).say("/signup", "Ann")
        found = await waiting(bot.host.state, conversation)
    assert found is not None
    assert (found.handler, found.step, found.kind) == ("signup:" + _qualname("signup"), 2, "ask")


def _qualname(function: str) -> str:
    return f"{__name__}.signup_router.<locals>.{function}"
