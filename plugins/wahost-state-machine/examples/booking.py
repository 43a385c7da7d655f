"""A booking bot: ask the name, then the date, then confirm.

Run it with ``[plugins.state_machine] machine = "booking:sm"`` (this directory importable: run
``wahost serve`` from it, or put it on PYTHONPATH).
"""

from __future__ import annotations

import datetime
import re

from wahost_state_machine import StateMachine, Step

from wahost import Context
from wahost import filters as F
from wahost.models import TextMessage
from wahost.outbound import ReplyButton, ReplyButtons

sm = StateMachine(
    "booking",
    initial="start",
    invalid_reply="Sorry, I did not get that.",
)
sm.add_state("start", prompt='Hi! Send "book" to book a table.')
sm.add_state("ask_name", prompt="What name is the booking under?", timeout=600)
sm.add_state(
    "ask_date",
    prompt="Which day? (YYYY-MM-DD)",
    invalid_reply="Please write the day as YYYY-MM-DD, e.g. 2030-05-17.",
    timeout=600,
)

CONFIRM = ReplyButtons("Shall I book it?", [ReplyButton("yes", "Yes"), ReplyButton("no", "No")])


@sm.state("start", F.text("book", ignore_case=True) | F.regex(r"/book"))
async def start(ctx: Context, step: Step) -> str:
    if step.timed_out:
        await ctx.reply("Let's start again.")
    return "ask_name"


@sm.state("ask_name", F.text)
async def got_name(message: TextMessage, ctx: Context) -> str:
    ctx.state.update(name=message.text.body.strip())
    return "ask_date"


@sm.state("ask_date", F.regex(r"\s*(\d{4})-(\d{2})-(\d{2})\s*"))
async def got_date(ctx: Context, match: re.Match[str]) -> str | None:
    year, month, day = (int(part) for part in match.groups())
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        await ctx.reply("That day does not exist.")
        return None  # stay: ask again
    ctx.state.update(date=date.isoformat())
    await ctx.reply(f"{ctx.state.get('name')} on {date:%A %d %B %Y}.")
    await ctx.reply(CONFIRM)
    return "confirm"


@sm.state("confirm", F.reply("yes") | F.text("yes", "y", ignore_case=True))
async def confirmed(ctx: Context) -> str:
    bookings = ctx.state.get("bookings", 0) + 1
    ctx.state.update(bookings=bookings)
    await ctx.reply(f"Booked! See you, {ctx.state.get('name')}.")
    return "start"


@sm.state("confirm", F.reply("no") | F.text("no", "n", ignore_case=True))
async def cancelled(ctx: Context) -> str:
    await ctx.reply("Cancelled.")
    return "start"
