"""The console of one host: its templates, its guard (authentication, CSRF) and responses.

Every view goes through :meth:`Console.guard`: a request without valid credentials gets the
login page (a page) or 401 (the API, the static files); a POST authenticated by the session
cookie must carry the CSRF token. Every secret presented (an ``Authorization`` header, the
login form) passes :meth:`Console.admit`, which throttles guessing per client address and per
account and logs each refusal with the client's address. Templates are rendered by a Jinja2
environment of the console's own, with autoescaping on, and every answer forbids framing,
sniffing, caching and any script or style not served by the console itself.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import jinja2
import quart
import structlog

from wahost.slots import SlotKey
from wahost_console.auth import COOKIE, CSRF_FIELD, CSRF_HEADER, Auth, Claim, Identity
from wahost_console.journal import Journal
from wahost_console.sampler import RateSampler
from wahost_console.throttle import LoginThrottle, Refusal

if TYPE_CHECKING:
    from wahost.host import Wahost

PREFIX = "/-/console"

log = structlog.get_logger("wahost.console")

View = Callable[..., Awaitable[Any]]
Guarded = Callable[..., Awaitable[quart.Response]]

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _time(value: float | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def url(path: str = "", **query: Any) -> str:
    """A console URL: ``url("/dead")``, ``url("/conversation", key="1:2")``."""
    given = {key: value for key, value in query.items() if value is not None}
    return PREFIX + path + ("?" + urlencode(given) if given else "")


def safe_next(value: str | None) -> str:
    """Where to go after the login: only a console path, never another site."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX


