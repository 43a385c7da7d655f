"""The hook implementations of wahost-flows (re-exported by :mod:`wahost_flows`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click
import msgspec
import structlog

from wahost import Route, hookimpl
from wahost.config import ConfigError
from wahost.web import reserved_paths
from wahost_flows.config import FlowsConfig, check_settings
from wahost_flows.endpoint import ENDPOINTS, load_endpoints, make_view

if TYPE_CHECKING:
    from wahost.host import Wahost

log = structlog.get_logger("wahost_flows")


def _settings(host: Wahost) -> FlowsConfig:
    settings = host.plugin_config("flows", FlowsConfig)
    check_settings(settings, host.config.source)
    reserved = reserved_paths(host)
    for index, endpoint in enumerate(settings.endpoints):
        if endpoint.path in reserved:
            raise ConfigError(
                host.config.source,
                f"plugins.flows.endpoints[{index}].path",
                f"{endpoint.path} belongs to the core",
            )
    return settings


@hookimpl
def wahost_config_schema() -> Mapping[str, type[msgspec.Struct]]:
    return {"flows": FlowsConfig}


@hookimpl
async def wahost_startup(host: Wahost) -> None:
    """Load every endpoint's private key once; a missing file or a missing or wrong
    passphrase stops the host with the file and the configuration key named."""
    settings = _settings(host)
    endpoints = load_endpoints(host.config, settings)
    host.slots[ENDPOINTS] = {endpoint.name: endpoint for endpoint in endpoints}
    if endpoints:
        log.info(
            "flows endpoints ready",
            endpoints={endpoint.name: endpoint.path for endpoint in endpoints},
        )
    else:
        log.info("wahost-flows has no endpoint configured ([[plugins.flows.endpoints]])")


@hookimpl
async def wahost_shutdown(host: Wahost) -> None:
    host.slots.pop(ENDPOINTS)


@hookimpl
def register_routes(host: Wahost) -> list[Route]:
    settings = _settings(host)
    return [
        Route(
            endpoint.path,
            make_view(host, endpoint.label),
            methods=["POST"],
            name=f"wahost_flows:{endpoint.label}",
        )
        for endpoint in settings.endpoints
    ]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_flows.cli import flows

    cli.add_command(flows)
