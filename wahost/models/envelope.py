"""The webhook envelope: ``object`` → ``entry[]`` → ``changes[]`` → ``value``.

The ingress does not use these structs (:func:`wahost.units.split` decodes only what it needs
to route); they describe a whole webhook for tests, tools and plugins that receive one.
"""

from __future__ import annotations

import msgspec

from wahost.models.common import Error
from wahost.models.statuses import Status


class Metadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """``value.metadata``: the business phone number a ``messages`` change belongs to.

    Route on ``phone_number_id``; ``display_phone_number`` has no ``+``.
    """

    display_phone_number: str = ""
    phone_number_id: str = ""


class Profile(msgspec.Struct, frozen=True, omit_defaults=True):
    """``contacts[].profile``: the user's WhatsApp profile name and, from 2026, username
    (Meta's sample writes it with a leading ``@``) and ``country_code`` (ISO 3166 alpha-2,
    the country a business-scoped user id alone does not show)."""

    name: str | None = None
    username: str | None = None
    country_code: str | None = None


class Contact(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``value.contacts[]``: the user who sent a message.

    ``wa_id`` is the user's phone number (digits, no ``+``). Since April 2026 Meta also sends
    a business-scoped ``user_id`` (``US.…``) and ``parent_user_id``, and may omit ``wa_id``
    for users who adopted a username (reference/cloudapi.md §3), so either id may be None.
    ``identity_key_hash`` is present when the identity-change check is enabled.
    """

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    profile: Profile | None = None
    identity_key_hash: str | None = None

    @property
    def name(self) -> str | None:
        """The profile name (``profile.name``), if any."""
        return self.profile.name if self.profile is not None else None

    @property
    def username(self) -> str | None:
        """The WhatsApp username (``profile.username``), if the user has one."""
        return self.profile.username if self.profile is not None else None


class Value(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The ``value`` of a ``messages`` change.

    ``messages`` items are kept raw because their shape depends on their ``type``: decode one
    with :func:`wahost.models.decode_message`. System messages come without ``contacts``.
    """

    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = []
    messages: list[msgspec.Raw] = []
    statuses: list[Status] = []
    errors: list[Error] = []


class Change(msgspec.Struct, frozen=True):
    """``entry[].changes[]``: one webhook field and its value.

    ``value`` is kept raw because its shape depends on ``field``: decode it as :class:`Value`
    when ``field == "messages"``; other fields are described by the structs in
    :mod:`wahost.models.events`.
    """

    field: str
    value: msgspec.Raw


class Entry(msgspec.Struct, frozen=True, omit_defaults=True):
    """``entry[]``: the changes of one WhatsApp Business Account (``id`` is the WABA id).

    ``time`` (Unix seconds) is sent with fields other than ``messages``.
    """

    id: str = ""
    time: int | None = None
    changes: list[Change] = []


class Envelope(msgspec.Struct, frozen=True):
    """A whole webhook POST body; ``object`` is ``"whatsapp_business_account"``."""

    object: str
    entry: list[Entry]
