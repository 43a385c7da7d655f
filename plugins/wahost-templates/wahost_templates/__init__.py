"""wahost-templates: WhatsApp message templates as code.

* Typed builders (:mod:`wahost_templates.components`) in the shape of Meta's create endpoint,
  checked against Meta's rules before any request (:mod:`wahost_templates.rules`).
* Templates declared in files beside the configuration (``[plugins.templates] dir``), one
  file per name with its languages as variants (:mod:`wahost_templates.files`).
* ``wahost templates pull | diff | push | delete | status``: push creates and edits only what
  differs (:mod:`wahost_templates.sync`); ``--wait`` waits for Meta's review.
* Sends checked against the last pulled definitions: :func:`checked` raises
  :class:`TemplateSendError` naming the field of the send.
* The ``on_event`` hook records each template's review status, quality and category from the
  webhooks in the state store (:func:`recorded_review`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from wahost import hookimpl
from wahost_templates.components import (
    Body,
    BodyExample,
    Button,
    Buttons,
    Card,
    Carousel,
    CatalogButton,
    Component,
    CopyCodeButton,
    FlowButton,
    Footer,
    Header,
    HeaderExample,
    LimitedTimeOffer,
    MpmButton,
    NamedExample,
    OfferDetails,
    OtpButton,
    PhoneNumberButton,
    QuickReplyButton,
    SupportedApp,
    TemplateSpec,
    UrlButton,
)
from wahost_templates.config import TemplatesConfig
from wahost_templates.files import Declared, TemplateFile, declared_templates
from wahost_templates.review import ReviewRecord, record_event, recorded_review
from wahost_templates.rules import Problem, TemplateError, problems
from wahost_templates.send_check import (
    TemplateCatalog,
    TemplateSendError,
    check_send,
    checked,
    send_check,
)
from wahost_templates.sync import Change, delete, list_live, plan, push, wait_for_review

if TYPE_CHECKING:
    import click
    import msgspec

    from wahost import Context, Wahost
    from wahost.graph import SendCheck
    from wahost.models import Event

__all__ = [
    "Body",
    "BodyExample",
    "Button",
    "Buttons",
    "Card",
    "Carousel",
    "CatalogButton",
    "Change",
    "Component",
    "CopyCodeButton",
    "Declared",
    "FlowButton",
    "Footer",
    "Header",
    "HeaderExample",
    "LimitedTimeOffer",
    "MpmButton",
    "NamedExample",
    "OfferDetails",
    "OtpButton",
    "PhoneNumberButton",
    "Problem",
    "QuickReplyButton",
    "ReviewRecord",
    "SupportedApp",
    "TemplateCatalog",
    "TemplateError",
    "TemplateFile",
    "TemplateSendError",
    "TemplateSpec",
    "TemplatesConfig",
    "UrlButton",
    "check_send",
    "checked",
    "declared_templates",
    "delete",
    "list_live",
    "plan",
    "problems",
    "push",
    "recorded_review",
    "wait_for_review",
]


@hookimpl
def wahost_config_schema() -> Mapping[str, type[msgspec.Struct]]:
    return {"templates": TemplatesConfig}


@hookimpl
def wahost_send_checks(host: Wahost) -> list[SendCheck]:
    check = send_check(host)
    return [] if check is None else [check]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_templates.cli import templates

    cli.add_command(templates)


@hookimpl
async def on_event(host: Wahost, event: Event, ctx: Context) -> None:
    news = await record_event(host, event)
    if news is not None:
        ctx.log.info(
            "template review recorded",
            template_id=news.template_id,
            status=news.status,
            quality=news.quality,
            category=news.category,
        )
