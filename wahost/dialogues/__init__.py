"""Dialogues: a conversation written as one function that survives restarts.

::

    @router.message(F.command("signup"))
    async def signup(message, ctx):
        name = await ctx.ask("What's your name?", F.text, timeout=600)
        age = await ctx.ask(f"Hi {name.text.body}! How old are you?", F.regex(r"^\\d{1,3}$"),
                            retry="Please send your age as a number.")
        await ctx.reply(f"Welcome {name.text.body} ({age.text.body})")

How it works: deterministic replay. ``ctx.ask`` sends its prompt, writes the dialogue's
journal (:mod:`wahost.dialogues.journal`) through the unit's buffered writes and unwinds the
handler; the unit is acked and nothing waits in memory. The conversation's next update goes to
the dialogue before the routers (:mod:`wahost.dialogues.engine`): the handler runs again from
the top, every earlier send and answer served from the journal
(:mod:`wahost.dialogues.run`), and the waiting ask takes the update when it matches. Timers
are units in the queue, so a timeout comes also when the process that asked has died.

The reference for bot authors is docs/dialogues.md.
"""

from wahost.dialogues.errors import AskTimeout, ConversationCancelled, DialogueDiverged

__all__ = ["AskTimeout", "ConversationCancelled", "DialogueDiverged"]
