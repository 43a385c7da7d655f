"""``[plugins.flows]``: the endpoints, their keys and how 427 is answered.

::

    [plugins.flows]
    token_expired_body = "plain"            # or "encrypted"

    [[plugins.flows.endpoints]]
    path = "/flows"
    key_file = "keys/flows.pem"              # relative to the configuration file
    passphrase = "${FLOWS_KEY_PASSPHRASE}"   # or { file = "secrets/flows-passphrase" }

    [[plugins.flows.flows]]                  # a Flow managed with wahost flows push
    name = "signup"                          # its Flow JSON: <flows_dir>/signup.json
    categories = ["SIGN_UP"]

The types are checked by msgspec when the host starts (``wahost_config_schema``); the rules
across fields by :func:`check`, which raises :class:`wahost.config.ConfigError` naming the key.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from wahost.config import ConfigError
from wahost.deprecation import moved_names

__all__ = ["DeclaredFlow", "EndpointConfig", "FlowsConfig", "check_settings"]

#: Meta's Flow categories (reference/cloudapi.md §16).
CATEGORIES = (
    "SIGN_UP",
    "SIGN_IN",
    "APPOINTMENT_BOOKING",
    "LEAD_GENERATION",
    "CONTACT_US",
    "CUSTOMER_SUPPORT",
    "SURVEY",
    "OTHER",
)

_SECRET = {"secret": True}


class EndpointConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One Flows data endpoint: a path and the private key its requests are encrypted to."""

    path: Annotated[
        str,
        Meta(pattern="^/", description='URL path of the endpoint (POST); starts with "/".'),
    ] = "/flows"
    name: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9_.-]*$",
            description="A name for logs, ctx.endpoint and `--endpoint`; defaults to the path.",
        ),
    ] = ""
    key_file: Annotated[
        str | None,
        Meta(
            description="PEM file of the RSA private key (PKCS#1 or PKCS#8, plain or "
            "encrypted), relative to the configuration file. Set this or private_key.",
            # wahost check warns when group or others may read the file.
            extra={"secret_file": True},
        ),
    ] = None
    private_key: Annotated[
        str | None,
        Meta(
            description='The PEM text itself, e.g. "${FLOWS_PRIVATE_KEY}" or { file = ... }.',
            extra=_SECRET,
        ),
    ] = None
    passphrase: Annotated[
        str | None,
        Meta(description="Passphrase of an encrypted key.", extra=_SECRET),
    ] = None
    app_secret: Annotated[
        str | None,
        Meta(
            description="App secret that signs this endpoint's requests, when the Flow's app "
            "is not [whatsapp]'s; default: [whatsapp] app_secret and app_secrets.",
            extra=_SECRET,
        ),
    ] = None
    app_secrets: Annotated[
        list[str],
        Meta(description="More accepted app secrets (rotation).", extra=_SECRET),
    ] = []
    phone_number_ids: Annotated[
        list[str],
        Meta(
            description="Phone numbers whose public key this is (`wahost flows upload-key`); "
            "default: every number of [whatsapp]."
        ),
    ] = []

    @property
    def label(self) -> str:
        """The endpoint's name, or its path when unnamed."""
        return self.name or self.path


class DeclaredFlow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[[plugins.flows.flows]]``: a Flow whose metadata and JSON ``wahost flows push``
    makes Meta's."""

    name: Annotated[str, Meta(description="The Flow's name at Meta: how push finds it.")]
    file: Annotated[
        str | None,
        Meta(
            description="Its Flow JSON file (relative to the configuration file); default "
            "<flows_dir>/<name>.json, the file the simulator's --flows DIR opens."
        ),
    ] = None
    categories: Annotated[
        list[str],
        Meta(description="At least one of Meta's categories: " + ", ".join(CATEGORIES) + "."),
    ] = msgspec.field(default_factory=lambda: ["OTHER"])
    endpoint_uri: Annotated[
        str | None,
        Meta(description="The data endpoint's https URL, for a Flow that exchanges data."),
    ] = None


class FlowsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.flows]``."""

    flows_dir: Annotated[
        str,
        Meta(
            description="Directory of Flow JSON files named <flow name>.json (relative to the "
            "configuration file)."
        ),
    ] = "flows"
    flows: Annotated[
        list[DeclaredFlow],
        Meta(description="The Flows managed as files ([[plugins.flows.flows]])."),
    ] = []

    endpoints: Annotated[
        list[EndpointConfig],
        Meta(description="The endpoints ([[plugins.flows.endpoints]]); none: the plugin idles."),
    ] = []
    token_expired_body: Annotated[
        Literal["plain", "encrypted"],
        Meta(
            description='Body of a 427 answer: "plain" JSON {"error_msg": ...} with '
            'content-type application/json, as Meta\'s error-code page shows, or "encrypted" '
            "like the other responses, as Meta's sample server does."
        ),
    ] = "plain"
    handler_timeout: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds the plugins may take to answer (WhatsApp gives up after 10); "
            "after that the endpoint answers 500.",
        ),
    ] = 8.0


def check_settings(config: FlowsConfig, source: str) -> None:
    """The rules msgspec cannot express; raises :class:`ConfigError` naming the exact key
    (``plugins.flows.endpoints[1].path``), which a struct's ``__post_init__`` could not."""
    paths: set[str] = set()
    names: set[str] = set()
    for index, endpoint in enumerate(config.endpoints):
        key = f"plugins.flows.endpoints[{index}]"
        if (endpoint.key_file is None) == (endpoint.private_key is None):
            raise ConfigError(source, f"{key}.key_file", "set key_file or private_key (one)")
        if endpoint.key_file == "":
            raise ConfigError(source, f"{key}.key_file", "must not be empty")
        if endpoint.path in paths:
            raise ConfigError(source, f"{key}.path", f"{endpoint.path} is used twice")
        if endpoint.label in names:
            raise ConfigError(source, f"{key}.name", f"{endpoint.label!r} is used twice")
        if endpoint.passphrase == "":
            raise ConfigError(source, f"{key}.passphrase", "must not be empty")
        if endpoint.app_secret == "" or "" in endpoint.app_secrets:
            raise ConfigError(source, f"{key}.app_secret", "must not be empty")
        paths.add(endpoint.path)
        names.add(endpoint.label)
    flow_names: set[str] = set()
    for index, flow in enumerate(config.flows):
        key = f"plugins.flows.flows[{index}]"
        if not flow.name:
            raise ConfigError(source, f"{key}.name", "must not be empty")
        if flow.name in flow_names:
            raise ConfigError(source, f"{key}.name", f"{flow.name!r} is declared twice")
        flow_names.add(flow.name)
        if not flow.categories:
            raise ConfigError(source, f"{key}.categories", "at least one category")
        for position, category in enumerate(flow.categories):
            if category not in CATEGORIES:
                raise ConfigError(
                    source,
                    f"{key}.categories[{position}]",
                    f"{category!r} is not a Flow category ({', '.join(CATEGORIES)})",
                )
        if flow.endpoint_uri is not None and not flow.endpoint_uri.startswith("https://"):
            raise ConfigError(source, f"{key}.endpoint_uri", "must be an https:// URL")


#: ``check`` until the next minor release.
__getattr__ = moved_names(__name__, {"check": "wahost_flows.config.check_settings"})
