"""The terminal chat of ``wahost simulate``: type as a user, see what the bot answers.

Lines are read on a thread (so the event loop, the bot's server and worker keep running) and
handled in order; what the bot sends is printed as it arrives. A number picks a choice of the
latest message that has choices; a Flow opens as a form asked field by field. ``/group``
stages a group chat: what you type goes into the group, as the participant ``/user`` chose.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from wahost.dialogues.engine import waiting
from wahost.simulator.flowform import FormError, submit
from wahost.simulator.render import to_text
from wahost.simulator.session import Item, Simulation
from wahost.units import conversation_key

HELP = """\
Type a message and press Enter to send it to the bot as the simulated user.
  <n>                    pick choice n of the bot's latest message with choices
  /file PATH [caption]   send a file (image, video, audio, document or .webp sticker)
  /location LAT LNG [name]
  /react EMOJI           react to the bot's latest message
  /form                  fill in the bot's latest open form (a WhatsApp Flow) again
  /user NUMBER [name]    talk as another user (digits, international form); in a group,
                         write as that participant (who joins the group)
  /group SUBJECT [NUMBER ...]
                         write in the group chat SUBJECT of the bot, you and these numbers
                         (started now, or staged with --group)
  /private               leave the group: back to your one-to-one chat with the bot
  /ticks                 the status of each message of this chat
  /anything-else         goes to the bot as text (a bot's own command, like /start)
  \\TEXT                  send TEXT as it is (for a text that starts with / or is a number)
  /help, /quit (or Ctrl-D)"""

_TICKS = {"sending": "…", "sent": "✓", "delivered": "✓✓", "read": "✓✓", "failed": "✗"}
#: Seconds ``/quit`` (or the end of input) waits for the bot to handle what it was sent.
QUIT_WAIT = 10.0


class TerminalChat:
    """A line-based chat with the bot of a running :class:`Simulation`."""

    def __init__(
        self,
        sim: Simulation,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        color: bool | None = None,
    ) -> None:
        self.sim = sim
        self.user = sim.default_user
        #: The group being written in, or ``None`` for the one-to-one chat of :attr:`user`.
        self.group: str | None = None
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = stdout if stdout is not None else sys.stdout
        self.color = self.out.isatty() if color is None else color
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._shown: dict[str, str | None] = {}
        #: Texts typed and not yet seen in the feed (not echoed a second time).
        self._typing: list[str] = []
        self._last = 0
        self._items: dict[str, dict[str, Any]] = {}
        #: The dialogue step last shown as waiting (chat, handler, step).
        self._waiting: tuple[str, str, int] | None = None
        #: The last line written, so that a run of "read" changes shows as one line.
        self._last_line = ""
        self._unhandled: set[str] = set()

    # -- output ---------------------------------------------------------------------------------

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()
        self._last_line = text

    def note(self, text: str) -> None:
        self.say(self._style(text, "2"))

    def _show(self, data: dict[str, Any], item: Item | None) -> None:
        if data.get("unhandled") and data["id"] not in self._unhandled:
            self._unhandled.add(data["id"])
            if data["id"] in self._shown:
                self._note_unhandled()
        known = data["id"] in self._shown
        previous = self._shown.get(data["id"])
        self._shown[data["id"]] = data["status"]
        self._items[data["id"]] = data
        if not known:
            if data["from"] == "bot":
                self._show_bot(data, item)
            elif (typed := _typed_as(data)) is not None and typed in self._typing:
                self._typing.remove(typed)  # on the screen already, as typed
            else:
                label = data.get("text") or _media_name(data) or data["kind"]
                author = data.get("author")
                who = "you" if author in (None, self.user) else f"+{author}"
                self.say(self._style(f"{who} ▸ ", "36") + label)
            if data["id"] in self._unhandled:
                self._note_unhandled()
            if data["status"] in ("failed",):
                self.note("   ✗ not stored by the bot (see its log)")
            return
        if data["status"] == previous:
            return  # another change (a form's next screen): the form prompt shows it
        if data["status"] == "read":
            who = "by you" if data["from"] == "bot" else "by the bot"
            line = self._style(f"   ✓✓ read {who}", "34")
            if line != self._last_line:  # several messages read at once: one line
                self.say(line)
        elif data["status"] == "failed":
            self.note("   ✗ not stored by the bot (see its log)")

    def _note_unhandled(self) -> None:
        self.note("   (no plugin handled this message: the bot has no handler for it)")

    def _show_bot(self, data: dict[str, Any], item: Item | None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(data["time"]))
        self.say(self._style(f"bot · {stamp}", "32;1"))
        if item is not None and item.outgoing is not None:
            body = to_text(item.outgoing)
        else:
            body = data.get("text") or data["kind"]
        for line in body.splitlines() or [""]:
            self.say("  " + line)

    @property
    def chat(self) -> str:
        """The thread on the screen: the group's id, or the user's number."""
        return self.group or self.user

    async def _printer(self) -> None:
        while True:
            chat = self.chat
            result = await self.sim.items(chat, self._last, timeout=1.0)
            if chat != self.chat:  # switched chats while waiting: read the new one from 0
                continue
            self._last = result["last"]
            for data in result["items"]:
                item = next((i for i in self.sim.thread(chat) if i.id == data["id"]), None)
                self._show(data, item)
            await self._show_waiting(chat)

    async def _show_waiting(self, chat: str) -> None:
        """A line when a dialogue (``ctx.ask``) of this chat starts waiting at a step."""
        host = self.sim.host
        if host is None or not host.started:
            return
        key = conversation_key(host.config.whatsapp.phone_number_id, chat)
        found = await waiting(host.state, key)
        shown = None if found is None else (chat, found.handler, found.step)
        if shown != self._waiting and found is not None:
            self.note(f"   … waiting for an answer to step {found.step} of {found.handler}")
        self._waiting = shown

    # -- input ----------------------------------------------------------------------------------

    def _read_lines(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand each line of input to the chat (``None`` at its end). The thread may outlive
        the chat, blocked in ``readline``: input closed under it is an end of input, and a
        chat whose loop is closed takes no more lines."""
        while True:
            try:
                line = self.stdin.readline()
            except (ValueError, OSError):  # the input was closed under the reader
                line = ""
            try:
                loop.call_soon_threadsafe(
                    self._lines.put_nowait, line.rstrip("\r\n") if line else None
                )
            except RuntimeError:  # the chat is over and its loop closed
                return
            if not line:
                return

    async def _ask(self, prompt: str) -> str | None:
        self.say(self._style(prompt, "33"))
        return await self._lines.get()

    async def run(self) -> None:
        """Chat until ``/quit`` or the end of input."""
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_lines, args=(loop,), daemon=True).start()
        self.say(self._style("wahost simulator", "1") + f" — you are +{self.user}; /help for more")
        self.note(f"the bot listens on {self.sim.webhook_url}; its Graph API is local")
        printer = asyncio.create_task(self._printer())
        try:
            while True:
                line = await self._lines.get()
                if line is None or line.strip() in ("/quit", "/exit"):
                    await self._let_the_bot_answer()
                    return
                try:
                    await self.handle(line)
                except ValueError as exc:
                    self.note(f"  {exc}")
        finally:
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)

    async def _let_the_bot_answer(self) -> None:
        """Before quitting, wait up to :data:`QUIT_WAIT` seconds for the bot to handle what it
        was sent, so that its replies are shown here rather than handled, unseen, when the
        next session starts on the same store (``wahost simulate < script.txt`` quits at the
        end of its input, often before the last reply)."""
        host = self.sim.host
        if host is None or not host.started or not host.config.worker.enabled:
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        told = False
        while True:
            stats = await host.queue.stats()
            pending = stats.ready + stats.leased
            if pending == 0:
                break
            waited = loop.time() - began
            if waited >= QUIT_WAIT:
                self.note(
                    f"quitting with {pending} update(s) not handled yet: the bot handles them "
                    "when it next starts on this store"
                )
                return
            if not told and waited >= 0.5:
                self.note("waiting for the bot to answer (Ctrl-C quits now)")
                told = True
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the printer shows what the last units sent

    async def handle(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if text.startswith("\\"):
            await self._text(line.lstrip()[1:])
        elif text.isdigit() and self._latest_with_choices() is not None:
            await self._pick(int(text))
        elif text.startswith("/"):
            await self._command(text)
        else:
            await self._text(line)

    async def _text(self, text: str) -> None:
        self._typing.append(text)
        await self.sim.send_text(self.user, text, group=self.group)

    def _switch(self, note: str) -> None:
        """Show another thread from its start."""
        self._last = 0
        self._shown.clear()
        self.note(note)

    # -- choices and forms ----------------------------------------------------------------------

    def _bot_items(self) -> list[Item]:
        return [i for i in self.sim.thread(self.chat) if i.sender == "bot" and i.outgoing]

    def _latest_with_choices(self) -> Item | None:
        return next((i for i in reversed(self._bot_items()) if i.outgoing.choices), None)  # type: ignore[union-attr]

    async def _pick(self, n: int) -> None:
        item = self._latest_with_choices()
        assert item is not None and item.outgoing is not None
        if not 1 <= n <= len(item.outgoing.choices):
            raise ValueError(f"pick 1 to {len(item.outgoing.choices)}")
        if not item.outgoing.choices[n - 1].reply:
            await self._fill(item)
            return
        await self.sim.pick(self.user, item.id, n)

    async def _fill(self, item: Item) -> None:
        """Ask each field of the open form; submit it; go on with the next screen."""
        while item.form is not None and not item.form_done:
            form = item.form
            self.say(self._style(f"  ── {form.title} ──", "1"))
            if getattr(form, "note", None):
                self.note(f"  {form.note}")
            values: dict[str, Any] = {}
            for spec in form.fields:
                value = await self._field(spec)
                if value is _QUIT:
                    self.note("  form left unsent")
                    return
                if value is not None:
                    values[spec.name] = value
            while True:
                try:
                    submit(form, values)
                    break
                except FormError as exc:
                    self.note(f"  {exc}")
                    spec = next((f for f in form.fields if f.name == exc.field), None)
                    if spec is None:
                        return
                    value = await self._field(spec)
                    if value is _QUIT:
                        self.note("  form left unsent")
                        return
                    if value is None:
                        values.pop(spec.name, None)
                    else:
                        values[spec.name] = value
            result = await self.sim.submit_form(self.user, item.id, values)
            if "next" not in result:
                return

    async def _field(self, spec: Any) -> Any:
        required = " (required)" if spec.required else ""
        options = list(spec.options or ())
        prompt = f"  {spec.label}{required}"
        if options:
            listed = "  ".join(f"{n}) {o.title}" for n, o in enumerate(options, 1))
            many = ", several: 1,3" if spec.type == "checkbox" else ""
            prompt += f" — {listed}{many}"
        elif spec.type == "date":
            prompt += " — YYYY-MM-DD"
        elif spec.type == "optin":
            prompt += " — y/n"
        answer = await self._ask(prompt + ":")
        if answer is None or answer.strip() == "/quit":
            return _QUIT
        answer = answer.strip()
        if not answer:
            return None
        if spec.type == "optin":
            return answer.lower() in ("y", "yes", "1", "true")
        if options:
            picked = [_option(options, part.strip()) for part in answer.split(",")]
            return picked if spec.type == "checkbox" else picked[0]
        return answer

    # -- commands -------------------------------------------------------------------------------

    async def _command(self, text: str) -> None:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ValueError(f"cannot read that command: {exc}") from None
        name, args = words[0], words[1:]
        if name == "/help":
            self.say(HELP)
        elif name == "/user":
            if not args:
                raise ValueError("/user NUMBER [name]")
            user = self.sim._user(args[0])
            if self.group is not None:
                self.sim.join(self.group, user)
            self.user = user
            if len(args) > 1:
                self.sim._names[self.user] = " ".join(args[1:])
            if self.group is not None:
                self.note(f"  you are now +{self.user}, in the group")
            else:
                self._switch(f"  you are now +{self.user}")
        elif name == "/group":
            if not args:
                raise ValueError("/group SUBJECT [NUMBER ...]")
            known = [g for g in self.sim.groups.values() if g.subject == args[0]]
            if known:  # staged before (--group, the browser): write in it
                self.group = known[0].id
                for number in [self.user, *args[1:]]:
                    self.sim.join(self.group, number)
            else:
                self.group = self.sim.add_group(args[0], [self.user, *args[1:]])
            members = ", ".join(f"+{m}" for m in self.sim.groups[self.group].participants)
            self._switch(f"  group {args[0]!r} with the bot and {members}; /private to leave")
        elif name == "/private":
            self.group = None
            self._switch(f"  your one-to-one chat, as +{self.user}")
        elif name == "/file":
            if not args:
                raise ValueError("/file PATH [caption]")
            caption = " ".join(args[1:]) or None
            path = Path(args[0]).expanduser()  # noqa: ASYNC240 (no I/O: reads $HOME)
            self._typing.append(path.name)
            await self.sim.send_media(self.user, path, caption=caption, group=self.group)
        elif name == "/location":
            if len(args) < 2:
                raise ValueError("/location LAT LNG [name]")
            location = {"location": [args[0], args[1], *args[2:3]]}
            await self.sim.act(self.user, location, group=self.group)
        elif name == "/react":
            bots = self._bot_items()
            if not args or not bots:
                raise ValueError("/react EMOJI, after the bot sent something")
            if self.group is not None:
                raise ValueError("/react: reactions are not sent in groups")
            await self.sim.react(self.user, bots[-1].id, args[0])
        elif name == "/form":
            open_forms = [i for i in self._bot_items() if i.form is not None and not i.form_done]
            if not open_forms:
                raise ValueError("no open form")
            await self._fill(open_forms[-1])
        elif name == "/ticks":
            for item in self.sim.thread(self.chat):
                data = item.to_json()
                label = (data.get("text") or _media_name(data) or data["kind"])[:40]
                who = "bot" if item.sender == "bot" else "you"
                if item.author not in (None, self.user):
                    who = f"+{item.author}"
                self.say(
                    f"  {who:3} {_TICKS.get(item.status or '', ' '):2} {item.status:9} {label}"
                )
        else:
            # Bots take /commands too (F.command): what the simulator does not know goes to the
            # bot as the user typed it.
            self.note(f"{name} is not a simulator command: sent to the bot (/help lists them)")
            await self._text(text)


_QUIT = object()


def _option(options: list[Any], answer: str) -> str:
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return str(options[int(answer) - 1].id)
    for option in options:
        if answer in (option.id, option.title):
            return str(option.id)
    return answer  # submit() names the field and says why


def _typed_as(data: Mapping[str, Any]) -> str | None:
    """What the user typed to send this item: its text, or the file name of its media."""
    if data["kind"] == "text":
        return data.get("text")
    media = data.get("media")
    return media["name"] if media else None


def _media_name(data: Mapping[str, Any]) -> str | None:
    media = data.get("media")
    return f"[{media['type']}: {media['name']}]" if media else None
