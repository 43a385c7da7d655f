"""One home for wahost's public exceptions (issue 29): ``wahost.errors``, under ``WahostError``,
each still importable where it used to be defined."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import wahost
from wahost import errors
from wahost.errors import WahostError

#: Where each exception was defined before it moved to wahost.errors (still exported there).
OLD_HOMES = {
    "ConfigError": ["wahost.config", "wahost.config.base"],
    "PluginError": ["wahost.plugins"],
    "BotLoadError": ["wahost.bots"],
    "StartupError": ["wahost.host"],
    "TracingUnavailable": ["wahost.tracing"],
    "ScaffoldError": ["wahost.scaffold"],
    "DecodeError": ["wahost", "wahost.models", "wahost.models.common"],
    "QueueUnavailable": ["wahost.queue.base"],
    "StoreUnavailable": ["wahost.state.base"],
    "LeaseLost": ["wahost.queue.base"],
    "HookFailed": ["wahost.dispatch"],
    "AskTimeout": ["wahost", "wahost.dialogues", "wahost.dialogues.errors"],
    "ConversationCancelled": ["wahost", "wahost.dialogues", "wahost.dialogues.errors"],
    "DialogueDiverged": ["wahost.dialogues.errors"],
    "MarketingStopped": ["wahost.marketing"],
    "MediaPluginMissing": ["wahost.local_media"],
    "TokenHostError": ["wahost.graph_guard"],
    "InvalidGraphIdError": ["wahost.graph_guard"],
    "FormError": ["wahost.simulator.flowform"],
}


def test_every_exception_of_wahost_errors_is_a_wahost_error() -> None:
    classes = [
        cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and not name.startswith("_")
    ]
    assert len(classes) > 25
    assert all(issubclass(cls, WahostError) for cls in classes)
    assert wahost.WahostError is WahostError


@pytest.mark.parametrize(("name", "modules"), sorted(OLD_HOMES.items()))
def test_an_exception_is_still_exported_by_its_old_module(name: str, modules: list[str]) -> None:
    for module in modules:
        assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_the_plugins_errors_are_wahost_errors_too() -> None:
    from wahost_flows.crypto import FlowDecryptionError
    from wahost_media.errors import MediaError
    from wahost_profile.config import SettingError
    from wahost_state_machine.machine import StateMachineError
    from wahost_templates.checks import TemplateError

    for cls in (FlowDecryptionError, MediaError, SettingError, StateMachineError, TemplateError):
        assert issubclass(cls, WahostError), cls


def test_one_except_catches_what_wahost_raises_and_keeps_the_old_bases(tmp_path: Path) -> None:
    from wahost.config import load_config

    bad = tmp_path / "wahost.toml"
    bad.write_text("[whatsapp\n")
    with pytest.raises(WahostError, match=r"wahost\.toml"):
        load_config(bad)
    assert issubclass(errors.DecodeError, ValueError)  # ``except ValueError`` still catches it
