"""Meta's limits for conversational components and the business profile, checked at start-up.

Conversational components (reference/cloudapi.md §11): at most 30 commands, a command name of
at most 32 characters, a description ("hint") of at most 256, at most 4 ice breakers
(``prompts``) of at most 80 characters each, and no emoji in any of them.

Business profile: the reference does not list its limits. The ones below are taken from a
copy of Meta's "Business Profiles" page (``about`` 1-139 characters, ``address`` 256,
``description`` 512, ``email`` 128 in e-mail format, ``websites`` at most 2 of at most 256
characters with ``http://`` or ``https://``, ``vertical`` empty or one of the listed
categories) and are marked UNVERIFIED until the reference confirms them.

Rules of wahost's own (not Meta's; they keep ``/command`` recognition unambiguous): a command
name is not empty, has no white space, does not start with ``/`` and is not declared twice
(compared case-insensitively).

Lengths are counted in Unicode code points (Python's ``len``); Meta does not say how it
counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = [
    "MAX_ABOUT",
    "MAX_ADDRESS",
    "MAX_COMMANDS",
    "MAX_COMMAND_DESCRIPTION",
    "MAX_COMMAND_NAME",
    "MAX_DESCRIPTION",
    "MAX_EMAIL",
    "MAX_PROMPTS",
    "MAX_PROMPT_LENGTH",
    "MAX_WEBSITES",
    "MAX_WEBSITE_LENGTH",
    "VERTICALS",
    "Problem",
    "automation_problems",
    "find_emoji",
    "profile_problems",
]

# -- conversational components: reference/cloudapi.md §11 ------------------------------------
MAX_COMMANDS = 30
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 256
MAX_PROMPTS = 4
MAX_PROMPT_LENGTH = 80

# -- business profile: UNVERIFIED (not in reference/cloudapi.md) ------------------------------
MAX_ABOUT = 139
MAX_ADDRESS = 256
MAX_DESCRIPTION = 512
MAX_EMAIL = 128
MAX_WEBSITES = 2
MAX_WEBSITE_LENGTH = 256
#: Accepted values of ``vertical`` besides the empty string (UNVERIFIED; Meta may add more).
VERTICALS = frozenset(
    {
        "ALCOHOL",
        "APPAREL",
        "AUTO",
        "BEAUTY",
        "EDU",
        "ENTERTAIN",
        "EVENT_PLAN",
        "FINANCE",
        "GOVT",
        "GROCERY",
        "HEALTH",
        "HOTEL",
        "NONPROFIT",
        "ONLINE_GAMBLING",
        "OTC_DRUGS",
        "OTHER",
        "PHYSICAL_GAMBLING",
        "PROF_SERVICES",
        "RESTAURANT",
        "RETAIL",
        "TRAVEL",
    }
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# -- emoji ---------------------------------------------------------------------------------
#
# Python's unicodedata has no emoji properties, so the rule is a table of ranges. A text
# contains an emoji when it contains any of:
#   * a code point of U+1F000..U+1FAFF: the supplementary blocks of pictographs (emoticons,
#     transport and map symbols, supplemental symbols and pictographs, regional indicators
#     that make flags, skin-tone modifiers, ...). Deliberately broad: it also refuses the few
#     non-emoji symbols of those blocks (mahjong tiles, alchemical symbols), which no command
#     needs;
#   * a BMP code point whose default presentation is emoji (Emoji_Presentation=Yes in
#     Unicode's emoji-data.txt: watch, hourglass, zodiac signs, high voltage, check mark
#     button, sparkles, cross mark, star, ...);
#   * U+FE0F (the variation selector that turns a text symbol such as U+2764 into an emoji),
#     U+20E3 (combining keycap, as in 1-keycap) or a tag character U+E0020..U+E007F (the
#     subdivision flags).
# A text-presentation symbol without U+FE0F (a bare U+2764, U+00A9) is not counted.
_EMOJI_RANGES: tuple[tuple[int, int], ...] = (
    (0x231A, 0x231B),
    (0x23E9, 0x23EC),
    (0x23F0, 0x23F0),
    (0x23F3, 0x23F3),
    (0x25FD, 0x25FE),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267F, 0x267F),
    (0x2693, 0x2693),
    (0x26A1, 0x26A1),
    (0x26AA, 0x26AB),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26CE, 0x26CE),
    (0x26D4, 0x26D4),
    (0x26EA, 0x26EA),
    (0x26F2, 0x26F3),
    (0x26F5, 0x26F5),
    (0x26FA, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2705, 0x2705),
    (0x270A, 0x270B),
    (0x2728, 0x2728),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x20E3, 0x20E3),
    (0xFE0F, 0xFE0F),
    (0x1F000, 0x1FAFF),
    (0xE0020, 0xE007F),
)
_EMOJI = re.compile(
    "["
    + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in _EMOJI_RANGES)
    + "]"
)


_MODIFIERS = frozenset({"\ufe0f", "\u20e3"})


def find_emoji(text: str) -> tuple[int, str] | None:
    """``(index, emoji)`` of the first emoji of ``text`` (see the rule above), or ``None``.

    For a symbol made an emoji by U+FE0F or U+20E3, ``emoji`` is the symbol and its modifier
    and ``index`` the symbol's.
    """
    match = _EMOJI.search(text)
    if match is None:
        return None
    index = match.start()
    if match.group() in _MODIFIERS and index > 0:
        return index - 1, text[index - 1 : index + 1]
    return index, match.group()


class Problem(NamedTuple):
    """One broken limit: ``key`` is relative to ``[plugins.profile]`` (``commands[3].
    command_name``), ``reason`` says what is wrong."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class CommandLike(Protocol):
    @property
    def command_name(self) -> str: ...

    @property
    def command_description(self) -> str: ...


