"""What ``on_flow_request`` receives and returns.

A decrypted request (reference/cloudapi.md §9)::

    {"version": "3.0", "action": "INIT" | "BACK" | "data_exchange" | "ping",
     "screen": "...", "data": {...}, "flow_token": "..."}

becomes a :class:`FlowRequest`. A plugin answers with a :class:`FlowResponse` (the next screen
and its data, or :meth:`FlowResponse.close` to finish the Flow), or rejects the flow token
with :class:`FlowTokenExpired` (HTTP 427).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from wahost.errors import WahostError

__all__ = [
    "BACK",
    "DATA_EXCHANGE",
    "INIT",
    "PING",
    "FlowRequest",
    "FlowRequestError",
    "FlowResponse",
    "FlowTokenExpired",
    "decode_request",
]

INIT = "INIT"
BACK = "BACK"
DATA_EXCHANGE = "data_exchange"
PING = "ping"
#: The reserved screen name that closes a Flow.
SUCCESS = "SUCCESS"


class FlowRequestError(WahostError, ValueError):
    """The decrypted plaintext is not a Flows request (not JSON, or fields of wrong types)."""


class FlowRequest(msgspec.Struct, kw_only=True):
    """A decrypted Flows data-exchange request.

    ``action`` is ``"INIT"`` (the Flow opens), ``"BACK"`` (back to a screen with
    ``refresh_on_back``), ``"data_exchange"`` (a screen submitted data) or ``"ping"`` (a health
    check, answered by the plugin itself). ``screen`` and ``data`` may be empty for INIT and
    BACK. ``flow_token`` is the token the business put in the Flow message.
    ``flow_token_signature`` (a JWT signed with the app secret) comes with Flow JSON >= 7.3 and
    data_api_version >= 4.0 only.
    """

    version: str = ""
    action: str = ""
    screen: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    flow_token: str = ""
    flow_token_signature: str | None = None

    @property
    def is_error_notification(self) -> bool:
        """Whether the client reports an error (``data.error`` or ``data.error_key``) rather
        than asking for a screen; the endpoint acknowledges it whatever the plugins return."""
        if self.action == PING:
            return False
        return isinstance(self.data.get("error"), str) or isinstance(
            self.data.get("error_key"), str
        )

    @property
    def error(self) -> str | None:
        """The reported error code of an error notification (``data.error``, or
        ``data.error_key`` as Meta's field list names it), else ``None``."""
        for name in ("error", "error_key"):
            value = self.data.get(name)
            if isinstance(value, str):
                return value
        return None

    @property
    def error_message(self) -> str | None:
        """The reported error's text (``data.error_message``), if any."""
        value = self.data.get("error_message")
        return value if isinstance(value, str) else None

    def get(self, name: str, default: Any = None) -> Any:
        """A value of ``data``."""
        return self.data.get(name, default)


class _Raw(msgspec.Struct):
    version: Any = ""
    action: Any = ""
    screen: Any = ""
    data: Any = None
    flow_token: Any = ""
    flow_token_signature: Any = None


_raw = msgspec.json.Decoder(_Raw)


def decode_request(plaintext: bytes) -> FlowRequest:
    """The :class:`FlowRequest` in a decrypted body; raises :class:`FlowRequestError`.

    Absent or ``null`` ``screen`` and ``data`` (allowed for INIT and BACK) become empty.
    """
    try:
        raw = _raw.decode(plaintext)
    except msgspec.DecodeError as exc:
        raise FlowRequestError(f"the decrypted body is not a JSON object: {exc}") from None
    except RecursionError:  # msgspec's answer to JSON nested too deeply
        raise FlowRequestError("the decrypted body is JSON nested too deeply") from None
    except Exception as exc:
        raise FlowRequestError(f"the decrypted body cannot be decoded ({exc!r})") from None
    values = {
        "version": raw.version,
        "action": raw.action,
        "screen": "" if raw.screen is None else raw.screen,
        "data": {} if raw.data is None else raw.data,
        "flow_token": "" if raw.flow_token is None else raw.flow_token,
        "flow_token_signature": raw.flow_token_signature,
    }
    try:
        return msgspec.convert(values, FlowRequest)
    except msgspec.ValidationError as exc:
        raise FlowRequestError(f"not a Flows request: {exc}") from None


class FlowResponse:
    """The answer to a request: the next ``screen`` and its ``data``.

    ``error_message`` shows a snackbar on that screen (it travels in ``data``).
    :meth:`close` finishes the Flow instead.

        FlowResponse("DETAILS", {"slots": slots})
        FlowResponse("APPOINTMENT", error_message="That slot was just taken")
        FlowResponse.close(request.flow_token, order_id="A-17")
    """

    __slots__ = ("data", "screen")

    screen: str
    data: dict[str, Any]

    def __init__(
        self,
        screen: str,
        data: Mapping[str, Any] | None = None,
        *,
        error_message: str | None = None,
    ) -> None:
        if not screen:
            raise ValueError("a FlowResponse needs a screen name")
        self.screen = screen
        self.data = dict(data or {})
        if error_message is not None:
            self.data["error_message"] = error_message

    @classmethod
    def close(
        cls, flow_token: str, params: Mapping[str, Any] | None = None, **more: Any
    ) -> FlowResponse:
        """Close the Flow: WhatsApp sends the user's ``nfm_reply`` with ``params`` (and the
        ``flow_token``, which Meta requires) in its ``response_json``."""
        if not flow_token:
            raise ValueError("closing a Flow needs its flow_token")
        merged = {"flow_token": flow_token, **(params or {}), **more}
        return cls(SUCCESS, {"extension_message_response": {"params": merged}})

    @property
    def closes(self) -> bool:
        """Whether this response finishes the Flow."""
        return self.screen == SUCCESS

    def to_builtins(self) -> dict[str, Any]:
        """The response as sent: ``{"screen": ..., "data": {...}}``."""
        return {"screen": self.screen, "data": self.data}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlowResponse):
            return NotImplemented
        return (self.screen, self.data) == (other.screen, other.data)

    def __repr__(self) -> str:
        return f"FlowResponse({self.screen!r}, {self.data!r})"


class FlowTokenExpired(WahostError):
    """The flow token is no longer valid: the endpoint answers HTTP 427 and WhatsApp disables
    the Flow's button. ``error_msg`` is the optional text sent in the body.

    Raise it from a :class:`~wahost_flows.FlowRouter` handler, or return (or raise) it from an
    ``on_flow_request`` implementation; returning it avoids the dispatcher's error log.
    """

    def __init__(self, error_msg: str | None = None) -> None:
        super().__init__(error_msg or "flow token expired")
        self.error_msg = error_msg
