"""Meta's limits for [plugins.profile], each at its boundary, with errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wahost_profile
from wahost_profile import ProfileConfig, SettingError
from wahost_profile.limits import find_emoji

from wahost import Wahost
from wahost.config import ConfigError, validate_plugin_settings
from wahost.testing import make_config


def command(name: str = "menu", description: str = "Show the menu") -> dict[str, str]:
    return {"command_name": name, "command_description": description}


def commands(n: int) -> list[dict[str, str]]:
    return [command(f"c{i}", f"command {i}") for i in range(n)]


def error(tmp_path: Path, table: dict[str, Any]) -> str:
    config = make_config(tmp_path, {"plugins": {"profile": table}})
    with pytest.raises(ConfigError) as caught:
        validate_plugin_settings(config, {"profile": ProfileConfig})
    return str(caught.value)


def valid(tmp_path: Path, table: dict[str, Any]) -> ProfileConfig:
    config = make_config(tmp_path, {"plugins": {"profile": table}})
    settings: ProfileConfig = validate_plugin_settings(config, {"profile": ProfileConfig})[
        "profile"
    ]
    return settings


def test_the_example_of_the_documentation_is_valid(tmp_path: Path) -> None:
    settings = valid(
        tmp_path,
        {
            "enable_welcome_message": True,
            "prompts": ["Book a table", "Opening hours"],
            "apply_on_start": False,
            "commands": [command()],
        },
    )
    assert settings.commands is not None and settings.commands[0].command_name == "menu"
    assert settings.manages_automation and not settings.manages_profile


def test_nothing_declared_manages_nothing(tmp_path: Path) -> None:
    settings = valid(tmp_path, {})
    assert not settings.manages_automation and not settings.manages_profile


# -- conversational components: reference/cloudapi.md §11 ----------------------------------


def test_thirty_commands_pass_thirty_one_do_not(tmp_path: Path) -> None:
    valid(tmp_path, {"commands": commands(30)})
    assert error(tmp_path, {"commands": commands(31)}) == (
        "<test>: plugins.profile.commands: expected at most 30 commands, got 31"
    )


def test_command_name_of_32_characters_passes_33_do_not(tmp_path: Path) -> None:
    table = {"commands": [*commands(3), command("n" * 32)]}
    valid(tmp_path, table)
    table["commands"][3] = command("n" * 40)
    assert error(tmp_path, table) == (
        "<test>: plugins.profile.commands[3].command_name: expected at most 32 characters, got 40"
    )
    table["commands"][3] = command("n" * 33)
    assert "got 33" in error(tmp_path, table)


def test_command_description_of_256_characters_passes_257_do_not(tmp_path: Path) -> None:
    valid(tmp_path, {"commands": [command(description="d" * 256)]})
    assert error(tmp_path, {"commands": [command(description="d" * 257)]}) == (
        "<test>: plugins.profile.commands[0].command_description: "
        "expected at most 256 characters, got 257"
    )


def test_four_prompts_pass_five_do_not(tmp_path: Path) -> None:
    valid(tmp_path, {"prompts": ["a", "b", "c", "d"]})
    assert error(tmp_path, {"prompts": ["a", "b", "c", "d", "e"]}) == (
        "<test>: plugins.profile.prompts: expected at most 4 prompts, got 5"
    )


def test_prompt_of_80_characters_passes_81_do_not(tmp_path: Path) -> None:
    valid(tmp_path, {"prompts": ["p" * 80]})
    assert error(tmp_path, {"prompts": ["ok", "p" * 81]}) == (
        "<test>: plugins.profile.prompts[1]: expected at most 80 characters, got 81"
    )


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"commands": [command("pizza🍕")]}, "commands[0].command_name"),
        (
            {"commands": [command(description="Show the 🍕 menu")]},
            "commands[0].command_description",
        ),
        ({"prompts": ["Book a table", "Opening hours ⏰"]}, "prompts[1]"),
    ],
)
def test_emoji_are_refused_where_meta_forbids_them(
    tmp_path: Path, table: dict[str, Any], key: str
) -> None:
    assert f"plugins.profile.{key}: emoji are not allowed (U+" in error(tmp_path, table)


def test_the_emoji_error_points_at_the_symbol_and_its_selector(tmp_path: Path) -> None:
    message = error(tmp_path, {"prompts": ["We \u2764\ufe0f pizza"]})
    assert message == (
        "<test>: plugins.profile.prompts[0]: emoji are not allowed (U+2764 U+FE0F at index 3), "
        "got 'We \u2764\ufe0f pizza'"
    )


@pytest.mark.parametrize(
    "text",
    [
        "\U0001f355",  # pizza (supplementary pictographs)
        "\U0001f600",  # grinning face (emoticons)
        "\U0001f1eb\U0001f1f7",  # a flag: regional indicators
        "\U0001f44d\U0001f3fd",  # thumbs up with a skin tone
        "\u2705",  # check mark button (BMP, emoji presentation)
        "\u26a1",  # high voltage
        "\u2b50",  # star
        "\u2764\ufe0f",  # red heart: text symbol + VS16
        "1\ufe0f\u20e3",  # keycap one
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family: a ZWJ sequence
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    ],
)
def test_find_emoji_detects(text: str) -> None:
    assert find_emoji(f"a {text} b") is not None


@pytest.mark.parametrize(
    "text",
    [
        "Book a table",
        "Ça coûte 5 € — 10 % de réduction",
        "日本語のメニュー",
        "Оплата картой",
        "\u0915\u094d\u200d\u0937",  # Devanagari with a zero-width joiner: not an emoji
        "\u00a9 \u2122 \u2764",  # text-presentation symbols without VS16
        "* # 1-2",
    ],
)
def test_find_emoji_leaves_text_alone(text: str) -> None:
    assert find_emoji(text) is None


# -- wahost's own rules for command names ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("/menu", "write the name without the leading /"),
        ("the menu", "must not contain white space"),
    ],
)
def test_command_names_must_be_typeable(tmp_path: Path, name: str, reason: str) -> None:
    assert f"plugins.profile.commands[0].command_name: {reason}" in error(
        tmp_path, {"commands": [command(name)]}
    )


def test_a_command_declared_twice_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, {"commands": [command("menu"), command("Menu")]})
    assert message == (
        "<test>: plugins.profile.commands[1].command_name: already declared as "
        "commands[0].command_name (ignoring case), got 'Menu'"
    )


def test_an_empty_description_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, {"commands": [command(description="")]})
    assert "plugins.profile.commands[0].command_description: must not be empty" in message


def test_structure_errors_name_the_key(tmp_path: Path) -> None:
    missing = error(tmp_path, {"commands": [{"command_name": "menu"}]})
    assert (
        missing
        == "<test>: plugins.profile.commands[0].command_description: required key is missing"
    )
    unknown = error(tmp_path, {"commands": [{**command(), "hint": "x"}]})
    assert unknown == "<test>: plugins.profile.commands[0].hint: unknown key"
    assert error(tmp_path, {"prompt": ["x"]}) == "<test>: plugins.profile.prompt: unknown key"


# -- business profile (UNVERIFIED limits) ----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "ok", "bad", "reason"),
    [
        ("about", "a" * 139, "a" * 140, "expected at most 139 characters, got 140"),
        ("about", "a", "", "must not be empty"),
        ("address", "a" * 256, "a" * 257, "expected at most 256 characters, got 257"),
        ("description", "d" * 512, "d" * 513, "expected at most 512 characters, got 513"),
        ("email", "shop@example.com", "shop.example.com", "expected an e-mail address"),
        ("email", "", "a@b.c" + "c" * 124, "expected at most 128 characters, got 129"),
        ("vertical", "RESTAURANT", "RESTAURANTS", 'expected "" or one of ALCOHOL'),
        ("vertical", "", "restaurant", 'expected "" or one of'),
    ],
)
def test_business_profile_limits(tmp_path: Path, key: str, ok: str, bad: str, reason: str) -> None:
    assert getattr(valid(tmp_path, {key: ok}), key) == ok
    assert f"plugins.profile.{key}: {reason}" in error(tmp_path, {key: bad})


def test_websites(tmp_path: Path) -> None:
    valid(tmp_path, {"websites": ["https://a.example", "http://" + "b" * 249]})
    assert error(tmp_path, {"websites": ["https://a", "https://b", "https://c"]}) == (
        "<test>: plugins.profile.websites: expected at most 2 websites, got 3"
    )
    assert "plugins.profile.websites[1]: must start with http:// or https://" in error(
        tmp_path, {"websites": ["https://a", "www.b.example"]}
    )
    assert "websites[0]: expected at most 256 characters, got 257" in error(
        tmp_path, {"websites": ["https://" + "b" * 249]}
    )


def test_the_about_text_may_have_emoji(tmp_path: Path) -> None:
    valid(tmp_path, {"about": "Pizza \U0001f355 since 1990"})


# -- where the errors surface ---------------------------------------------------------------


def test_a_host_refuses_to_be_created_with_a_broken_table(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"profile": {"prompts": ["p" * 81]}}})
    with pytest.raises(ConfigError, match=r"plugins\.profile\.prompts\[0\]: expected at most 80"):
        Wahost(config, plugins=[wahost_profile], load_entrypoints=False)


def test_constructing_the_struct_in_code_raises_a_setting_error() -> None:
    with pytest.raises(SettingError) as caught:
        ProfileConfig(prompts=["a"] * 5)
    assert (caught.value.key, caught.value.reason) == (
        "prompts",
        "expected at most 4 prompts, got 5",
    )


def test_problems_lists_every_broken_limit() -> None:
    settings = ProfileConfig()
    settings.prompts = ["a"] * 5 + ["b" * 81]  # structs are not validated on assignment
    assert [str(problem) for problem in settings.problems()] == [
        "prompts: expected at most 4 prompts, got 6",
        "prompts[5]: expected at most 80 characters, got 81",
    ]
