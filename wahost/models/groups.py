"""The group webhook fields: ``group_lifecycle_update``, ``group_participants_update``,
``group_settings_update`` and ``group_status_update`` (reference/cloudapi.md §12.5).

All four carry ``groups[]``; ``type`` tells which keys are set. Messages in a group and their
statuses come on the ``messages`` field (``Message.group_id``, ``Status.group_id``).
"""

from __future__ import annotations

import msgspec

from wahost.models.common import Error


class GroupParticipant(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A participant added, removed or failed: ``wa_id`` and/or business-scoped ids;
    ``input`` echoes the identifier the business used."""

    wa_id: str | None = None
    input: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None
    errors: list[Error] = []


class GroupSettingChange(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``group_subject``, ``group_description`` or ``profile_picture`` of a settings update."""

    text: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    update_successful: bool | None = None
    errors: list[Error] = []


class GroupChange(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``groups[]``.

    ``type`` is group_create (``subject``, ``description``, ``invite_link``,
    ``join_approval_mode``), group_delete, group_participants_add (``added_participants``,
    ``reason``), group_participants_remove (``removed_participants``,
    ``failed_participants``, ``initiated_by``), group_join_request_created / _revoked
    (``join_request_id``, the requester's ids), group_settings_update (``group_subject``,
    ``group_description``, ``profile_picture``), group_suspend or group_suspend_cleared.
    ``errors`` is set on a failure; ``request_id`` echoes the management call behind it.
    """

    type: str = ""
    group_id: str = ""
    timestamp: str | int | None = None
    request_id: str | None = None
    subject: str | None = None
    description: str | None = None
    invite_link: str | None = None
    join_approval_mode: str | None = None
    reason: str | None = None
    initiated_by: str | None = None
    added_participants: list[GroupParticipant] = []
    removed_participants: list[GroupParticipant] = []
    failed_participants: list[GroupParticipant] = []
    join_request_id: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None
    group_subject: GroupSettingChange | None = None
    group_description: GroupSettingChange | None = None
    profile_picture: GroupSettingChange | None = None
    errors: list[Error] = []


class GroupEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of any of the four group fields."""

    groups: list[GroupChange] = []
