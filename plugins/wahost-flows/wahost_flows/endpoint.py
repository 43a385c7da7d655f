"""The Flows data endpoint: signature, decryption, the plugins' answer, encryption.

One :class:`FlowEndpoint` per ``[[plugins.flows.endpoints]]``, built at start-up with its key
loaded. Answers (reference/cloudapi.md §9):

* signature missing or wrong (``X-Hub-Signature-256``, the core's :class:`SignatureChecker`)
  → **432**;
* not decryptable, whatever the body → **421** (the client re-fetches the public key), logged
  with the reason and never a key;
* decrypted but not a Flows request → 400;
* ``ping`` → ``{"data": {"status": "active"}}``, no plugin called;
* an error notification → ``{"data": {"acknowledged": true}}``, after the plugins saw it;
* INIT, BACK, data_exchange → the first plugin's :class:`FlowResponse` (``on_flow_request``),
  encrypted, as text/plain; :class:`FlowTokenExpired` → **427**; no answer, a plugin error or
  no answer within ``handler_timeout`` → 500.

Everything runs inside the HTTP request: Flows requests are not queue units (WhatsApp waits
for the answer, 10 s at most).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from wahost.config import Config, ConfigError
from wahost.deprecation import moved_names
from wahost.dispatch import HookFailed
from wahost.slots import SlotKey
from wahost.webhook import SignatureChecker
from wahost_flows.config import EndpointConfig, FlowsConfig
from wahost_flows.crypto import DecryptedRequest, FlowDecryptionError, decrypt_request
from wahost_flows.crypto import encrypt_response as _encrypt
from wahost_flows.keys import PrivateKeyError, load_private_key
from wahost_flows.models import (
    PING,
    FlowRequest,
    FlowRequestError,
    FlowResponse,
    FlowTokenExpired,
    decode_request,
)

if TYPE_CHECKING:
    from wahost.host import Wahost

__all__ = ["Answer", "FlowContext", "FlowEndpoint", "flow_ref", "load_endpoints"]

log = structlog.get_logger("wahost_flows")

_TEXT = "text/plain"
_JSON = "application/json"
_PING_ANSWER = b'{"data":{"status":"active"}}'
_ACK_ANSWER = b'{"data":{"acknowledged":true}}'


@dataclass(frozen=True, slots=True)
class FlowContext:
    """The ``ctx`` of ``on_flow_request``: what a Flows request comes with.

    ``host``: the running host. ``endpoint``: the endpoint's name (its path unless named).
    ``log``: a structlog logger bound to ``endpoint``, ``flow_token`` (masked by wahost's log
    redactor, like every ``*token*`` field), ``flow_ref`` (:func:`flow_ref`, to correlate
    lines), ``action`` and ``screen``.
    ``headers``: the HTTP request's headers, names lower-cased.

    Unlike a unit's :class:`wahost.Context` there is no ``ctx.state`` or ``ctx.reply``: the
    request is answered inline and not queued. Use ``host.state`` (keyed by the flow token)
    and ``host.send`` when needed.
    """

    host: Wahost
    endpoint: str
    log: Any
    headers: Mapping[str, str]


def flow_ref(flow_token: str) -> str:
    """A short SHA-256 of a flow token, to correlate log lines: wahost's log redactor masks
    every ``*token*`` field, ``flow_token`` included."""
    return hashlib.sha256(flow_token.encode("utf-8", "replace")).hexdigest()[:12]


class Answer(NamedTuple):
    """An HTTP answer of the endpoint."""

    status: int
    body: bytes
    content_type: str = _TEXT


class FlowEndpoint:
    """One configured endpoint, its key loaded."""

    def __init__(
        self,
        name: str,
        path: str,
        private_key: rsa.RSAPrivateKey,
        secrets: list[str],
        settings: FlowsConfig,
        *,
        phone_number_ids: list[str] | None = None,
    ) -> None:
        self.name = name
        #: The phone numbers whose key this is (empty: every configured number).
        self.phone_number_ids = list(phone_number_ids or [])
        self.path = path
        self.private_key = private_key
        self.checker = SignatureChecker(secrets)
        self.timeout = settings.handler_timeout
        self.encrypt_427 = settings.token_expired_body == "encrypted"

    def __repr__(self) -> str:
        return f"FlowEndpoint({self.name!r}, {self.path!r})"

    async def handle(self, host: Wahost, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Answer one request; ``headers`` with lower-case names."""
        started = time.perf_counter()
        signature = headers.get("x-hub-signature-256")
        raw_signature = None if signature is None else signature.encode("latin-1", "replace")
        if self.checker.status(raw_signature, body) != 200:
            log.warning(
                "flow request signature refused",
                endpoint=self.name,
                signature="missing" if signature is None else "wrong",
                bytes=len(body),
            )
            return Answer(432, b"")
        try:
            decrypted = decrypt_request(self.private_key, body)
        except FlowDecryptionError as exc:
            log.warning(
                "flow request not decrypted, answering 421",
                endpoint=self.name,
                reason=exc.reason,
                bytes=len(body),
            )
            return Answer(421, b"")
        try:
            request = decode_request(decrypted.plaintext)
        except FlowRequestError as exc:
            log.warning("decrypted flow request is malformed", endpoint=self.name, reason=str(exc))
            return Answer(400, b"")
        if request.action == PING:
            return Answer(200, _encrypt(_PING_ANSWER, decrypted.aes_key, decrypted.iv))
        flow_log = log.bind(
            endpoint=self.name,
            flow_token=request.flow_token,
            flow_ref=flow_ref(request.flow_token),
            action=request.action,
            screen=request.screen,
        )
        ctx = FlowContext(host=host, endpoint=self.name, log=flow_log, headers=headers)
        if request.is_error_notification:
            flow_log.warning(
                "flow error notification",
                error=request.error,
                error_message=request.error_message,
            )
            await self._ask(host, request, ctx)
            return Answer(200, _encrypt(_ACK_ANSWER, decrypted.aes_key, decrypted.iv))
        answer = self._answer(await self._ask(host, request, ctx), decrypted, flow_log)
        flow_log.debug(
            "flow request answered",
            status=answer.status,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return answer

    async def _ask(self, host: Wahost, request: FlowRequest, ctx: FlowContext) -> Any:
        """The first plugin's answer; a :class:`FlowTokenExpired` raised is returned; another
        failure (logged by the dispatcher or here) is returned as ``_FAILED``."""
        try:
            result = await asyncio.wait_for(
                host.dispatch.first("on_flow_request", request=request, ctx=ctx), self.timeout
            )
        except TimeoutError:
            ctx.log.error("no answer from the plugins in time", timeout=self.timeout)
            return _FAILED
        except HookFailed as exc:
            for _, error in exc.errors:
                if isinstance(error, FlowTokenExpired):
                    return error
            return _FAILED
        return result.value

    def _answer(self, value: Any, decrypted: DecryptedRequest, flow_log: Any) -> Answer:
        if value is _FAILED:
            return Answer(500, b"")
        if isinstance(value, FlowTokenExpired):
            flow_log.info("flow token rejected, answering 427", error_msg=value.error_msg)
            body = msgspec.json.encode({"error_msg": value.error_msg} if value.error_msg else {})
            if self.encrypt_427:
                return Answer(427, _encrypt(body, decrypted.aes_key, decrypted.iv))
            return Answer(427, body, _JSON)
        if isinstance(value, FlowResponse):
            payload: Any = value.to_builtins()
        elif isinstance(value, Mapping):
            payload = value
        else:
            if value is None:
                flow_log.error("no plugin answered the flow request")
            else:
                flow_log.error(
                    "on_flow_request returned neither a FlowResponse nor a mapping",
                    type=type(value).__name__,
                )
            return Answer(500, b"")
        try:
            plaintext = msgspec.json.encode(payload)
        except (TypeError, msgspec.EncodeError) as exc:
            flow_log.error("flow response is not JSON-encodable", error=str(exc))
            return Answer(500, b"")
        return Answer(200, _encrypt(plaintext, decrypted.aes_key, decrypted.iv))


_FAILED = object()


# -- building endpoints ---------------------------------------------------------------------


def _read_key(config: Config, endpoint: EndpointConfig, key: str) -> tuple[bytes, str]:
    """The PEM bytes of an endpoint's key and where they came from."""
    if endpoint.private_key is not None:
        return endpoint.private_key.encode("utf-8"), f"key text of {key}.private_key"
    assert endpoint.key_file is not None  # check_settings() requires one of the two
    path = Path(endpoint.key_file)
    if not path.is_absolute():
        path = config.base_dir / path
    try:
        return path.read_bytes(), f"key file {path}"
    except OSError as exc:
        raise ConfigError(
            config.source, f"{key}.key_file", f"cannot read {path}: {exc.strerror or exc}"
        ) from None


def load_endpoint(config: Config, settings: FlowsConfig, index: int) -> FlowEndpoint:
    """Build endpoint ``index`` of ``settings``, its key loaded; raises :class:`ConfigError`
    naming the file, the key and what is wrong."""
    endpoint = settings.endpoints[index]
    key = f"plugins.flows.endpoints[{index}]"
    pem, origin = _read_key(config, endpoint, key)
    try:
        private_key = load_private_key(pem, endpoint.passphrase)
    except PrivateKeyError as exc:
        field = (
            "passphrase"
            if exc.passphrase_problem
            else ("key_file" if endpoint.key_file else "private_key")
        )
        raise ConfigError(config.source, f"{key}.{field}", f"{exc.reason} ({origin})") from None
    if endpoint.app_secret is not None or endpoint.app_secrets:
        own = [endpoint.app_secret] if endpoint.app_secret is not None else []
        secrets = list(dict.fromkeys([*own, *endpoint.app_secrets]))
    else:
        secrets = config.whatsapp.all_app_secrets()
    return FlowEndpoint(
        endpoint.label,
        endpoint.path,
        private_key,
        secrets,
        settings,
        phone_number_ids=endpoint.phone_number_ids,
    )


def load_endpoints(config: Config, settings: FlowsConfig) -> list[FlowEndpoint]:
    """Every configured endpoint, keys loaded (see :func:`load_endpoint`)."""
    return [load_endpoint(config, settings, index) for index in range(len(settings.endpoints))]


def make_view(host: Wahost, name: str) -> Callable[[], Awaitable[Any]]:
    """The Quart view of endpoint ``name`` (looked up at request time: routes are built
    before or after start-up, keys only at start-up)."""
    import quart

    async def view() -> quart.Response:
        endpoint = host.slots.get(ENDPOINTS, {}).get(name)
        if endpoint is None:
            return quart.Response(b"not ready", status=503, content_type=_TEXT)
        request = quart.request
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        headers = {name.lower(): value for name, value in request.headers.items()}
        answer = await endpoint.handle(host, body, headers)
        return quart.Response(answer.body, status=answer.status, content_type=answer.content_type)

    view.__name__ = f"flows_{name}"
    return view


#: The slot of ``host.slots`` holding the started endpoints: ``{name: FlowEndpoint}``.
ENDPOINTS: SlotKey[dict[str, FlowEndpoint]] = SlotKey("wahost_flows.endpoints")

#: ``RESOURCE`` until the next minor release.
__getattr__ = moved_names(__name__, {"RESOURCE": "wahost_flows.endpoint.ENDPOINTS"})
