"""The account plane's commands (``wahost groups``, ...) as real processes against the fake
Graph API: Meta's answers printed, Meta's errors as one line, bad input refused (exit 2)
before any request."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, FakeGraph

PNID = "106540352242922"
WABA = "102290129340398"
ALICE = "16505551234"
BOB = "16505550002"


def write_config(tmp_path: Path, graph: FakeGraph) -> str:
    path = tmp_path / "wahost.toml"
    path.write_text(
        f"""
[whatsapp]
phone_number_id = "{PNID}"
waba_id = "{WABA}"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "{TEST_APP_SECRET}"
verify_token = "v"
graph_url = "{graph.url}"

[queue]
path = "{tmp_path / "wahost.db"}"
"""
    )
    return str(path)


async def wahost(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    env = {**os.environ, "WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "none", **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wahost.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_groups_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        code, output = await wahost("groups", "create", "Support", "--approval", "-c", config)
        assert code == 0, output
        assert "requested (request_id " in output
        group_id = graph.group_webhooks[-1][1]["group_id"]
        graph.groups[group_id].participants.append("16505551234")

        code, output = await wahost("groups", "list", "-c", config)
        assert code == 0 and f"{group_id}  Support" in output, output
        code, output = await wahost("groups", "show", group_id, "-c", config)
        assert code == 0, output
        assert "join approval: approval_required" in output
        assert "participants (1): 16505551234" in output

        request_id = graph.add_join_request(group_id, "16505557777")
        code, output = await wahost("groups", "requests", group_id, "-c", config)
        assert code == 0 and f"{request_id}  16505557777" in output, output
        code, output = await wahost("groups", "approve", group_id, request_id, "-c", config)
        assert code == 0 and f"approved: {request_id}" in output, output

        code, output = await wahost("groups", "invite-link", group_id, "--reset", "-c", config)
        assert code == 0 and output.strip() == graph.groups[group_id].invite_link

        code, output = await wahost("groups", "set", group_id, "--subject", "Help", "-c", config)
        assert code == 0 and graph.groups[group_id].subject == "Help", output

        code, output = await wahost("groups", "remove", group_id, "16505550000", "-c", config)
        assert code == 1
        assert "(131212)" in output and len(output.strip().splitlines()) == 1

        code, output = await wahost("groups", "delete", group_id, "--yes", "-c", config)
        assert code == 0 and group_id not in graph.groups, output


async def test_groups_bad_input_is_refused_before_any_request(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        code, output = await wahost("groups", "create", "x" * 129, "-c", config)
        assert code == 2 and "subject: at most 128 characters" in output
        users = [str(16505550000 + n) for n in range(9)]
        code, output = await wahost("groups", "remove", "G", *users, "-c", config)
        assert code == 2 and "users: at most 8" in output
        code, output = await wahost("groups", "set", "G", "-c", config)
        assert code == 2 and "give --subject, --description or --picture" in output
        assert graph.requests == []


async def test_block_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        graph.blockable = {ALICE}
        code, output = await wahost("block", ALICE, BOB, "-c", config)
        assert code == 1, output
        assert f"blocked: {ALICE}" in output
        assert f"failed: {BOB}: (#131047)" in output
        code, output = await wahost("blocked", "-c", config)
        assert code == 0 and output.split() == [ALICE], output
        code, output = await wahost("unblock", ALICE, "-c", config)
        assert code == 0 and f"unblocked: {ALICE}" in output, output
        assert graph.blocked[PNID] == []
        requests = len(graph.requests)
        code, output = await wahost("block", "-c", config)
        assert code == 2 and "Missing argument" in output
        assert len(graph.requests) == requests


async def test_qr_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        code, output = await wahost("qr", "create", "Hello!", "--format", "SVG", "-c", config)
        assert code == 0, output
        [qr_code] = graph.qr_codes[PNID]
        assert f"{qr_code}  https://wa.me/message/{qr_code}  Hello!" in output
        assert ".svg" in output
        code, output = await wahost("qr", "update", qr_code, "Bye!", "-c", config)
        assert code == 0 and graph.qr_codes[PNID][qr_code] == "Bye!", output
        code, output = await wahost("qr", "list", "-c", config)
        assert code == 0 and f"{qr_code}  https://wa.me/message/{qr_code}  Bye!" in output
        code, output = await wahost("qr", "image", qr_code, "-c", config)
        assert code == 0 and output.strip().endswith(f"/{qr_code}.png"), output
        code, output = await wahost("qr", "delete", qr_code, "-c", config)
        assert code == 0 and graph.qr_codes[PNID] == {}, output
        code, output = await wahost("qr", "show", qr_code, "-c", config)
        assert code == 1 and "(100)" in output, output
        requests = len(graph.requests)
        code, output = await wahost("qr", "create", "x" * 141, "-c", config)
        assert code == 2 and "prefilled_message: at most 140" in output
        assert len(graph.requests) == requests


async def test_numbers_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        number = graph.add_number(PNID, WABA, "+1 555-010-1234")
        code, output = await wahost("numbers", "list", "-c", config)
        assert code == 0 and f"{PNID}  +1 555-010-1234" in output, output
        assert "quality: GREEN  limit: TIER_1K  throughput: STANDARD" in output
        code, output = await wahost(
            "numbers", "register", "-c", config, env={"WAHOST_PIN": "123456"}
        )
        assert code == 0 and number.status == "CONNECTED", output
        assert "123456" not in output
        code, output = await wahost("numbers", "request-code", "--method", "VOICE", "-c", config)
        assert code == 0 and number.pending_code, output
        code, output = await wahost("numbers", "verify-code", number.pending_code, "-c", config)
        assert code == 0 and number.code_verification_status == "VERIFIED", output
        code, output = await wahost("numbers", "display-name", "Lucky Shrub", "-c", config)
        assert code == 0, output
        code, output = await wahost("numbers", "show", "-c", config)
        assert code == 0 and "new display name: Lucky Shrub (PENDING_REVIEW)" in output, output
        code, output = await wahost("numbers", "deregister", "--yes", "-c", config)
        assert code == 0 and number.status == "DISCONNECTED", output
        requests = len(graph.requests)
        code, output = await wahost("numbers", "register", "-c", config, env={"WAHOST_PIN": "12"})
        assert code == 2 and "pin: must be 6 digits" in output
        assert len(graph.requests) == requests


async def test_calls_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        code, output = await wahost("calls", "permission", ALICE, "-c", config)
        assert code == 0, output
        assert f"{ALICE}: no_permission" in output
        assert "send_call_permission_request: yes (0/2 per P7D)" in output
        assert "start_call: no (0/100 per PT24H)" in output
        call_id = graph.add_call(ALICE, "v=0\r\n")
        code, output = await wahost("calls", "terminate", call_id, "-c", config)
        assert code == 0 and graph.voice_calls[call_id].state == "terminated", output
        code, output = await wahost("calls", "terminate", call_id, "-c", config)
        assert code == 1 and "(100)" in output and "terminated" in output


async def test_commerce_commands(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        config = write_config(tmp_path, graph)
        code, output = await wahost("commerce", "set", "--catalog", "--no-cart", "-c", config)
        assert code == 0, output
        code, output = await wahost("commerce", "show", "-c", config)
        assert code == 0 and "cart: off" in output and "catalog: visible" in output, output
        requests = len(graph.requests)
        code, output = await wahost("commerce", "set", "-c", config)
        assert code == 2 and "give --cart/--no-cart" in output
        assert len(graph.requests) == requests
