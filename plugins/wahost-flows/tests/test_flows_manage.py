"""Flows as code (issue 27): ``wahost flows validate`` on good and broken files, ``push``
against the fake Graph API over HTTP (create, then nothing, then only what changed; Meta's
validation errors with line and path), the lifecycle commands, and the simulator opening the
same file."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import click
import wahost_flows
from click.testing import CliRunner, Result
from wahost_flows.flowjson import locate, validate, validate_text

from wahost.simulator.flowform import form_for
from wahost.simulator.session import load_flows
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, FakeGraph

FLOWS = Path(__file__).parent / "fixtures" / "flows"
WABA = "102290129340398"


def _root() -> click.Group:
    root = click.Group("wahost")
    wahost_flows.register_commands(root)
    return root


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(_root(), list(args))


async def _run(*args: str) -> Result:
    """The command in a thread, while the fake Graph API answers on this loop."""
    return await asyncio.to_thread(_invoke, *args)


def _project(tmp_path: Path, graph_url: str, flows: str = "", waba: str = WABA) -> Path:
    """A configuration beside a flows/ directory holding signup.json."""
    (tmp_path / "flows").mkdir(exist_ok=True)
    shutil.copy(FLOWS / "signup.json", tmp_path / "flows" / "signup.json")
    lines = [
        "[whatsapp]",
        f'phone_number_id = "{TEST_PHONE_NUMBER_ID}"',
        f'waba_id = "{waba}"',
        f'token = "{TEST_TOKEN}"',
        f'app_secret = "{TEST_APP_SECRET}"',
        'verify_token = "verify"',
        f'graph_url = "{graph_url}"',
        "[queue]",
        f'path = "{tmp_path / "wahost.db"}"',
        flows
        or '[[plugins.flows.flows]]\nname = "signup"\ncategories = ["SIGN_UP"]\n'
        'endpoint_uri = "https://bot.example.com/flows"',
    ]
    path = tmp_path / "wahost.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# -- validate ------------------------------------------------------------------------------


def test_a_good_flow_has_no_problem_and_validate_says_ok() -> None:
    assert validate(FLOWS / "signup.json") == []
    result = _invoke("flows", "validate", str(FLOWS / "signup.json"))
    assert result.exit_code == 0, result.output
    assert result.output == f"{FLOWS / 'signup.json'}: ok\n"


def test_every_problem_of_a_broken_flow_has_its_line_column_and_path() -> None:
    found = [(p.line, p.column, p.path, p.message) for p in validate(FLOWS / "broken.json")]
    assert found == [
        (5, 17, "routing_model.DETAILS[0]", "no screen 'CONFIRM'"),
        (5, 28, "routing_model.DETAILS[1]", "no screen 'PAYMENT'"),
        (7, 14, "screens", 'no terminal screen: mark the last one "terminal": true'),
        (10, 16, "screens[0].title", "${data.heading}: 'heading' is not in the screen's data"),
        (
            15,
            41,
            "screens[0].layout.children[1].name",
            "input name 'email' is used twice in the screen",
        ),
        (21, 50, "screens[0].layout.children[2].on-click-action.next.name", "no screen 'SUMMARY'"),
        (
            22,
            36,
            "screens[0].layout.children[2].on-click-action.payload.phone",
            "${form.phone}: no input named 'phone' in this screen",
        ),
        (29, 13, "screens[1].id", "screen id 'DETAILS' is used twice"),
        (
            31,
            71,
            "screens[1].layout.children[0].on-click-action.name",
            "unknown action 'submit' (complete, navigate, data_exchange, update_data, open_url)",
        ),
    ]
    lines = (FLOWS / "broken.json").read_text().splitlines()
    assert lines[20][49:].startswith('"SUMMARY"')  # line 21, column 50: the value itself
    result = _invoke("flows", "validate", str(FLOWS / "broken.json"))
    assert result.exit_code == 1
    assert f"{FLOWS / 'broken.json'}:21:50: screens[0].layout.children[2]" in result.output
    assert "Error: 9 errors found" in result.output


def test_version_routing_and_syntax_rules() -> None:
    def problems(document: dict[str, Any]) -> list[str]:
        return [f"{p.path}: {p.severity}: {p.message}" for p in validate_text(json.dumps(document))]

    screen = {"id": "A", "terminal": True, "layout": {"type": "SingleColumnLayout", "children": []}}
    assert problems({"version": "7.3", "screens": [screen]}) == []
    assert problems({"screens": [screen]}) == [
        'version: error: required: the Flow JSON version, e.g. "7.3"'
    ]
    assert problems({"version": 7, "screens": [screen]}) == [
        'version: error: must be a "<major>.<minor>" string (got 7)'
    ]
    [old] = problems({"version": "3.1", "screens": [screen]})
    assert old.startswith("version: warning: 3.1 can still be sent but not published")
    [unknown] = problems({"version": "9.9", "screens": [screen]})
    assert unknown.startswith("version: error: 9.9 is not a version Meta publishes")
    assert problems({"version": "7.3", "data_api_version": "4.0", "screens": [screen]}) == [
        "routing_model: error: required when data_api_version is set"
    ]
    assert problems({"version": "7.3", "screens": []}) == [
        "screens: error: required: a non-empty list of screens"
    ]
    [syntax] = validate_text('{\n  "version": "7.3",\n  "screens": [}\n')
    assert (syntax.line, syntax.column, syntax.path) == (3, 15, "")
    assert syntax.message.startswith("invalid JSON: ")


def test_locate_gives_the_start_of_every_value() -> None:
    text = '{"a": [1, {"b": "x"}],\n "c": {}}'
    assert locate(text) == {
        (): (1, 1),
        ("a",): (1, 7),
        ("a", 0): (1, 8),
        ("a", 1): (1, 11),
        ("a", 1, "b"): (1, 17),
        ("c",): (2, 7),
    }


def test_the_simulator_renders_the_declared_files() -> None:
    """``wahost simulate --flows flows/`` opens the files push sends, by the Flow's name."""
    flows = dict(load_flows(FLOWS))
    form = form_for(flows["signup"], screen=None, data=None, cta="Sign up")
    assert [field.name for field in form.fields] == ["email", "plan"]


