"""``[plugins.profile]``: the conversational components and business profile a bot declares.

A key left out is *not managed*: ``push`` leaves its live value alone. An empty value is
managed: ``prompts = []`` removes every ice breaker, ``address = ""`` clears the address.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from wahost.errors import WahostError
from wahost_profile.limits import Problem, automation_problems, profile_problems

__all__ = ["AUTOMATION_FIELDS", "PROFILE_FIELDS", "CommandSpec", "ProfileConfig", "SettingError"]

#: The fields of ``POST /<PHONE_NUMBER_ID>/conversational_automation``, in Meta's sample order
#: (reference/cloudapi.md §11).
AUTOMATION_FIELDS = ("enable_welcome_message", "commands", "prompts")
#: The fields of ``/<PHONE_NUMBER_ID>/whatsapp_business_profile`` this plugin manages.
PROFILE_FIELDS = ("about", "address", "description", "email", "websites", "vertical")


class CommandSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One command, with Meta's field names: typed as ``/command_name``, listed with its
    description (Meta's "hint")."""

    command_name: str
    command_description: str


class SettingError(WahostError, ValueError):
    """A value of ``[plugins.profile]`` breaks a limit.

    ``key`` is relative to the table (``commands[3].command_name``), ``reason`` says why.
    Raised while the table is decoded, so wahost stops at start-up with
    ``<file>: plugins.profile.<key>: <reason>``.
    """

    def __init__(self, problem: Problem) -> None:
        # msgspec turns a ValueError raised by __post_init__ into a ValidationError with this
        # text, and wahost's loader reads "<reason> - at `$.<path>`" as msgspec's own form, so
        # the error names the exact key instead of the whole table.
        super().__init__(f"{problem.reason} - at `$.{problem.key}`")
        self.key = problem.key
        self.reason = problem.reason


class ProfileConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.profile]``: every key is optional."""

    enable_welcome_message: Annotated[
        bool | None,
        Meta(description="Ask Meta for request_welcome messages on a user's first chat."),
    ] = None
    commands: Annotated[
        list[CommandSpec] | None,
        Meta(
            description="[[plugins.profile.commands]] tables of command_name (at most 32 "
            "characters) and command_description (at most 256); at most 30, no emoji."
        ),
    ] = None
    prompts: Annotated[
        list[str] | None,
        Meta(description="Ice breakers: at most 4, of at most 80 characters, no emoji."),
    ] = None
    about: Annotated[str | None, Meta(description="Profile 'About' text, 1-139 characters.")] = None
    address: Annotated[str | None, Meta(description="Business address.")] = None
    description: Annotated[str | None, Meta(description="Business description.")] = None
    email: Annotated[str | None, Meta(description="Contact e-mail address.")] = None
    websites: Annotated[list[str] | None, Meta(description="At most 2 http(s) URLs.")] = None
    vertical: Annotated[
        str | None, Meta(description='Business category ("RESTAURANT", "RETAIL", ...).')
    ] = None
    apply_on_start: Annotated[
        bool,
        Meta(
            description="Push these settings when the host starts (in the background; a "
            "failure is logged and the host keeps running)."
        ),
    ] = False
    any_command: Annotated[
        bool,
        Meta(
            description="Recognise every '/word ...' text as a command, not only the "
            "configured commands."
        ),
    ] = False

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise SettingError(problems[0])

    def problems(self) -> list[Problem]:
        """Every broken limit, in the order of the keys."""
        return automation_problems(self.commands, self.prompts) + profile_problems(
            about=self.about,
            address=self.address,
            description=self.description,
            email=self.email,
            websites=self.websites,
            vertical=self.vertical,
        )

    def managed(self, fields: tuple[str, ...]) -> dict[str, object]:
        """The values of ``fields`` this configuration sets (the managed ones)."""
        values = {name: getattr(self, name) for name in fields}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def manages_automation(self) -> bool:
        return bool(self.managed(AUTOMATION_FIELDS))

    @property
    def manages_profile(self) -> bool:
        return bool(self.managed(PROFILE_FIELDS))
