"""What a Router costs per message, against a bare ``@hookimpl on_message``.

    python -m bench.router [--messages 20000] [--rounds 5]

Each message goes through the dispatcher as the worker sends it (``before_message``, then
``on_message`` until one handles it), on one event loop, with no I/O: the figures are the
authoring layer's own CPU. The routers have 50 handlers; the message matches the first one,
or only the last one (49 filters tried and refused first). Best of ``--rounds`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from wahost import Context, Router, Wahost, hookimpl
from wahost import filters as F
from wahost.models import decode_unit
from wahost.testing import make_config
from wahost.testing.payloads import make_text
from wahost.units import split

HANDLERS = 50


class Bare:
    """A plugin written by hand: the least a handler can be."""

    __name__ = "bare"

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        return True


def text_router() -> Router:
    """50 handlers of ``F.text("word<n>")``."""
    router = Router("texts")
    for n in range(HANDLERS):

        @router.message(F.text(f"word{n}"))
        async def handler(message: Any, ctx: Context) -> None:
            return None

    return router


def mixed_router() -> Router:
    """49 handlers a menu bot has (commands, regexes, buttons, media), then a catch-all."""
    router = Router("mixed")
    for n in range(HANDLERS - 1):
        kind = n % 4
        flt = (
            F.command(f"cmd{n}")
            if kind == 0
            else F.regex(rf"order{n} (\d+)")
            if kind == 1
            else F.reply(f"button{n}")
            if kind == 2
            else (F.image | F.video) & F.from_users("15550000000")
        )

        @router.message(flt)
        async def handler(message: Any, ctx: Context) -> None:
            return None

    @router.message()
    async def fallback(message: Any, ctx: Context) -> None:
        return None

    return router


def one_message(body: str) -> Any:
    [unit] = split(json.dumps(make_text(body)).encode())
    return unit, decode_unit(unit)


async def per_message(plugin: object, body: str, messages: int, rounds: int) -> float:
    """Microseconds per message through the dispatcher, best of ``rounds``."""
    with tempfile.TemporaryDirectory() as tmp:
        host = Wahost(make_config(Path(tmp)), plugins=[plugin], load_entrypoints=False)
        dispatch = host.dispatch
        unit, message = one_message(body)
        best = float("inf")
        for _ in range(rounds):
            contexts = [Context(host, unit) for _ in range(messages)]
            started = time.perf_counter()
            for ctx in contexts:
                await dispatch.broadcast("before_message", unit=unit, message=message, ctx=ctx)
                result = await dispatch.first("on_message", unit=unit, message=message, ctx=ctx)
                assert result.value is not None
            best = min(best, time.perf_counter() - started)
        return best / messages * 1e6


async def run(messages: int, rounds: int) -> None:
    bare = await per_message(Bare(), "word0", messages, rounds)
    cases = [
        ("bare @hookimpl on_message", bare),
        (
            f"Router, {HANDLERS} F.text handlers, the first matches",
            await per_message(text_router(), "word0", messages, rounds),
        ),
        (
            f"Router, {HANDLERS} F.text handlers, the last matches",
            await per_message(text_router(), f"word{HANDLERS - 1}", messages, rounds),
        ),
        (
            f"Router, {HANDLERS - 1} command/regex/reply/media handlers, then the catch-all",
            await per_message(mixed_router(), "hello there", messages, rounds),
        ),
    ]
    for name, micros in cases:
        extra = "" if micros is bare else f"  (+{micros - bare:.2f} µs over bare)"
        print(f"{name:<72} {micros:7.2f} µs/message{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.rounds))


if __name__ == "__main__":
    main()