# -- push and the lifecycle, against the fake Graph API ------------------------------------------


async def test_push_creates_then_changes_nothing_then_only_what_differs(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = _project(tmp_path, graph.url)
        first = await _run("flows", "push", "--config", str(config))
        assert first.exit_code == 0, first.output
        assert "create signup (SIGN_UP)" in first.output
        flow = graph.flow_named("signup")
        assert flow is not None and flow.waba_id == WABA
        assert flow.categories == ["SIGN_UP"]
        assert flow.endpoint_uri == "https://bot.example.com/flows"
        assert json.loads(flow.flow_json or "") == json.loads((FLOWS / "signup.json").read_text())
        assert flow.status == "DRAFT"

        before = len(graph.requests)
        second = await _run("flows", "push", "--config", str(config))
        assert second.exit_code == 0, second.output
        assert second.output.strip() == "nothing to change"
        assert all(r.method == "GET" for r in graph.requests[before:])

        # Reformatting the file is no change; a new label is one upload, and nothing else.
        path = tmp_path / "flows" / "signup.json"
        document = json.loads(path.read_text())
        path.write_text(json.dumps(document))
        assert (await _run("flows", "push", "--config", str(config))).output == (
            "nothing to change\n"
        )
        document["screens"][0]["title"] = "Join us"
        path.write_text(json.dumps(document, indent=4))
        before = len(graph.requests)
        third = await _run("flows", "push", "--config", str(config), "--publish")
        assert third.exit_code == 0, third.output
        assert third.output.splitlines() == [
            f"upload the Flow JSON of signup from {path}",
            "publish signup",
        ]
        posts = [r.path for r in graph.requests[before:] if r.method != "GET"]
        assert posts == [f"/v24.0/{flow.id}/assets", f"/v24.0/{flow.id}/publish"]
        assert flow.status == "PUBLISHED"
        assert json.loads(flow.flow_json or "")["screens"][0]["title"] == "Join us"

        config.write_text(config.read_text().replace('["SIGN_UP"]', '["SIGN_UP", "OTHER"]'))
        dry = await _run("flows", "push", "--config", str(config), "--dry-run")
        assert dry.output == "would update signup: categories\n"
        assert flow.categories == ["SIGN_UP"]
        fourth = await _run("flows", "push", "--config", str(config))
        assert fourth.output == "update signup: categories\n"
        assert flow.categories == ["SIGN_UP", "OTHER"]


async def test_meta_validation_errors_are_shown_with_line_and_path(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        graph.flow_json_versions = ("7.3",)  # Meta no longer publishes the file's 7.2
        config = _project(tmp_path, graph.url)
        result = await _run("flows", "push", "--config", str(config), "--publish")
        assert result.exit_code == 1
        path = tmp_path / "flows" / "signup.json"
        assert (
            f"{path}:2:14: version: INVALID_PROPERTY_VALUE: Flow JSON version '7.2' is not "
            "supported: use one of 7.3." in result.output
        )
        assert "Meta found errors in signup: fix the file and push again" in result.output
        flow = graph.flow_named("signup")
        assert flow is not None and flow.status == "DRAFT"  # not published


async def test_local_errors_stop_the_push_before_any_request(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = _project(tmp_path, graph.url)
        shutil.copy(FLOWS / "broken.json", tmp_path / "flows" / "signup.json")
        result = await _run("flows", "push", "--config", str(config))
        assert result.exit_code == 1
        assert "not pushed: 9 errors in the Flow JSON" in result.output
        assert graph.requests == []


async def test_list_publish_preview_metrics_deprecate_delete(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = _project(tmp_path, graph.url)
        assert (await _run("flows", "push", "--config", str(config))).exit_code == 0
        flow = graph.flow_named("signup")
        assert flow is not None
        other = graph.add_flow("survey", waba_id=WABA, categories=["SURVEY"])
        graph.add_flow("elsewhere", waba_id="999")

        listed = await _run("flows", "list", "--config", str(config))
        assert listed.output.splitlines() == [
            f"{flow.id}  DRAFT      signup  [SIGN_UP] (declared)",
            f"{other.id}  DRAFT      survey  [SURVEY]",
        ]
        published = await _run("flows", "publish", "signup", "--config", str(config))
        assert published.output == f"published signup ({flow.id})\n"
        assert flow.status == "PUBLISHED"

        preview = await _run("flows", "preview", flow.id, "--config", str(config))
        assert preview.exit_code == 0
        url = preview.stdout.strip()
        assert url.startswith(f"https://business.facebook.com/wa/manage/flows/{flow.id}/preview/")
        again = await _run("flows", "preview", "signup", "--config", str(config))
        assert again.stdout.strip() == url
        fresh = await _run("flows", "preview", "signup", "--invalidate", "--config", str(config))
        assert fresh.stdout.strip() != url

        graph.set_flow_metric(
            flow.id,
            "ENDPOINT_REQUEST_COUNT",
            [{"timestamp": "2026-12-01T08:00:00+0000", "data": [{"key": "value", "value": 312}]}],
        )
        metrics = await _run(
            "flows", "metrics", "signup", "--since", "2026-12-01", "--config", str(config)
        )
        assert metrics.output == "2026-12-01T08:00:00+0000  value=312\n"
        asked = graph.requests[-1].params["fields"]
        assert asked == "metric.name(ENDPOINT_REQUEST_COUNT).granularity(DAY).since(2026-12-01)"

        refused = await _run("flows", "delete", "signup", "--yes", "--config", str(config))
        assert refused.exit_code == 1 and "cannot be deleted: deprecate it" in refused.output
        deprecated = await _run("flows", "deprecate", "signup", "--yes", "--config", str(config))
        assert deprecated.output == f"deprecated signup ({flow.id})\n"
        assert flow.status == "DEPRECATED"
        deleted = await _run("flows", "delete", "survey", "--yes", "--config", str(config))
        assert deleted.output == f"deleted survey ({other.id})\n"
        assert other.id not in graph.flows
        missing = await _run("flows", "publish", "nope", "--config", str(config))
        assert missing.exit_code == 1 and f"no Flow named 'nope' in WABA {WABA}" in missing.output


async def test_configuration_mistakes_are_one_line_naming_the_key(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        no_waba = _project(tmp_path, graph.url, waba="")
        result = await _run("flows", "push", "--config", str(no_waba))
        assert result.output == (
            f"Error: {no_waba}: whatsapp.waba_id: set the WhatsApp Business Account id; "
            "Flows belong to it\n"
        )
        bad = _project(
            tmp_path, graph.url, '[[plugins.flows.flows]]\nname = "x"\ncategories = ["FUN"]'
        )
        result = await _run("flows", "push", "--config", str(bad))
        assert result.exit_code == 1
        assert f"{bad}: plugins.flows.flows[0].categories[0]: 'FUN' is not a Flow category" in (
            result.output
        )
        missing = _project(tmp_path, graph.url, '[[plugins.flows.flows]]\nname = "gone"')
        result = await _run("flows", "push", "--config", str(missing))
        assert f"{missing}: plugins.flows.flows[0].name: cannot read the Flow JSON" in result.output
        result = await _run(
            "flows", "push", "other", "--config", str(_project(tmp_path, graph.url))
        )
        assert "no Flow named other is declared (declared: signup)" in result.output
        assert graph.requests == []
