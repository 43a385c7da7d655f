"""The account plane: what a business manages besides messages (reference/cloudapi.md §12,
§18, §19), as typed calls over the host's :class:`~wahost.graph.GraphClient`.

Each is also an attribute of the host's client, made once for the configured number:
``host.client.groups``, ``.blocking``, ``.qr_codes``, ``.numbers`` (the configured
``waba_id``), ``.calls``, ``.commerce``.

``GroupsApi(host.client)`` (:mod:`wahost.account.groups`), ``BlockingApi(host.client)``
(:mod:`wahost.account.blocking`; ``ctx.block_sender()`` in a handler),
``QrCodesApi(host.client)`` (:mod:`wahost.account.qr`), ``PhoneNumbersApi(host.client,
waba_id)`` (:mod:`wahost.account.numbers`), ``CallsApi(host.client)``
(:mod:`wahost.account.calls`: calling signaling), ``CommerceApi(host.client)``
(:mod:`wahost.account.commerce`). Every call checks
Meta's limits before any request (``ValueError`` naming the argument) and raises
:class:`wahost.errors.GraphError` with Meta's code when Meta refuses.
"""

from wahost.account.blocking import BlockingApi, BlockResult
from wahost.account.calls import CallPermission, CallsApi
from wahost.account.commerce import CommerceApi, CommerceSettings
from wahost.account.groups import GroupsApi
from wahost.account.numbers import PhoneNumber, PhoneNumbersApi
from wahost.account.qr import QrCode, QrCodesApi

__all__ = [
    "BlockResult",
    "BlockingApi",
    "CallPermission",
    "CallsApi",
    "CommerceApi",
    "CommerceSettings",
    "GroupsApi",
    "PhoneNumber",
    "PhoneNumbersApi",
    "QrCode",
    "QrCodesApi",
]
