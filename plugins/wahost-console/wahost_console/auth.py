"""Who may use the console: a bearer token, basic auth, or a signed session cookie.

Credentials are compared in constant time. A login through the form yields a session cookie
``<expires>.<nonce>.<signature>``, signed with HMAC-SHA256 under a key derived from the
configured secrets and a random value drawn when the process starts: a restart, or a changed
token or password, ends every session. POSTs made with a session also carry a CSRF token, an
HMAC of the session; requests authenticated by an ``Authorization`` header need none (a page
cannot make a browser send a bearer token), but a basic-auth POST from another origin is
refused, since browsers replay basic credentials on their own.

Checking a secret yields a :class:`Claim` (how it was presented, which account it names,
whether it is right) so that the caller can throttle guessing (:mod:`wahost_console.throttle`)
before the answer counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from wahost.config import ConsoleConfig
from wahost_console.throttle import Account

COOKIE = "wahost_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

Method = Literal["bearer", "basic", "session"]
#: How a secret was presented: an ``Authorization`` header, or the login form.
Way = Literal["bearer", "basic", "header", "form"]


@dataclass(frozen=True)
class Identity:
    """An authenticated request: how it proved itself, and its session (cookie value)."""

    method: Method
    session: str = ""


@dataclass(frozen=True)
class Claim:
    """A secret presented once: how, for which account, and whether it is right."""

    way: Way
    account: Account
    identity: Identity | None


def _equal(given: str, expected: str | None) -> bool:
    if expected is None:
        # Still spend the comparison, so a missing credential answers in the same time.
        hmac.compare_digest(given.encode(), given.encode())
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class Auth:
    """Checks credentials, signs and verifies session cookies and CSRF tokens."""

    def __init__(self, config: ConsoleConfig) -> None:
        self._token = config.token
        self._username = config.username
        self._password = config.password
        self.session_ttl = config.session_ttl
        material = "\0".join(
            value or "" for value in (config.token, config.username, config.password)
        )
        # Per process: sessions do not survive a restart, and a leaked cookie dies with it.
        self._key = hmac.new(secrets.token_bytes(32), material.encode(), hashlib.sha256).digest()
        #: Sessions ended by logging out, until they would have expired anyway.
        self._revoked: deque[tuple[float, str]] = deque(maxlen=10_000)

    # -- credentials --------------------------------------------------------------------

    def check_token(self, token: str) -> bool:
        return bool(token) and _equal(token, self._token)

    def check_password(self, username: str, password: str) -> bool:
        # Both compared, always: no early exit on a wrong user name.
        user_ok = _equal(username, self._username)
        password_ok = _equal(password, self._password)
        return user_ok and password_ok and self._username is not None

    def account_of(self, username: str) -> Account:
        return "user" if _equal(username, self._username) else "other"

    def claim_header(self, header: str) -> Claim:
        """What an ``Authorization`` header claims: a bearer token, basic auth, or nothing
        valid (an unknown scheme or a malformed value counts as a wrong token)."""
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return Claim("bearer", "token", Identity("bearer") if self.check_token(value) else None)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return Claim("basic", "other", None)
            username, colon, password = decoded.partition(":")
            ok = bool(colon) and self.check_password(username, password)
            return Claim("basic", self.account_of(username), Identity("basic") if ok else None)
        return Claim("header", "other", None)

    def claim_form(self, token: str, username: str, password: str) -> Claim:
        """What the login form claims: the token if one was typed, else the user name and
        password."""
        if token:
            ok = self.check_token(token)
            return Claim("form", "token", Identity("session") if ok else None)
        ok = self.check_password(username, password)
        return Claim("form", self.account_of(username), Identity("session") if ok else None)

    # -- sessions -----------------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def new_session(self, now: float | None = None) -> str:
        """A signed cookie value that expires after ``session_ttl``."""
        expires = int((time.time() if now is None else now) + self.session_ttl)
        payload = f"{expires}.{secrets.token_urlsafe(16)}"
        return f"{payload}.{self._sign(payload)}"

    def from_cookie(self, value: str | None, now: float | None = None) -> Identity | None:
        """The session a cookie proves: signed by this process, not expired, not revoked."""
        if not value or value.count(".") != 2:
            return None
        payload, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        expires, _, _nonce = payload.partition(".")
        at = time.time() if now is None else now
        if not expires.isdigit() or int(expires) <= at:
            return None
        if any(hmac.compare_digest(value, ended) for _, ended in self._revoked):
            return None
        return Identity("session", session=value)

    def revoke(self, session: str) -> None:
        """End a session before it expires (logout)."""
        at = time.time()
        while self._revoked and self._revoked[0][0] <= at:
            self._revoked.popleft()
        expires = session.partition(".")[0]
        self._revoked.append((float(expires) if expires.isdigit() else at, session))

    # -- CSRF ---------------------------------------------------------------------------

    def csrf_token(self, identity: Identity) -> str:
        """The token forms and scripts send back with a POST."""
        return self._sign(f"csrf:{identity.method}:{identity.session}")

    def check_csrf(self, identity: Identity, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(identity).encode())
