"""Typed outbound messages for ``POST /<PHONE_NUMBER_ID>/messages`` (reference/cloudapi.md §6).

Build a message, then the request body::

    from wahost.outbound import ReplyButton, ReplyButtons, encode_body, message_body

    buttons = [ReplyButton("yes", "Yes"), ReplyButton("no", "No")]
    message = ReplyButtons("Keep the booking?", buttons)
    payload = encode_body(message_body("+16505551234", message, reply_to=inbound_wamid))

Every message checks Meta's limits when it is built and again in :func:`message_body`, and
raises :class:`ValueError` naming the field and the limit, e.g.
``ReplyButtons.buttons[1].title: at most 20 characters (got 23)``. Lengths are Python ``len()``
(code points); Meta counts "characters" and may count emoji differently (UNVERIFIED).

:func:`parse_message_body` reads a body back into a typed :class:`MessageBody`.

:func:`coerce` turns the short forms ``ctx.reply(...)`` accepts (``"hi"``, ``image=...``,
``buttons=[...]``) into messages.
"""

from wahost.outbound.base import Outbound, Part
from wahost.outbound.body import (
    GROUP_MESSAGE_TYPES,
    encode_body,
    mark_read_body,
    message_body,
    typing_body,
)
from wahost.outbound.calls import CallPermissionRequest, ContactInfoRequest, VoiceCall
from wahost.outbound.commerce import (
    CatalogMessage,
    MediaCard,
    MediaCarousel,
    ProductCard,
    ProductCarousel,
    ProductItem,
    ProductList,
    ProductMessage,
    ProductSection,
)
from wahost.outbound.contacts import Address, Contact, Contacts, Email, Name, Org, Phone, Url
from wahost.outbound.interactive import (
    CtaUrl,
    FlowMessage,
    Header,
    ListMessage,
    LocationRequest,
    ReplyButton,
    ReplyButtons,
    Row,
    Section,
)
from wahost.outbound.marketing import MarketingTemplate
from wahost.outbound.media import Audio, Document, Image, Media, Sticker, Video
from wahost.outbound.messages import Location, Pin, Reaction, Text
from wahost.outbound.parse import MessageBody, parse_message_body
from wahost.outbound.shorthand import coerce
from wahost.outbound.template import (
    BodyParameter,
    ButtonParameter,
    CouponCodeParameter,
    CurrencyParameter,
    DateTimeParameter,
    FlowActionParameter,
    HeaderParameter,
    PayloadParameter,
    Template,
    TemplateBody,
    TemplateButton,
    TemplateComponent,
    TemplateHeader,
    TextParameter,
)

__all__ = [
    "GROUP_MESSAGE_TYPES",
    "Address",
    "Audio",
    "BodyParameter",
    "ButtonParameter",
    "CallPermissionRequest",
    "CatalogMessage",
    "Contact",
    "ContactInfoRequest",
    "Contacts",
    "CouponCodeParameter",
    "CtaUrl",
    "CurrencyParameter",
    "DateTimeParameter",
    "Document",
    "Email",
    "FlowActionParameter",
    "FlowMessage",
    "Header",
    "HeaderParameter",
    "Image",
    "ListMessage",
    "Location",
    "LocationRequest",
    "MarketingTemplate",
    "Media",
    "MediaCard",
    "MediaCarousel",
    "MessageBody",
    "Name",
    "Org",
    "Outbound",
    "Part",
    "PayloadParameter",
    "Phone",
    "Pin",
    "ProductCard",
    "ProductCarousel",
    "ProductItem",
    "ProductList",
    "ProductMessage",
    "ProductSection",
    "Reaction",
    "ReplyButton",
    "ReplyButtons",
    "Row",
    "Section",
    "Sticker",
    "Template",
    "TemplateBody",
    "TemplateButton",
    "TemplateComponent",
    "TemplateHeader",
    "Text",
    "TextParameter",
    "Url",
    "Video",
    "VoiceCall",
    "coerce",
    "encode_body",
    "mark_read_body",
    "message_body",
    "parse_message_body",
    "typing_body",
]
