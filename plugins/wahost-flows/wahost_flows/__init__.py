"""wahost-flows: the WhatsApp Flows data endpoint for wahost.

Answer a Flow's requests with a router (or implement ``on_flow_request`` directly)::

    from wahost_flows import FlowResponse, FlowRouter

    flows = FlowRouter()
    on_flow_request = flows.on_flow_request

    @flows.on("APPOINTMENT")
    async def chosen(request, ctx):
        return FlowResponse("DETAILS", request.data)

Flows media (PhotoPicker, DocumentPicker): :mod:`wahost_flows.media`.
"""

from wahost_flows.config import EndpointConfig, FlowsConfig
from wahost_flows.crypto import FlowDecryptionError, decrypt_response, encrypt_request
from wahost_flows.endpoint import FlowContext, FlowEndpoint
from wahost_flows.keys import PrivateKeyError
from wahost_flows.models import (
    BACK,
    DATA_EXCHANGE,
    INIT,
    PING,
    FlowRequest,
    FlowResponse,
    FlowTokenExpired,
)
from wahost_flows.plugin import (
    register_commands,
    register_routes,
    wahost_config_schema,
    wahost_shutdown,
    wahost_startup,
)
from wahost_flows.router import FlowRouter

__all__ = [
    "BACK",
    "DATA_EXCHANGE",
    "INIT",
    "PING",
    "EndpointConfig",
    "FlowContext",
    "FlowDecryptionError",
    "FlowEndpoint",
    "FlowRequest",
    "FlowResponse",
    "FlowRouter",
    "FlowTokenExpired",
    "FlowsConfig",
    "PrivateKeyError",
    "decrypt_response",
    "encrypt_request",
    "register_commands",
    "register_routes",
    "wahost_config_schema",
    "wahost_shutdown",
    "wahost_startup",
]
