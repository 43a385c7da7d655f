"""Carousels and commerce messages: a media carousel, a product carousel, a catalog message, a
single product and a multi-product list (reference/cloudapi.md §17).

All of them are Meta's ``interactive`` type. Products are named by the ``catalog_id`` of a
catalog connected to the WABA and each item's ``product_retailer_id`` (its SKU); wahost cannot
see the catalog, so a send naming no item that exists fails at Meta (and one naming some is sent
with those dropped, Meta's error asking for a catalog update arriving as a webhook).
"""

from __future__ import annotations

from typing import Any, ClassVar

from wahost.outbound.base import (
    Outbound,
    Part,
    check_instance,
    check_items,
    check_optional_text,
    check_text,
    check_url,
)
from wahost.outbound.interactive import BODY_MAX, FOOTER_MAX, HEADER_TEXT_MAX, frame
from wahost.outbound.media import Image, Video

__all__ = [
    "CatalogMessage",
    "MediaCard",
    "MediaCarousel",
    "ProductCard",
    "ProductCarousel",
    "ProductItem",
    "ProductList",
    "ProductMessage",
    "ProductSection",
]

CARDS_MIN = 2
CARDS_MAX = 10
"""A carousel holds 2 to 10 cards (M-media-carousel, M-product-carousel)."""
CARD_BODY_MAX = 160
CARD_BODY_LINE_BREAKS_MAX = 2
PRODUCT_LIST_ITEMS_MAX = 30
PRODUCT_LIST_SECTIONS_MAX = 10
SECTION_TITLE_MAX = 24
"""Meta's multi-product section titles follow the list message's 24 (UNVERIFIED for MPM)."""


class MediaCard(Part, frozen=True):
    """One card of a :class:`MediaCarousel`: an image or video header (by id or link, without
    a caption), an optional text of up to 160 characters and 2 line breaks, and a button that
    opens ``url`` (label up to 20 characters)."""

    header: Image | Video
    display_text: str
    url: str
    body: str | None = None

    def _check(self, path: str) -> None:
        check_instance(f"{path}.header", self.header, (Image, Video))
        self.header._check(f"{path}.header")
        if self.header.caption is not None:
            raise ValueError(f"{path}.header.caption: not allowed in a card header")
        check_optional_text(f"{path}.body", self.body, CARD_BODY_MAX)
        if self.body is not None and self.body.count("\n") > CARD_BODY_LINE_BREAKS_MAX:
            raise ValueError(
                f"{path}.body: at most {CARD_BODY_LINE_BREAKS_MAX} line breaks "
                f"(got {self.body.count(chr(10))})"
            )
        check_text(f"{path}.display_text", self.display_text, 20)
        check_url(f"{path}.url", self.url)

    def card(self, index: int) -> dict[str, Any]:
        """The card as sent, at position ``index``."""
        kind = self.header.type
        card: dict[str, Any] = {
            "card_index": index,
            "type": "cta_url",
            "header": {"type": kind, kind: self.header.content()},
        }
        if self.body is not None:
            card["body"] = {"text": self.body}
        parameters = {"display_text": self.display_text, "url": self.url}
        card["action"] = {"name": "cta_url", "parameters": parameters}
        return card


class MediaCarousel(Outbound, frozen=True):
    """A body (up to 1024 characters) above 2 to 10 horizontally scrolled :class:`MediaCard`,
    all with the same header type (all images or all videos). No header, footer or buttons
    outside the cards (reference/cloudapi.md §17, M-media-carousel). ``card_index`` is each
    card's position."""

    type: ClassVar[str] = "interactive"

    body: str
    cards: list[MediaCard]

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, BODY_MAX)
        cards = check_items(f"{path}.cards", self.cards, MediaCard, CARDS_MIN, CARDS_MAX, "card")
        for index, card in enumerate(cards):
            card._check(f"{path}.cards[{index}]")
        kinds = {card.header.type for card in cards}
        if len(kinds) > 1:
            raise ValueError(
                f"{path}.cards: every card has the same header type (got {sorted(kinds)})"
            )

    def content(self) -> dict[str, Any]:
        cards = [card.card(index) for index, card in enumerate(self.cards)]
        return {"type": "carousel", "body": {"text": self.body}, "action": {"cards": cards}}


class ProductCard(Part, frozen=True):
    """One card of a :class:`ProductCarousel`: a product of the catalog."""

    catalog_id: str
    product_retailer_id: str

    def _check(self, path: str) -> None:
        check_text(f"{path}.catalog_id", self.catalog_id)
        check_text(f"{path}.product_retailer_id", self.product_retailer_id)

    def card(self, index: int) -> dict[str, Any]:
        action = {
            "product_retailer_id": self.product_retailer_id,
            "catalog_id": self.catalog_id,
        }
        return {"card_index": index, "type": "product", "action": action}


class ProductCarousel(Outbound, frozen=True):
    """A body (required, up to 1024 characters) above 2 to 10 product cards, all from the same
    catalog; no header or footer (reference/cloudapi.md §17, M-product-carousel)."""

    type: ClassVar[str] = "interactive"

    body: str
    cards: list[ProductCard]

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, BODY_MAX)
        cards = check_items(f"{path}.cards", self.cards, ProductCard, CARDS_MIN, CARDS_MAX, "card")
        for index, card in enumerate(cards):
            card._check(f"{path}.cards[{index}]")
        catalogs = {card.catalog_id for card in cards}
        if len(catalogs) > 1:
            raise ValueError(
                f"{path}.cards: every card is from the same catalog (got {sorted(catalogs)})"
            )

    def content(self) -> dict[str, Any]:
        cards = [card.card(index) for index, card in enumerate(self.cards)]
        return {"type": "carousel", "body": {"text": self.body}, "action": {"cards": cards}}


