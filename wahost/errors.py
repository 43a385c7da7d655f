"""Every public exception of wahost, under one base: :class:`WahostError`.

``except WahostError`` catches whatever wahost raises on purpose — a configuration it refuses,
a plugin that cannot load, a store that cannot commit, a Graph API error — and nothing else.
The modules that raise them import them from here; their old homes (``wahost.config``,
``wahost.queue.base``, ``wahost.dispatch``, ...) still export them.

The Graph API's errors are typed by the families a sender must treat differently. Meta's error
body (reference/cloudapi.md §6)::

    {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
               "error_data": {"messaging_product": "whatsapp", "details": "..."},
               "error_subcode": 2494055, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}

Logic keys off ``code`` (and ``details``), never the HTTP status: Meta's pages disagree on the
status of the throttling codes (§7). Which codes are retried follows the table in §7.

``HandlerSkipped`` (``ctx.skip()``) and the dialogue's suspension are signals, not errors:
they stay with the router and the dialogues.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class WahostError(Exception):
    """The base of every exception wahost raises on purpose."""


# -- configuration, plugins and start-up ----------------------------------------------------


class ConfigError(WahostError):
    """The configuration is invalid: ``str(err)`` is ``"<source>: <key>: <reason>"``.

    ``source`` is the file, ``key`` the dotted key path (``whatsapp.token``; empty for an error
    about the whole file) and ``reason`` what is wrong. TOML syntax errors leave ``key`` empty
    and set ``line`` and ``column`` instead.
    """

    def __init__(
        self,
        source: str,
        key: str,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(source, key, reason)
        self.source = source
        self.key = key
        self.reason = reason
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.reason}"
        if self.line is not None:
            return f"{self.source}: line {self.line}, column {self.column}: {self.reason}"
        return f"{self.source}: {self.reason}"


class PluginError(WahostError):
    """A plugin cannot be used; raised at start-up (always for unknown hooks, for import
    errors only in strict mode)."""


class BotLoadError(WahostError):
    """A bot module cannot be used. ``str(exc)`` is one line: what is wrong and the fix,
    without the name it was given under (the caller adds ``--bot x`` or the config key)."""


class StartupError(WahostError):
    """The host cannot start (no backend for the configured name, a plugin's start-up failed)."""


class TracingUnavailable(WahostError):
    """``[tracing] enabled`` but the OpenTelemetry packages are not installed."""


class ScaffoldError(WahostError, ValueError):
    """The name or the target directory cannot be used."""


# -- ingress, storage and dispatch ----------------------------------------------------------


class DecodeError(WahostError, ValueError):
    """A webhook body or a stored unit that cannot be decoded.

    Raised by :func:`wahost.units.split` for a body that is not a webhook envelope (invalid
    JSON, wrong types in the envelope's structure, ``object`` missing) and by
    :func:`wahost.models.decode_unit` for an item that does not match its model. These are the
    only exceptions either function raises.
    """


class QueueUnavailable(WahostError):
    """The queue could not durably store or change units (disk full, locked, server down)."""


class StoreUnavailable(WahostError):
    """The state store could not read or write now (server down, timeout, disk full).

    Backends raise it or a subclass of it, so that callers that can wait for the store to come
    back (the worker's ack, the reply outbox) recognise the failure whatever the backend.
    """


class LeaseLost(WahostError):
    """The lease expired and the unit was handed to another worker; this result is dropped."""


class HookFailed(WahostError):
    """One or more implementations of a hook raised while handling a unit.

    The worker retries the unit. ``errors`` lists ``(plugin name, exception)``.
    """

    def __init__(self, hook: str, errors: list[tuple[str, BaseException]]) -> None:
        self.hook = hook
        self.errors = errors
        names = ", ".join(f"{plugin}: {type(exc).__name__}: {exc}" for plugin, exc in errors)
        super().__init__(f"{hook} failed in {names}")


# -- dialogues ------------------------------------------------------------------------------


class AskTimeout(WahostError):
    """Raised by ``await ctx.ask(...)`` (or ``ask_choice``, ``wait_status``) when its
    ``timeout`` is up before an answer came — also when the process that asked has died since.

    Catch it to go on (ask again, say goodbye); left uncaught it ends the dialogue.
    """

    def __init__(self, step: int, timeout: float | None = None) -> None:
        #: The number of the ask that timed out (0 for a dialogue's first).
        self.step = step
        self.timeout = timeout
        after = f" after {timeout:g} s" if timeout is not None else ""
        super().__init__(f"no answer to step {step} of the dialogue{after}")


class ConversationCancelled(WahostError):
    """Raised by a waiting ``ask`` when the user sent the cancel command (``[dialogues]
    cancel_command``, ``/cancel`` by default).

    Catch it to answer ("Cancelled."); left uncaught it ends the dialogue.
    """

    def __init__(self, step: int) -> None:
        #: The number of the ask that was waiting.
        self.step = step
        super().__init__(f"the user cancelled the dialogue at step {step}")


class DialogueDiverged(WahostError):
    """A replay of a dialogue did not do what its journal recorded (another send, another ask,
    a handler whose filters no longer match its first message): its code changed, or does
    something that is not the same on every run. The dialogue ends; nothing is sent."""


# -- the Graph API ---------------------------------------------------------------------------


class GraphError(WahostError):
    """An error answer of the Graph API.

    ``code`` is Meta's error code (``None`` when the body was not a Graph error, e.g. a proxy's
    HTML 502), ``subcode`` the deprecated ``error_subcode``, ``title`` the message text,
    ``details`` ``error_data.details``, ``fbtrace_id`` Meta's trace id for support requests.
    """

    #: Whether sending the same request again later may succeed.
    retryable: ClassVar[bool] = False
    #: The codes of this family (used to pick the subclass).
    codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        title: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        details: str | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.title = title
        self.code = code
        self.subcode = subcode
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.error_type = error_type
        #: Seconds from a ``Retry-After`` header, when Meta sent one.
        self.retry_after = retry_after
        label = f"({code}) " if code is not None else ""
        extra = f": {details}" if details and details != title else ""
        super().__init__(f"{label}{title}{extra}")


class ThrottlingError(GraphError):
    """Throughput or call-rate limit of the app, the account or the phone number: slow down
    and retry (4, 80007, 130429)."""

    retryable = True
    codes = frozenset({4, 80007, 130429})


class PairRateLimitError(GraphError):
    """Too many messages to the same recipient in a short time (131056): wait before sending
    to *that* user again; other users are not affected."""

    retryable = True
    codes = frozenset({131056})


class SpamRateLimitError(GraphError):
    """The number is restricted for sending too much (131048): stop bulk sends; not retried."""

    codes = frozenset({131048})


class ReengagementError(GraphError):
    """The user last wrote more than 24 hours ago (131047): only a template can be sent."""

    codes = frozenset({131047})


class AuthError(GraphError):
    """The access token is expired or invalid, or lacks a permission (190, 0, 10, 200 to 299):
    replace the token; not retried."""

    codes = frozenset({0, 10, 190, *range(200, 300)})


class InvalidParameterError(GraphError):
    """The request is wrong (100, 131008, 131009): fix it; not retried."""

    codes = frozenset({100, 131008, 131009})


class TemporaryError(GraphError):
    """A temporary failure on Meta's side (1, 2, 131000, 131016, 131057): retried."""

    retryable = True
    codes = frozenset({1, 2, 131000, 131016, 131057})


class RecipientNotAllowedError(GraphError):
    """The recipient is not in the allowed list of a test number (131030); not retried."""

    codes = frozenset({131030})


class ServerError(GraphError):
    """An HTTP 5xx answer that is not a Graph error body (a proxy or an outage): retried."""

    retryable = True


FAMILIES: tuple[type[GraphError], ...] = (
    ThrottlingError,
    PairRateLimitError,
    SpamRateLimitError,
    ReengagementError,
    AuthError,
    InvalidParameterError,
    TemporaryError,
    RecipientNotAllowedError,
)
_BY_CODE: dict[int, type[GraphError]] = {
    code: family for family in FAMILIES for code in family.codes
}


class TransportError(WahostError):
    """The Graph API could not be reached or did not answer.

    ``ambiguous`` is true when the request may have reached Meta before the failure (a read
    timeout, a dropped connection): sending it again may deliver it twice.
    """

    retryable = True

    def __init__(self, message: str, *, ambiguous: bool) -> None:
        self.ambiguous = ambiguous
        super().__init__(message)


class CircuitOpenError(WahostError):
    """Sending is paused after repeated server errors: the request was not made.

    Inside a unit, a send waits for the Graph API instead (``[worker] outage_patience``), and a
    unit that fails with this error waits and is handled again without it counting as an
    attempt; outside a unit it reaches the caller. ``retry_in`` is the number of seconds until
    the next request is let through to try the Graph API again.
    """

    retryable = False

    def __init__(self, message: str, *, retry_in: float = 0.0) -> None:
        self.retry_in = retry_in
        super().__init__(message)


class TokenHostError(WahostError):
    """The access token was about to go to a URL outside :class:`wahost.graph_guard.TokenPolicy`:
    refused, no request made. ``origin`` is the refused ``(scheme, host, port)`` (never the
    whole URL: its query may hold a signature); ``entry`` is what to add to
    ``[graph] token_hosts`` to allow it."""

    def __init__(self, message: str, *, origin: tuple[str, str, int], entry: str) -> None:
        super().__init__(message)
        self.origin = origin
        self.host = origin[1]
        self.entry = entry


class InvalidGraphIdError(WahostError, ValueError):
    """An id that cannot be put in a Graph API path (a ``/``, ``?``, ``#``, ``%``, ``..``,
    whitespace or another character no Graph id has)."""


class MarketingStopped(WahostError):
    """The user asked to receive no marketing messages; nothing was sent."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"{user} stopped marketing messages (user_preferences or error 131050): "
            "not sent; a 'resume' from the user allows them again"
        )
        self.user = user


class MediaPluginMissing(WahostError, RuntimeError):
    """A local file was given to send, and wahost-media, which uploads it, is not installed."""


def graph_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the Graph API could not be used for now (an outage, a refusal that
    never reached Meta, an error Meta calls temporary that outlived its retries), as opposed to
    a request Meta refused for what it said (a wrong parameter, an expired token).

    An ambiguous transport failure is not one: the request may have reached Meta, and sending
    it again is the outbox's decision (:mod:`wahost.outbox`).
    """
    if isinstance(exc, CircuitOpenError):
        return True
    if isinstance(exc, TransportError):
        return not exc.ambiguous
    return isinstance(exc, GraphError) and exc.retryable


class _ErrorData(msgspec.Struct):
    details: str | None = None


class _Error(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    error_user_title: str | None = None
    error_data: _ErrorData | None = None
    fbtrace_id: str | None = None


class _Body(msgspec.Struct):
    error: _Error


_decoder = msgspec.json.Decoder(_Body)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from Graph; fall back to our own backoff


def error_from_response(status: int, body: bytes, headers: Any = None) -> GraphError:
    """The typed error for a Graph API answer with an error status."""
    retry_after = _retry_after(headers)
    try:
        error = _decoder.decode(body).error
    except msgspec.DecodeError:
        text = body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
        cls = ServerError if status >= 500 else GraphError
        return cls(text, http_status=status, retry_after=retry_after)
    family = _BY_CODE.get(error.code, GraphError) if error.code is not None else GraphError
    if family is GraphError and status >= 500:
        family = ServerError
    return family(
        error.message or error.error_user_title or f"HTTP {status}",
        code=error.code,
        subcode=error.error_subcode,
        details=error.error_data.details if error.error_data else None,
        fbtrace_id=error.fbtrace_id,
        http_status=status,
        error_type=error.type,
        retry_after=retry_after,
    )


# -- the simulator --------------------------------------------------------------------------


class FormError(WahostError, ValueError):
    """A field's value is missing or wrong: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
