"""``[plugins.state_machine]``: which machines run, and config-only menus.

The structs below are decoded and checked by the host at start-up (unknown keys, types and
Meta's length limits fail with the file and the key); :func:`build_menu` turns a menu into a
:class:`~wahost_state_machine.StateMachine` and checks what a struct cannot (every ``to``
names a state, one trigger per transition, regular expressions compile), raising
:class:`wahost.config.ConfigError` naming the key.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import Meta

from wahost import filters as F
from wahost.config import ConfigError
from wahost.outbound import ListMessage, Outbound, ReplyButton, ReplyButtons, Row, Section, Text
from wahost_state_machine.machine import Handler, StateMachine, Transition, handler_plan

__all__ = [
    "ButtonConfig",
    "MenuConfig",
    "MenuStateConfig",
    "RowConfig",
    "SectionConfig",
    "StateMachineConfig",
    "TransitionConfig",
    "build_menu",
    "config_key",
]

#: A non-empty string, and the same with Meta's length limits (reference/cloudapi.md §6).
Name = Annotated[str, Meta(min_length=1)]
Str20 = Annotated[str, Meta(min_length=1, max_length=20)]
Str24 = Annotated[str, Meta(min_length=1, max_length=24)]
Str60 = Annotated[str, Meta(min_length=1, max_length=60)]
Str72 = Annotated[str, Meta(min_length=1, max_length=72)]
Strings = list[Name] | Name


def _doc(text: str) -> Meta:
    return Meta(description=text)


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A TOML table: unknown keys are errors."""


class ButtonConfig(_Table):
    """A reply button of a menu state; tapping it (or typing its title) goes to ``to``."""

    id: Annotated[str, Meta(min_length=1, max_length=256, description="The button's id.")]
    title: Annotated[Str20, _doc("The button's label.")]
    to: Annotated[Name, _doc("The state a tap goes to.")]


class RowConfig(_Table):
    """A row of a menu state's list; choosing it (or typing its title) goes to ``to``."""

    id: Annotated[str, Meta(min_length=1, max_length=200, description="The row's id.")]
    title: Annotated[Str24, _doc("The row's label.")]
    to: Annotated[Name, _doc("The state choosing it goes to.")]
    description: Annotated[Str72 | None, _doc("A second line under the title.")] = None


class SectionConfig(_Table):
    """A titled group of rows."""

    rows: Annotated[list[RowConfig], Meta(min_length=1, max_length=10)]
    title: Str24 | None = None


class TransitionConfig(_Table):
    """A transition by message: exactly one of ``id``, ``text``, ``regex``, ``flow``,
    ``type`` or ``any = true``, and the state it goes to."""

    to: Annotated[Name, _doc("The state it goes to.")]
    id: Annotated[Strings | None, _doc("Interactive reply id(s): a button or list row.")] = None
    text: Annotated[Strings | None, _doc("Exact text(s), surrounding spaces ignored.")] = None
    ignore_case: Annotated[bool, _doc("Compare `text` ignoring case.")] = False
    regex: Annotated[Name | None, _doc("A regular expression matching the whole text.")] = None
    flow: Annotated[Name | None, _doc("A completed Flow, by the name in its flow_token.")] = None
    type: Annotated[Strings | None, _doc("Message type(s), e.g. image.")] = None
    any: Annotated[bool, _doc("Any message (not reactions, revokes, system).")] = False


class MenuStateConfig(_Table):
    """A state of a config-only menu: what it sends on entry and where replies go."""

    text: Annotated[Name | None, _doc("Sent on entry; the body of the buttons or list.")] = None
    header: Str60 | None = None
    footer: Str60 | None = None
    buttons: Annotated[list[ButtonConfig], Meta(max_length=3, description="Up to 3 buttons.")] = []
    list_button: Annotated[Str20 | None, _doc("The label of the button opening the list.")] = None
    rows: Annotated[list[RowConfig], Meta(max_length=10, description="Rows of a list.")] = []
    sections: Annotated[list[SectionConfig], Meta(max_length=10)] = []
    transitions: list[TransitionConfig] = []
    timeout: Annotated[
        Annotated[float, Meta(gt=0)] | None, _doc("Idle seconds before going to timeout_to.")
    ] = None
    timeout_to: Annotated[Name | None, _doc("Where a timeout goes (default: initial).")] = None
    invalid_reply: Annotated[Name | None, _doc("Sent when nothing matches here.")] = None


