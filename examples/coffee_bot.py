"""A coffee bot: the wahost half of docs/coming-from-pywa.md, which shows it beside pywa.

Run it: ``wahost simulate --config config/wahost.toml --bot examples/coffee_bot.py``.
"""

from wahost import CallbackData, Router, filters as F
from wahost.outbound import ReplyButton, ReplyButtons

router = Router()


class Drink(CallbackData, prefix="drink"):
    name: str


@router.message(F.text("hi", "hello", ignore_case=True) | F.command("start"))
async def greet(ctx):
    buttons = [ReplyButton(Drink(name="tea"), "Tea"), ReplyButton(Drink(name="coffee"), "Coffee")]
    await ctx.reply(ReplyButtons("Tea or coffee?", buttons))


@router.message(Drink.filter())
async def drink(ctx, data: Drink, state):
    state.set("cups", {"drink": data.name})  # the next message answers this question
    await ctx.reply(f"How many cups of {data.name}?")


@router.message(F.regex(r"\d{1,2}"), state="cups")
async def cups(ctx, match, state):
    drink = state.get("drink")
    state.clear()
    await ctx.reply(f"{match[0]} x {drink}: on its way!")


@router.message()
async def fallback(ctx):
    await ctx.reply('Say "hi" to see the menu.')