class Console:
    """The console of one host (in the slot :data:`CONSOLE` of ``host.slots``)."""

    def __init__(self, host: Wahost) -> None:
        config = host.config.console
        self.host = host
        self.auth = Auth(config)
        self.throttle = LoginThrottle()
        self.journal: Journal | None = Journal(host) if config.history else None
        self.sampler: RateSampler | None = None
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("wahost_console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["time"] = _time
        self.env.filters["pretty"] = _pretty
        self.env.globals["url"] = url
        self.env.globals["quote"] = quote
        self.env.globals["prefix"] = PREFIX

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.sampler = RateSampler(
            self.host.queue, interval=self.host.config.console.sample_interval
        )
        self.sampler.start()

    async def stop(self) -> None:
        if self.sampler is not None:
            await self.sampler.stop()

    # -- responses ----------------------------------------------------------------------

    def render(
        self, template: str, identity: Identity | None, *, status: int = 200, **values: Any
    ) -> quart.Response:
        csrf = self.auth.csrf_token(identity) if identity is not None else ""
        html = self.env.get_template(template).render(
            csrf=csrf, csrf_field=CSRF_FIELD, identity=identity, **values
        )
        return self.secure(quart.Response(html, status=status, mimetype="text/html"))

    @staticmethod
    def secure(response: quart.Response) -> quart.Response:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def json(self, value: Any, *, status: int = 200) -> quart.Response:
        body = json.dumps(value, ensure_ascii=False, default=str)
        return self.secure(quart.Response(body, status=status, mimetype="application/json"))

    def redirect(self, location: str) -> quart.Response:
        response = quart.Response("", status=303)
        response.headers["Location"] = location
        return self.secure(response)

    # -- the guard ----------------------------------------------------------------------

    @staticmethod
    def client_address() -> str:
        """The client's address: the socket's peer, or — under uvicorn — the address that a
        trusted proxy (``FORWARDED_ALLOW_IPS``, default loopback) put in X-Forwarded-For."""
        return quart.request.remote_addr or "unknown"

    def admit(self, claim: Claim) -> Identity | Refusal | None:
        """The identity a presented secret proves, through the throttle: a :class:`Refusal`
        when the client must wait (whether the secret is right does not count then), ``None``
        when it is wrong. Every refusal is logged with the client's address, never the secret
        (a throttled client: at most one line every few seconds, with the count)."""
        address = self.client_address()
        now = time.monotonic()
        refusal = self.throttle.wait(address, claim.account, now)
        if refusal is not None:
            if refusal.log:
                log.warning(
                    "console login refused: too many failed attempts",
                    client=address,
                    way=claim.way,
                    account=claim.account,
                    path=quart.request.path,
                    retry_after=refusal.retry_after,
                    refused=refusal.count,
                )
            return refusal
        if claim.identity is not None:
            self.throttle.succeeded(address)
            return claim.identity
        failures = self.throttle.failed(address, claim.account, now)
        log.warning(
            "console login refused: wrong credentials",
            client=address,
            way=claim.way,
            account=claim.account,
            path=quart.request.path,
            failures=failures,
        )
        return None

    def identify(self) -> Identity | Refusal | None:
        request = quart.request
        header = request.headers.get("Authorization")
        if header:
            admitted = self.admit(self.auth.claim_header(header))
            if admitted is not None:
                return admitted
        return self.auth.from_cookie(request.cookies.get(COOKIE))

    def too_many(self, refusal: Refusal) -> quart.Response:
        response = self.json({"error": "too many failed logins: try again later"}, status=429)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response

    async def _post_allowed(self, identity: Identity) -> bool:
        request = quart.request
        if identity.method == "bearer":
            return True
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            token = (await request.form).get(CSRF_FIELD)
        if self.auth.check_csrf(identity, token):
            return True
        if identity.method == "basic":
            # Scripts using basic auth need no token, but browsers replay basic credentials
            # by themselves: refuse a POST that says it comes from another site.
            site = request.headers.get("Sec-Fetch-Site")
            if site is not None and site not in ("same-origin", "none"):
                return False
            origin = request.headers.get("Origin")
            return origin is None or urlsplit(origin).netloc == request.host
        return False

    def guard(self, view: View, kind: Literal["page", "api"] = "page") -> Guarded:
        """``view(identity, **route_args)`` behind authentication (and CSRF for POSTs)."""

        @functools.wraps(view)
        async def guarded(**kwargs: Any) -> quart.Response:
            request = quart.request
            identity = self.identify()
            if isinstance(identity, Refusal):
                return self.too_many(identity)
            if identity is None:
                # A wrong Authorization header is a script's mistake: 401, not the login form.
                browser = "Authorization" not in request.headers
                if kind == "page" and request.method == "GET" and browser:
                    return self.redirect(url("/login", next=request.full_path.rstrip("?")))
                response = self.json({"error": "authentication required"}, status=401)
                response.headers["WWW-Authenticate"] = 'Bearer realm="wahost console"'
                return response
            if request.method == "POST" and not await self._post_allowed(identity):
                log.warning("console POST refused: no valid CSRF token", path=request.path)
                return self.json({"error": "missing or wrong CSRF token"}, status=403)
            result = await view(identity, **kwargs)
            if isinstance(result, quart.Response):
                return self.secure(result)
            return self.json(result)

        return guarded

    # -- static files -------------------------------------------------------------------

    _TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    #: What a static file's name may be. Nothing else reaches the file system, where a NUL byte
    #: or an overlong name raises instead of answering "not found".
    _NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(?:css|js|svg)")

    def static(self, name: str) -> quart.Response | None:
        """A file of the package's ``static`` folder, or ``None``."""
        if not self._NAME.fullmatch(name):
            return None
        suffix = "." + name.rpartition(".")[2]
        try:
            data = resources.files("wahost_console").joinpath("static", name).read_bytes()
        except OSError:
            return None
        response = quart.Response(data, mimetype=self._TYPES[suffix])
        return self.secure(response)


#: The host's console.
CONSOLE: SlotKey[Console] = SlotKey("wahost.console")


def console_of(host: Wahost) -> Console:
    """The host's console, created on first use."""
    return host.slots.setdefault(CONSOLE, lambda: Console(host))
