"""Marketing template sends through the Marketing Messages API (formerly "MM Lite"):
``POST /<PHONE_NUMBER_ID>/marketing_messages`` (reference/cloudapi.md §17).

The endpoint takes the same body as ``/messages`` but only **marketing templates**; Meta
answers an error to any other type. ``product_policy`` chooses what happens to a number not
onboarded to the API: ``"CLOUD_API_FALLBACK"`` (Meta's default) routes the message through the
Cloud API, ``"STRICT"`` refuses it. ``message_activity_sharing`` lets Meta share the message's
activity (reads, clicks) with the business. Statuses of messages the API carried have the
pricing category ``marketing_lite``.

A user who stopped marketing messages (a ``user_preferences`` webhook with ``stop``, or a send
refused with 131050) is not sent to: :mod:`wahost.marketing` keeps that list.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from wahost.outbound.base import Outbound, check_choice, check_instance
from wahost.outbound.template import Template

__all__ = ["MarketingTemplate"]

ProductPolicy = Literal["CLOUD_API_FALLBACK", "STRICT"]


class MarketingTemplate(Outbound, frozen=True):
    """A marketing ``template`` sent through ``/marketing_messages``; send it as any message
    (``ctx.send(user, MarketingTemplate(Template("spring_sale", "en_US")))``).

    wahost cannot tell a marketing template from a utility one without its definition; Meta
    refuses the others."""

    type: ClassVar[str] = "template"
    endpoint: ClassVar[str] = "marketing_messages"

    template: Template
    product_policy: ProductPolicy | None = None
    message_activity_sharing: bool | None = None

    def _check(self, path: str) -> None:
        check_instance(f"{path}.template", self.template, Template)
        self.template._check(f"{path}.template")
        if self.product_policy is not None:
            check_choice(
                f"{path}.product_policy", self.product_policy, ("CLOUD_API_FALLBACK", "STRICT")
            )
        sharing = self.message_activity_sharing
        if sharing is not None and not isinstance(sharing, bool):
            raise ValueError(
                f"{path}.message_activity_sharing: must be a bool (got {type(sharing).__name__})"
            )

    def content(self) -> dict[str, Any]:
        return self.template.content()

    def request_fields(self) -> dict[str, Any]:
        """The fields this endpoint adds next to the message in the request body."""
        fields: dict[str, Any] = {}
        if self.product_policy is not None:
            fields["product_policy"] = self.product_policy
        if self.message_activity_sharing is not None:
            fields["message_activity_sharing"] = self.message_activity_sharing
        return fields