def _count(key: str, items: Sequence[object], maximum: int, noun: str) -> list[Problem]:
    if len(items) > maximum:
        return [Problem(key, f"expected at most {maximum} {noun}, got {len(items)}")]
    return []


def _text(
    key: str, text: str, maximum: int, *, minimum: int = 1, allow_emoji: bool = True
) -> list[Problem]:
    if len(text) < minimum:
        return [Problem(key, "must not be empty")]
    if len(text) > maximum:
        return [Problem(key, f"expected at most {maximum} characters, got {len(text)}")]
    found = None if allow_emoji else find_emoji(text)
    if found is not None:
        index, emoji = found
        points = " ".join(f"U+{ord(char):04X}" for char in emoji)
        return [Problem(key, f"emoji are not allowed ({points} at index {index})")]
    return []


def automation_problems(
    commands: Sequence[CommandLike] | None, prompts: Sequence[str] | None
) -> list[Problem]:
    """What breaks the limits of commands and ice breakers, in the order of the keys."""
    problems: list[Problem] = []
    if commands is not None:
        problems += _count("commands", commands, MAX_COMMANDS, "commands")
        first_seen: dict[str, int] = {}  # casefolded name -> index
        for index, command in enumerate(commands):
            key = f"commands[{index}]"
            name = command.command_name
            problems += _text(f"{key}.command_name", name, MAX_COMMAND_NAME, allow_emoji=False)
            if name.startswith("/"):
                problems.append(
                    Problem(f"{key}.command_name", "write the name without the leading /")
                )
            elif any(char.isspace() for char in name):
                problems.append(Problem(f"{key}.command_name", "must not contain white space"))
            elif name and name.casefold() in first_seen:
                other = first_seen[name.casefold()]
                reason = f"already declared as commands[{other}].command_name (ignoring case)"
                problems.append(Problem(f"{key}.command_name", reason))
            first_seen.setdefault(name.casefold(), index)
            problems += _text(
                f"{key}.command_description",
                command.command_description,
                MAX_COMMAND_DESCRIPTION,
                allow_emoji=False,
            )
    if prompts is not None:
        problems += _count("prompts", prompts, MAX_PROMPTS, "prompts")
        for index, prompt in enumerate(prompts):
            problems += _text(f"prompts[{index}]", prompt, MAX_PROMPT_LENGTH, allow_emoji=False)
    return problems


def profile_problems(
    *,
    about: str | None = None,
    address: str | None = None,
    description: str | None = None,
    email: str | None = None,
    websites: Sequence[str] | None = None,
    vertical: str | None = None,
) -> list[Problem]:
    """What breaks the (UNVERIFIED) limits of the business profile fields."""
    problems: list[Problem] = []
    if about is not None:
        problems += _text("about", about, MAX_ABOUT)
    if address is not None:
        problems += _text("address", address, MAX_ADDRESS, minimum=0)
    if description is not None:
        problems += _text("description", description, MAX_DESCRIPTION, minimum=0)
    if email is not None:
        problems += _text("email", email, MAX_EMAIL, minimum=0)
        if email and not _EMAIL.fullmatch(email):
            problems.append(Problem("email", "expected an e-mail address like name@example.com"))
    if websites is not None:
        problems += _count("websites", websites, MAX_WEBSITES, "websites")
        for index, url in enumerate(websites):
            key = f"websites[{index}]"
            problems += _text(key, url, MAX_WEBSITE_LENGTH)
            if url and not url.startswith(("http://", "https://")):
                problems.append(Problem(key, "must start with http:// or https://"))
    if vertical is not None and vertical and vertical not in VERTICALS:
        allowed = ", ".join(sorted(VERTICALS))
        problems.append(Problem("vertical", f'expected "" or one of {allowed}'))
    return problems
