"""A restaurant booking bot: a state machine (wahost-state-machine) around a WhatsApp Flow.

    start ──"book"──► in_flow ──Flow completed──► confirm ──"Confirm"──► start (booked)
      ▲                  │ "cancel"                  │ "Change"
      └──────────────────┘                           └──► in_flow (the Flow again)

The Flow (``flow.json``, published in Meta's Flow Builder under :data:`FLOW_NAME`) collects
the day, time, party size and name and completes with them; the answer arrives as an
``interactive`` ``nfm_reply`` message whose ``response_json`` carries the ``flow_token`` the
bot sent. ``flow_token("booking")`` marks it so that ``F.flow_completed("booking")`` recognises it.

Configuration::

    [plugins.state_machine]
    machine = "booking_bot:sm"     # this directory importable (the working directory is)
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from wahost_state_machine import StateMachine, flow_token

from wahost import Context
from wahost import filters as F
from wahost.outbound import FlowMessage, ReplyButton, ReplyButtons

FLOW_NAME = "table_booking"
MAX_PARTY = 12

sm = StateMachine("restaurant", initial="start", invalid_reply='Send "book" to book a table.')
sm.add_state("start", prompt='Welcome to Trattoria Esempio! Send "book" to book a table.')
sm.add_state(
    "in_flow",
    invalid_reply='Please fill in the booking form above, or send "cancel".',
    timeout=3600,  # a form left open for an hour: start again
)
sm.add_state("confirm", invalid_reply="Please tap Confirm or Change.")


def booking_form() -> FlowMessage:
    """The message that opens the Flow, with a fresh token naming it."""
    return FlowMessage(
        flow_cta="Book a table",
        body="Choose the day, the time and how many you are.",
        flow_name=FLOW_NAME,
        flow_token=flow_token("booking"),
        screen="BOOKING",
        data={"max_party": MAX_PARTY},
    )


@sm.state("start", F.text("book", ignore_case=True) | F.reply("book"))
async def book(ctx: Context) -> str:
    await ctx.reply(booking_form())
    return "in_flow"


@sm.state("in_flow", F.text("cancel", ignore_case=True))
async def cancel(ctx: Context) -> str:
    await ctx.reply("No booking made.")
    return "start"


def _booking(response: dict[str, Any]) -> dict[str, Any] | str:
    """The booking from the Flow's answer, or what is wrong with it."""
    try:
        day = datetime.date.fromisoformat(str(response["date"]))
        time = datetime.time.fromisoformat(str(response["time"]))
        party = int(response["party_size"])
        name = str(response["name"]).strip()
    except (KeyError, ValueError):
        return "The form was incomplete."
    if not 1 <= party <= MAX_PARTY:
        return f"We take bookings for 1 to {MAX_PARTY} people."
    if not name:
        return "Please give a name for the booking."
    return {"date": day.isoformat(), "time": time.strftime("%H:%M"), "party": party, "name": name}


@sm.state("in_flow", F.flow_completed("booking"))
async def form_completed(ctx: Context, response: dict[str, Any]) -> str:
    booking = _booking(response)
    if isinstance(booking, str):
        await ctx.reply(booking)
        await ctx.reply(booking_form())
        return "in_flow"
    ctx.state.update(booking=booking)
    day = datetime.date.fromisoformat(booking["date"])
    summary = (
        f"A table for {booking['party']} on {day:%A %d %B} at {booking['time']}, {booking['name']}."
    )
    await ctx.reply(
        ReplyButtons(summary, [ReplyButton("confirm", "Confirm"), ReplyButton("change", "Change")])
    )
    return "confirm"


@sm.state("confirm", F.reply("confirm"))
async def confirmed(ctx: Context) -> str:
    reference = secrets.token_hex(3).upper()
    ctx.state.update(reference=reference, bookings=ctx.state.get("bookings", 0) + 1)
    await ctx.reply(f"Booked! Your reference is {reference}. See you soon.")
    return "start"


@sm.state("confirm", F.reply("change"))
async def change(ctx: Context) -> str:
    await ctx.reply(booking_form())
    return "in_flow"
