"""The booking bot of examples/booking.py written with the deprecated API (on= triggers,
handlers (ctx, message)), kept to show that it still works, with its warnings.
"""

from __future__ import annotations

import datetime
from typing import Any

from wahost_state_machine import Regex, Reply, StateMachine, Text, current_step, timed_out

from wahost import Context
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


@sm.state("start", on=[Text("book", ignore_case=True), Regex(r"/book")])
async def start(ctx: Context, message: Any) -> str:
    if timed_out(ctx):
        await ctx.reply("Let's start again.")
    return "ask_name"


@sm.state("ask_name", on=Text())
async def got_name(ctx: Context, message: Any) -> str:
    ctx.state.update(name=message.text.body.strip())
    return "ask_date"


@sm.state("ask_date", on=Regex(r"\s*(\d{4})-(\d{2})-(\d{2})\s*"))
async def got_date(ctx: Context, message: Any) -> str | None:
    step = current_step(ctx)
    assert step is not None
    year, month, day = (int(part) for part in step.match.groups())
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        await ctx.reply("That day does not exist.")
        return None  # stay: ask again
    ctx.state.update(date=date.isoformat())
    await ctx.reply(f"{ctx.state.get('name')} on {date:%A %d %B %Y}.")
    await ctx.reply(CONFIRM)
    return "confirm"


@sm.state("confirm", on=[Reply("yes"), Text("yes", "y", ignore_case=True)])
async def confirmed(ctx: Context, message: Any) -> str:
    bookings = ctx.state.get("bookings", 0) + 1
    ctx.state.update(bookings=bookings)
    await ctx.reply(f"Booked! See you, {ctx.state.get('name')}.")
    return "start"


@sm.state("confirm", on=[Reply("no"), Text("no", "n", ignore_case=True)])
async def cancelled(ctx: Context, message: Any) -> str:
    await ctx.reply("Cancelled.")
    return "start"