class CatalogMessage(Outbound, frozen=True):
    """A message with a View catalog button (Meta's interactive ``catalog_message``): body up
    to 1024 characters, footer up to 60; ``thumbnail_product_retailer_id`` picks the item whose
    image is shown (default: the catalog's first item) (reference/cloudapi.md §17)."""

    type: ClassVar[str] = "interactive"

    body: str
    thumbnail_product_retailer_id: str | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.body", self.body, BODY_MAX)
        check_optional_text(
            f"{path}.thumbnail_product_retailer_id", self.thumbnail_product_retailer_id
        )
        check_optional_text(f"{path}.footer", self.footer, FOOTER_MAX)

    def content(self) -> dict[str, Any]:
        action: dict[str, Any] = {"name": "catalog_message"}
        if self.thumbnail_product_retailer_id is not None:
            thumbnail = self.thumbnail_product_retailer_id
            action["parameters"] = {"thumbnail_product_retailer_id": thumbnail}
        return frame("catalog_message", self.body, action, None, self.footer)


class ProductMessage(Outbound, frozen=True):
    """One product of a catalog (Meta's interactive ``product``, a single-product message),
    with an optional body (up to 1024 characters, UNVERIFIED: Meta's page gives none for
    products) and footer (up to 60)."""

    type: ClassVar[str] = "interactive"

    catalog_id: str
    product_retailer_id: str
    body: str | None = None
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.catalog_id", self.catalog_id)
        check_text(f"{path}.product_retailer_id", self.product_retailer_id)
        check_optional_text(f"{path}.body", self.body, BODY_MAX)
        check_optional_text(f"{path}.footer", self.footer, FOOTER_MAX)

    def content(self) -> dict[str, Any]:
        content: dict[str, Any] = {"type": "product"}
        if self.body is not None:
            content["body"] = {"text": self.body}
        if self.footer is not None:
            content["footer"] = {"text": self.footer}
        content["action"] = {
            "catalog_id": self.catalog_id,
            "product_retailer_id": self.product_retailer_id,
        }
        return content


class ProductItem(Part, frozen=True):
    """One item of a :class:`ProductSection`, by its SKU."""

    product_retailer_id: str

    def _check(self, path: str) -> None:
        check_text(f"{path}.product_retailer_id", self.product_retailer_id)

    def content(self) -> dict[str, Any]:
        return {"product_retailer_id": self.product_retailer_id}


class ProductSection(Part, frozen=True):
    """A titled group of items of a :class:`ProductList`. Items may be given as SKU strings."""

    title: str | None
    """Up to 24 characters; required when the list has several sections."""

    product_items: list[ProductItem | str]

    def items(self) -> list[ProductItem]:
        """The items, SKU strings made into :class:`ProductItem`."""
        return [ProductItem(item) if isinstance(item, str) else item for item in self.product_items]

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.title", self.title, SECTION_TITLE_MAX)
        items = check_items(
            f"{path}.product_items",
            self.product_items,
            (ProductItem, str),
            1,
            PRODUCT_LIST_ITEMS_MAX,
            "item",
        )
        for index, item in enumerate(items):
            where = f"{path}.product_items[{index}]"
            if isinstance(item, str):
                check_text(f"{where}.product_retailer_id", item)
            else:
                item._check(where)

    def content(self) -> dict[str, Any]:
        section: dict[str, Any] = {} if self.title is None else {"title": self.title}
        section["product_items"] = [item.content() for item in self.items()]
        return section


class ProductList(Outbound, frozen=True):
    """Up to 30 products in up to 10 sections (Meta's interactive ``product_list``, a
    multi-product message): a text header (required, up to 60 characters), a body (up to
    1024), an optional footer (up to 60) (reference/cloudapi.md §17)."""

    type: ClassVar[str] = "interactive"

    header: str
    body: str
    catalog_id: str
    sections: list[ProductSection]
    footer: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.header", self.header, HEADER_TEXT_MAX)
        check_text(f"{path}.body", self.body, BODY_MAX)
        check_optional_text(f"{path}.footer", self.footer, FOOTER_MAX)
        check_text(f"{path}.catalog_id", self.catalog_id)
        sections = check_items(
            f"{path}.sections",
            self.sections,
            ProductSection,
            1,
            PRODUCT_LIST_SECTIONS_MAX,
            "section",
        )
        for index, section in enumerate(sections):
            section._check(f"{path}.sections[{index}]")
            if section.title is None and len(sections) > 1:
                raise ValueError(
                    f"{path}.sections[{index}].title: required when there are several sections"
                )
        items = [
            (f"{path}.sections[{i}].product_items[{j}]", item.product_retailer_id)
            for i, section in enumerate(sections)
            for j, item in enumerate(section.items())
        ]
        if len(items) > PRODUCT_LIST_ITEMS_MAX:
            raise ValueError(
                f"{path}.sections: at most {PRODUCT_LIST_ITEMS_MAX} items in total "
                f"(got {len(items)})"
            )

    def content(self) -> dict[str, Any]:
        action = {
            "catalog_id": self.catalog_id,
            "sections": [section.content() for section in self.sections],
        }
        return frame("product_list", self.body, action, self.header, self.footer)
