"""A sign-up written as one function with ``await ctx.ask(...)`` (docs/dialogues.md).

    wahost simulate --bot examples/signup_dialogue.py

The dialogue survives restarts and runs on any worker: each ``ask`` sends its question and
the handler stops there; the user's answer runs it again from the top, every earlier question
and answer served from the conversation's journal. ``/cancel`` ends it at any question.
"""

from wahost import AskTimeout, CallbackData, Context, ConversationCancelled, Message, Router
from wahost import filters as F
from wahost.outbound import ReplyButton, ReplyButtons

router = Router(name="signup")

#: Seconds the user has to answer each question.
ANSWER_WITHIN = 600


class Plan(CallbackData, prefix="plan"):
    name: str


PLANS = {"basic": "Basic", "plus": "Plus"}


@router.message(F.command("signup"), version="1")
async def signup(ctx: Context) -> None:
    try:
        name = await ctx.ask("Welcome! What's your name?", F.text, timeout=ANSWER_WITHIN)
        first = name.text.body.strip()  # type: ignore[attr-defined]
        age = await ctx.ask(
            f"Hi {first}! How old are you?",
            F.regex(r"^\d{1,3}$"),
            retry="Please send your age as a number, like 42.",
            timeout=ANSWER_WITHIN,
        )
        buttons = [ReplyButton(Plan(name=key), title) for key, title in PLANS.items()]
        plan = await ctx.ask_choice(
            ReplyButtons("Which plan would you like?", buttons),
            Plan,
            retry="Please pick a plan with the buttons.",
            timeout=ANSWER_WITHIN,
        )
    except AskTimeout:
        await ctx.reply("No answer for a while: send /signup to start again.")
        return
    except ConversationCancelled:
        await ctx.reply("Sign-up cancelled. Send /signup to start again.")
        return
    years = int(age.text.body)  # type: ignore[attr-defined]
    ctx.state.update(profile={"name": first, "age": years, "plan": plan.name})
    await ctx.reply(f"Welcome aboard, {first}: the {PLANS[plan.name]} plan is yours.")


@router.message()
async def menu(message: Message, ctx: Context) -> None:
    await ctx.reply("Send /signup to sign up.")