class MenuConfig(_Table):
    """A config-only machine: ``[plugins.state_machine.menus.<name>]``."""

    initial: Annotated[Name, _doc("The state a conversation starts in.")]
    states: dict[str, MenuStateConfig]
    phone_number_ids: Annotated[list[Name], _doc("Numbers served (empty: the rest).")] = []
    invalid_reply: Annotated[Name | None, _doc("Sent when nothing matches.")] = None
    welcome_on_first_message: bool = True


class StateMachineConfig(_Table):
    """``[plugins.state_machine]``."""

    machine: Annotated[Name | None, _doc('A Python machine by import path: "mybot.flows:sm".')] = (
        None
    )
    machines: Annotated[list[Name], _doc("More Python machines by import path.")] = []
    menus: Annotated[dict[str, MenuConfig], _doc("Config-only machines by name.")] = {}
    numbers: Annotated[
        dict[str, Name], _doc("Phone number id -> machine name (overrides a machine's own).")
    ] = {}
    invalid_reply: Annotated[Name | None, _doc("The reply when nothing matches.")] = None


def config_key(*parts: str | int) -> str:
    """``plugins.state_machine.menus.support.states.main.buttons[0].to``."""
    key = "plugins.state_machine"
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key


def _goto(target: str) -> Handler:
    def goto() -> str:
        return target

    goto.__qualname__ = f"goto({target!r})"
    return goto


def _transition(check: F.Filter | None, target: str) -> Transition:
    handler = _goto(target)
    return Transition(check, handler, handler_plan(handler, (), "menu transition"))


