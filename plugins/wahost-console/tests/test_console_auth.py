"""The console is never reachable without credentials: real host, real loopback HTTP."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest
import wahost_console
from wahost_console.auth import COOKIE, CSRF_HEADER, Auth
from wahost_console.throttle import LoginThrottle
from wahost_console.web import CONSOLE, console_of

from wahost.config import ConfigError, ConsoleConfig, parse_config
from wahost.testing import BotHarness
from wahost.testing.harness import make_config
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_text

TOKEN = "console-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
USERNAME, PASSWORD = "admin", "console-password-9876"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()}
ENABLED = {"console": {"enabled": True, "token": TOKEN, "username": USERNAME, "password": PASSWORD}}

PAGES = [
    "/-/console",
    "/-/console/",
    "/-/console/dead",
    "/-/console/quarantine",
    "/-/console/conversations",
    "/-/console/conversation?user=1",
    "/-/console/message?wamid=x",
    "/-/console/plugins",
    "/-/console/chat",
]
API = [
    "/-/console/api/overview",
    "/-/console/api/chat/users",
    "/-/console/api/chat/items",
    "/-/console/static/console.css",
    "/-/console/static/console.js",
    "/-/console/static/chat.js",
]
POSTS = [
    "/-/console/dead/replay",
    "/-/console/dead/replay-all",
    "/-/console/logout",
    "/-/console/api/chat/act",
]


async def test_no_credentials_redirects_pages_and_refuses_the_rest(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for path in PAGES:
            response = await http.get(path)
            assert response.status_code == 303, path
            location = response.headers["location"]
            assert location.startswith("/-/console/login?next="), path
        for path in API:
            response = await http.get(path)
            assert response.status_code == 401, path
            assert "Bearer" in response.headers["www-authenticate"]
        for path in POSTS:
            assert (await http.post(path)).status_code == 401, path
        # Wrong secrets (more than the throttle lets through, which is tested elsewhere).
        console_of(bot.host).throttle = LoginThrottle(address_limit=100)
        for path in PAGES + API:
            wrong = {"Authorization": "Bearer not-the-token"}
            assert (await http.get(path, headers=wrong)).status_code == 401, path
        # The login page and its style are the only open doors.
        login = await http.get("/-/console/login")
        assert login.status_code == 200 and 'name="token"' in login.text
        assert (await http.get("/-/console/login/console.css")).status_code == 200
        assert (await http.get("/-/console/static/../auth.py")).status_code in (401, 404)


async def test_wrong_credentials_are_refused(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for header in (
            "Bearer nope",
            f"Bearer {TOKEN}x",
            "Basic " + base64.b64encode(f"{USERNAME}:wrong".encode()).decode(),
            "Basic " + base64.b64encode(f"root:{PASSWORD}".encode()).decode(),
            "Basic !!!notbase64",
            f"Token {TOKEN}",
        ):
            response = await http.get("/-/console/api/overview", headers={"Authorization": header})
            assert response.status_code == 401, header
        response = await http.get("/-/console/api/overview", headers={"Cookie": f"{COOKIE}=1.2.3"})
        assert response.status_code == 401


async def test_bearer_and_basic_open_every_page(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for headers in (BEARER, BASIC):
            for path in PAGES:
                response = await http.get(path, headers=headers)
                assert response.status_code == 200, path
                assert response.headers["content-type"].startswith("text/html")
                csp = response.headers["content-security-policy"]
                assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
                assert response.headers["x-content-type-options"] == "nosniff"
                assert "https://" not in response.text  # no external assets
            overview = await http.get("/-/console/api/overview", headers=headers)
            assert overview.json()["stats"]["dead"] == 0
        css = await http.get("/-/console/static/console.css", headers=BEARER)
        assert css.headers["content-type"].startswith("text/css")
        missing = await http.get("/-/console/static/nope.css", headers=BEARER)
        assert missing.status_code == 404
        # Header-authenticated POSTs need no CSRF token (no browser sends a bearer token).
        replay = await http.post("/-/console/dead/replay-all", headers=BEARER)
        assert replay.status_code == 303
        # A basic-auth POST from another site is refused: browsers replay basic auth.
        evil = {**BASIC, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert (await http.post("/-/console/dead/replay-all", headers=evil)).status_code == 403
        same = {**BASIC, "Origin": bot.url}
        assert (await http.post("/-/console/dead/replay-all", headers=same)).status_code == 303


async def test_login_form_sets_a_session_cookie_and_posts_need_csrf(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        refused = await http.post("/-/console/login", data={"token": "wrong"})
        assert refused.status_code == 401 and "Wrong token" in refused.text
        assert COOKIE not in refused.cookies
        response = await http.post(
            "/-/console/login", data={"token": TOKEN, "next": "/-/console/dead"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/-/console/dead"
        cookie = response.headers["set-cookie"]
        assert f"{COOKIE}=" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/-/console" in cookie
        assert TOKEN not in cookie
        # The client keeps the cookie: pages open.
        page = await http.get("/-/console/dead")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert csrf is not None
        token = csrf.group(1)
        # A POST without the CSRF token, or with a wrong one, is refused.
        assert (await http.post("/-/console/dead/replay-all")).status_code == 403
        bad = await http.post("/-/console/dead/replay-all", data={"csrf_token": "x" + token})
        assert bad.status_code == 403
        ok = await http.post("/-/console/dead/replay-all", data={"csrf_token": token})
        assert ok.status_code == 303
        ok = await http.post("/-/console/dead/replay-all", headers={CSRF_HEADER: token})
        assert ok.status_code == 303
        # Logging out ends the session, even for a client that kept the cookie.
        session = http.cookies[COOKIE]
        out = await http.post("/-/console/logout", data={"csrf_token": token})
        assert out.status_code == 303
        again = await http.get("/-/console/api/overview", headers={"Cookie": f"{COOKIE}={session}"})
        assert again.status_code == 401

        # The user name and password open a session too; "next" never leaves the console.
        http.cookies.clear()
        response = await http.post(
            "/-/console/login",
            data={"username": USERNAME, "password": PASSWORD, "next": "https://evil.example"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/-/console"
        assert (await http.get("/-/console/plugins")).status_code == 200
        wrong = await http.post("/-/console/login", data={"username": USERNAME, "password": "nope"})
        assert wrong.status_code == 401


async def test_disabled_console_has_no_routes(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for path in [*PAGES, *API, "/-/console/login"]:
            assert (await http.get(path, headers=BEARER)).status_code == 404, path
        assert (await http.post("/-/console/login", data={"token": TOKEN})).status_code == 404
        # The journal stays silent too.
        await bot.post(make_text("hi"))
        assert CONSOLE not in bot.host.slots


def test_sessions_are_signed_expire_and_die_with_the_process() -> None:
    config = ConsoleConfig(enabled=True, token=TOKEN, session_ttl=60)
    auth = Auth(config)
    session = auth.new_session(now=1000)
    assert auth.from_cookie(session, now=1001) is not None
    assert auth.from_cookie(session, now=1061) is None  # expired
    expires, nonce, signature = session.split(".")
    assert auth.from_cookie(f"{int(expires) + 999}.{nonce}.{signature}", now=1001) is None
    # Another process (another random key) does not accept it.
    assert Auth(config).from_cookie(session, now=1001) is None
    identity = auth.from_cookie(session, now=1001)
    assert identity is not None
    assert auth.check_csrf(identity, auth.csrf_token(identity))
    assert not auth.check_csrf(identity, None)


# -- configuration ------------------------------------------------------------------------


def config_error(tmp_path: Path, console: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, {"console": console})
    return str(info.value)


def test_enabled_without_credentials_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"enabled": True})
    assert message.startswith("<test>: console.token: required when the console is enabled")
    assert "password" in config_error(tmp_path, {"enabled": True, "username": "admin"})
    assert config_error(tmp_path, {"enabled": True, "token": ""}) == (
        "<test>: console.token: must not be empty"
    )
    assert config_error(tmp_path, {"tokn": "x"}) == "<test>: console.tokn: unknown key"
    # Off by default; a token alone, or a user and password, is enough.
    assert make_config(tmp_path).console.enabled is False
    assert make_config(tmp_path, {"console": {"enabled": True, "token": TOKEN}}).console.token
    both = {"enabled": True, "username": USERNAME, "password": PASSWORD}
    assert make_config(tmp_path, {"console": both}).console.username == USERNAME


def test_console_secrets_are_redacted_and_read_from_files(tmp_path: Path) -> None:
    config = make_config(tmp_path, ENABLED)
    assert TOKEN in config.secrets() and PASSWORD in config.secrets()
    redacted = config.redacted()["console"]
    assert redacted["token"] == "***" and redacted["password"] == "***"
    assert redacted["username"] == USERNAME
    (tmp_path / "console-token").write_text(TOKEN + "\n")
    text = (
        '[whatsapp]\nphone_number_id = "1"\ntoken = "t"\napp_secret = "s"\nverify_token = "v"\n'
        '[console]\nenabled = true\ntoken = { file = "console-token" }\n'
    )
    assert parse_config(text, base_dir=tmp_path).console.token == TOKEN
    wrong = text.replace('token = { file = "console-token" }', "password = 12345678")
    with pytest.raises(ConfigError) as info:
        parse_config(wrong, base_dir=tmp_path)
    assert str(info.value) == "<string>: console.password: expected str, got int"


def assert_secured(response: httpx.Response, what: str) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, what
    assert response.headers.get("x-content-type-options") == "nosniff", what
    assert response.headers.get("x-frame-options") == "DENY", what
    assert response.headers.get("cache-control") == "no-store", what


async def test_options_is_never_answered_without_credentials(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        paths = [*PAGES, *API, *POSTS, "/-/console/login", "/-/console/login/console.css"]
        for path in paths:
            for headers in ({}, BEARER):
                response = await http.options(path, headers=headers)
                assert response.status_code == 405, path
                assert "GET" not in response.text and "POST" not in response.text, path
                assert_secured(response, path)


async def test_every_answer_under_the_console_carries_its_security_headers(
    tmp_path: Path,
) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for method, path in [
            ("GET", "/-/console/nope"),
            ("GET", "/-/console/static/a/b.css"),
            ("GET", "/-/console/dead/replay"),  # POST only
            ("DELETE", "/-/console/dead"),
            ("PUT", "/-/console/login"),
            ("PATCH", "/-/console/api/overview"),
        ]:
            for headers in ({}, BEARER):
                response = await http.request(method, path, headers=headers)
                assert response.status_code in (404, 405), (method, path)
                assert_secured(response, f"{method} {path}")


async def test_odd_bytes_in_a_static_file_name_are_a_404(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        for name in [
            "console%00.css",
            "%00",
            "console.css%00.js",
            "con%ffsole.css",
            "%c3%a9.css",
            "a%0a.css",
            "x" * 300 + ".css",
            "..%2fauth.py",
            "console.css%20",
        ]:
            response = await http.get(f"/-/console/static/{name}", headers=BEARER)
            assert response.status_code == 404, name
            assert response.headers["x-content-type-options"] == "nosniff", name
        assert (await http.get("/-/console/static/console.css", headers=BEARER)).status_code == 200


async def test_a_basic_auth_post_from_a_page_of_another_origin_needs_the_token(
    tmp_path: Path,
) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        loopback_client(base_url=bot.url) as http,
    ):
        page = await http.get("/-/console/dead", headers=BASIC)
        token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        other = {**BASIC, "Origin": "http://evil.example"}
        assert (await http.post("/-/console/dead/replay-all", headers=other)).status_code == 403
        with_token = {**other, CSRF_HEADER: token}
        response = await http.post("/-/console/dead/replay-all", headers=with_token)
        assert response.status_code == 303
