"""wahost-templates: WhatsApp message templates as code.

* Typed builders (:mod:`wahost_templates.components`) in the shape of Meta's create endpoint,
  checked against Meta's rules before any request (:mod:`wahost_templates.rules`).
"""

from __future__ import annotations

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
from wahost_templates.rules import Problem, TemplateError, problems

__all__ = [
    "Body",
    "BodyExample",
    "Button",
    "Buttons",
    "Card",
    "Carousel",
    "CatalogButton",
    "Component",
    "CopyCodeButton",
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
    "SupportedApp",
    "TemplateError",
    "TemplateSpec",
    "UrlButton",
    "problems",
]