def _as_list(value: list[str] | str | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


class _MenuBuilder:
    def __init__(self, source: str, name: str, menu: MenuConfig) -> None:
        self.source = source
        self.name = name
        self.menu = menu

    def fail(self, reason: str, *parts: str | int) -> ConfigError:
        return ConfigError(self.source, config_key("menus", self.name, *parts), reason)

    def target(self, target: str, *parts: str | int) -> str:
        if target not in self.menu.states:
            known = ", ".join(map(repr, self.menu.states))
            raise self.fail(f"no state named {target!r} in this menu (states: {known})", *parts)
        return target

    def build(self) -> StateMachine:
        menu = self.menu
        if not menu.states:
            raise self.fail("a menu needs at least one state", "states")
        self.target(menu.initial, "initial")
        machine = StateMachine(
            self.name,
            initial=menu.initial,
            phone_number_ids=menu.phone_number_ids,
            invalid_reply=menu.invalid_reply,
            welcome_on_first_message=menu.welcome_on_first_message,
        )
        for state_name, state in menu.states.items():
            self.state(machine, state_name, state)
        return machine

    def state(self, machine: StateMachine, name: str, state: MenuStateConfig) -> None:
        where = ("states", name)
        if state.timeout_to is not None:
            self.target(state.timeout_to, *where, "timeout_to")
            if state.timeout is None:
                raise self.fail("timeout_to needs a timeout", *where, "timeout_to")
        machine.add_state(
            name,
            prompt=self.prompt(state, where),
            timeout=state.timeout,
            timeout_to=state.timeout_to,
            invalid_reply=state.invalid_reply,
        )
        choices: list[tuple[str, str, str]] = []  # (id, title, to)
        for index, button in enumerate(state.buttons):
            choices.append(
                (button.id, button.title, self.target(button.to, *where, "buttons", index, "to"))
            )
        rows = [("rows", i, row) for i, row in enumerate(state.rows)]
        for s, section in enumerate(state.sections):
            rows += [(f"sections[{s}].rows", i, row) for i, row in enumerate(section.rows)]
        for field, index, row in rows:
            choices.append((row.id, row.title, self.target(row.to, *where, field, index, "to")))
        add = machine.states[name].transitions.append
        for reply_id, _, to in choices:
            add(_transition(F.reply(reply_id, exact=True), to))
        for index, transition in enumerate(state.transitions):
            check = self.trigger(transition, (*where, "transitions", index))
            to = self.target(transition.to, *where, "transitions", index, "to")
            add(_transition(check, to))
        for _, title, to in choices:
            add(_transition(F.text(title, ignore_case=True), to))

    def trigger(
        self, transition: TransitionConfig, where: tuple[str | int, ...]
    ) -> F.Filter | None:
        """The filter of one ``transitions`` entry (``None``: ``any = true``)."""
        given = [
            key
            for key in ("id", "text", "regex", "flow", "type")
            if getattr(transition, key) is not None
        ] + (["any"] if transition.any else [])
        if len(given) != 1:
            reason = "give exactly one of id, text, regex, flow, type or any = true"
            raise self.fail(f"{reason} (got {', '.join(given) or 'none'})", *where)
        kind = given[0]
        if kind == "regex":
            assert transition.regex is not None
            try:
                return F.regex(transition.regex)
            except re.error as exc:
                raise self.fail(f"invalid regular expression: {exc}", *where, "regex") from None
        if kind == "flow":
            assert transition.flow is not None
            try:
                return F.flow_completed(transition.flow)
            except ValueError as exc:
                raise self.fail(str(exc), *where, "flow") from None
        if kind == "any":
            return None
        values = _as_list(getattr(transition, kind))
        if not values or not all(values):
            raise self.fail("must not be empty", *where, kind)
        if kind == "id":
            return F.reply(*values, exact=True)
        if kind == "text":
            return F.text(*values, ignore_case=transition.ignore_case)
        return F.message_type(*values)

    def prompt(self, state: MenuStateConfig, where: tuple[str, str]) -> Outbound | None:
        rows = state.rows or [row for section in state.sections for row in section.rows]
        if state.buttons and rows:
            raise self.fail("a state has buttons or a list, not both", *where)
        if state.rows and state.sections:
            raise self.fail("give rows or sections, not both", *where, "sections")
        if (state.buttons or rows) and state.text is None:
            raise self.fail("buttons and lists need a text (their body)", *where, "text")
        if rows and state.list_button is None:
            raise self.fail("a list needs list_button (the label that opens it)", *where)
        if not rows and state.list_button is not None:
            raise self.fail("list_button without rows or sections", *where, "list_button")
        if state.text is None:
            if state.header is not None or state.footer is not None:
                raise self.fail("header and footer need a text", *where)
            return None
        try:
            if state.buttons:
                buttons = [ReplyButton(b.id, b.title) for b in state.buttons]
                return ReplyButtons(state.text, buttons, header=state.header, footer=state.footer)
            if rows:
                assert state.list_button is not None
                sections = (
                    [Section(rows=[self.row(r) for r in state.rows])]
                    if state.rows
                    else [
                        Section(title=s.title, rows=[self.row(r) for r in s.rows])
                        for s in state.sections
                    ]
                )
                return ListMessage(
                    state.text,
                    state.list_button,
                    sections,
                    header=state.header,
                    footer=state.footer,
                )
            if state.header is not None or state.footer is not None:
                raise self.fail("header and footer go with buttons or a list", *where)
            return Text(state.text)
        except ValueError as exc:
            raise self.fail(str(exc), *where) from None

    @staticmethod
    def row(row: RowConfig) -> Row:
        return Row(row.id, row.title, row.description)


def build_menu(source: str, name: str, menu: MenuConfig) -> StateMachine:
    """The machine of a config-only menu; :class:`ConfigError` names the key of a mistake."""
    return _MenuBuilder(source, name, menu).build()
