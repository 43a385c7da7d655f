"""Carousels, commerce, call and contact-info messages, marketing sends and local files
(issue 27): each body against the shape reference/cloudapi.md §17 (and §13.5) gives, Meta's
limits, and the sends through a real host, over HTTP, to the fake Graph API."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import wahost_media

from wahost import Context, hookimpl
from wahost.errors import GraphError
from wahost.local_media import MediaPluginMissing
from wahost.marketing import MarketingStopped
from wahost.outbound import (
    CallPermissionRequest,
    CatalogMessage,
    ContactInfoRequest,
    Image,
    MarketingTemplate,
    MediaCard,
    MediaCarousel,
    ProductCard,
    ProductCarousel,
    ProductList,
    ProductMessage,
    ProductSection,
    Template,
    Video,
    VoiceCall,
    message_body,
)
from wahost.simulator.render import render
from wahost.testing import TEST_PHONE_NUMBER_ID, TEST_TOKEN, BotHarness
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_status, make_text, make_webhook

USER = "16505551234"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 40


def media_carousel() -> MediaCarousel:
    cards = [
        MediaCard(Image(link="https://example.com/a.png"), "Buy", "https://example.com/a", "A"),
        MediaCard(Image(id="1234"), "See", "https://example.com/b"),
    ]
    return MediaCarousel("Our picks", cards)


def product_list() -> ProductList:
    sections = [
        ProductSection("Tea", ["sku-1", "sku-2"]),
        ProductSection("Cups", ["sku-3"]),
    ]
    return ProductList("Spring", "Pick one", "cat-9", sections, footer="While stocks last")


# message -> the ``interactive`` object reference/cloudapi.md gives for it.
SHAPES: list[tuple[Any, dict[str, Any]]] = [
    (
        media_carousel(),
        {
            "type": "carousel",
            "body": {"text": "Our picks"},
            "action": {
                "cards": [
                    {
                        "card_index": 0,
                        "type": "cta_url",
                        "header": {"type": "image", "image": {"link": "https://example.com/a.png"}},
                        "body": {"text": "A"},
                        "action": {
                            "name": "cta_url",
                            "parameters": {"display_text": "Buy", "url": "https://example.com/a"},
                        },
                    },
                    {
                        "card_index": 1,
                        "type": "cta_url",
                        "header": {"type": "image", "image": {"id": "1234"}},
                        "action": {
                            "name": "cta_url",
                            "parameters": {"display_text": "See", "url": "https://example.com/b"},
                        },
                    },
                ]
            },
        },
    ),
    (
        ProductCarousel("New in", [ProductCard("cat-9", "sku-1"), ProductCard("cat-9", "sku-2")]),
        {
            "type": "carousel",
            "body": {"text": "New in"},
            "action": {
                "cards": [
                    {
                        "card_index": 0,
                        "type": "product",
                        "action": {"product_retailer_id": "sku-1", "catalog_id": "cat-9"},
                    },
                    {
                        "card_index": 1,
                        "type": "product",
                        "action": {"product_retailer_id": "sku-2", "catalog_id": "cat-9"},
                    },
                ]
            },
        },
    ),
    (
        CatalogMessage("See our catalog", "sku-1", footer="Free delivery"),
        {
            "type": "catalog_message",
            "body": {"text": "See our catalog"},
            "footer": {"text": "Free delivery"},
            "action": {
                "name": "catalog_message",
                "parameters": {"thumbnail_product_retailer_id": "sku-1"},
            },
        },
    ),
    (
        CatalogMessage("See our catalog"),
        {
            "type": "catalog_message",
            "body": {"text": "See our catalog"},
            "action": {"name": "catalog_message"},
        },
    ),
    (
        ProductMessage("cat-9", "sku-1", body="Our best tea"),
        {
            "type": "product",
            "body": {"text": "Our best tea"},
            "action": {"catalog_id": "cat-9", "product_retailer_id": "sku-1"},
        },
    ),
    (
        product_list(),
        {
            "type": "product_list",
            "header": {"type": "text", "text": "Spring"},
            "body": {"text": "Pick one"},
            "footer": {"text": "While stocks last"},
            "action": {
                "catalog_id": "cat-9",
                "sections": [
                    {
                        "title": "Tea",
                        "product_items": [
                            {"product_retailer_id": "sku-1"},
                            {"product_retailer_id": "sku-2"},
                        ],
                    },
                    {"title": "Cups", "product_items": [{"product_retailer_id": "sku-3"}]},
                ],
            },
        },
    ),
    (
        CallPermissionRequest("May we call you about your order?"),
        {
            "type": "call_permission_request",
            "body": {"text": "May we call you about your order?"},
            "action": {"name": "call_permission_request"},
        },
    ),
    (
        CallPermissionRequest(),
        {"type": "call_permission_request", "action": {"name": "call_permission_request"}},
    ),
    (
        VoiceCall("Talk to us", "Call now", ttl_minutes=60, payload="order-7"),
        {
            "type": "voice_call",
            "body": {"text": "Talk to us"},
            "action": {
                "name": "voice_call",
                "parameters": {"display_text": "Call now", "ttl_minutes": 60, "payload": "order-7"},
            },
        },
    ),
    (
        ContactInfoRequest("Share your number so we can call back"),
        {
            "type": "request_contact_info",
            "body": {"text": "Share your number so we can call back"},
            "action": {"name": "request_contact_info"},
        },
    ),
]


@pytest.mark.parametrize(("message", "expected"), SHAPES, ids=lambda v: type(v).__name__)
def test_the_body_is_the_reference_shape(message: Any, expected: dict[str, Any]) -> None:
    body = message_body("+" + USER, message)
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+" + USER,
        "type": "interactive",
        "interactive": expected,
    }


def _cards(n: int, kind: type[Image] | type[Video] = Image) -> list[MediaCard]:
    return [MediaCard(kind(id=str(i + 1)), "Go", "https://example.com") for i in range(n)]


def _with(card: MediaCard) -> MediaCarousel:
    """A carousel whose second card is ``card``: a card is checked with its carousel."""
    return MediaCarousel("b", [*_cards(1), card])


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: MediaCarousel("b", _cards(1)), "MediaCarousel.cards: at least 2 cards (got 1)"),
        (lambda: MediaCarousel("b", _cards(11)), "MediaCarousel.cards: at most 10 cards (got 11)"),
        (
            lambda: MediaCarousel("b", [*_cards(1), *_cards(1, Video)]),
            "MediaCarousel.cards: every card has the same header type",
        ),
        (
            lambda: _with(MediaCard(Image(id="1"), "Go", "https://e.com", "x" * 161)),
            "MediaCarousel.cards[1].body: at most 160 characters (got 161)",
        ),
        (
            lambda: _with(MediaCard(Image(id="1"), "Go", "https://e.com", "a\nb\nc\nd")),
            "MediaCarousel.cards[1].body: at most 2 line breaks (got 3)",
        ),
        (
            lambda: _with(MediaCard(Image(id="1", caption="c"), "Go", "https://e.com")),
            "MediaCarousel.cards[1].header.caption: not allowed in a card header",
        ),
        (
            lambda: _with(MediaCard(Image(id="1"), "x" * 21, "https://e.com")),
            "MediaCarousel.cards[1].display_text: at most 20 characters (got 21)",
        ),
        (
            lambda: ProductCarousel("b", [ProductCard("c1", "s1"), ProductCard("c2", "s2")]),
            "ProductCarousel.cards: every card is from the same catalog",
        ),
        (lambda: CatalogMessage("x" * 1025), "CatalogMessage.body: at most 1024 characters"),
        (lambda: CatalogMessage("b", footer="x" * 61), "CatalogMessage.footer: at most 60"),
        (lambda: ProductMessage("", "s"), "ProductMessage.catalog_id: must not be empty"),
        (
            lambda: ProductList("h", "b", "c", [ProductSection("A", [f"s{i}" for i in range(31)])]),
            "ProductList.sections[0].product_items: at most 30 items (got 31)",
        ),
        (
            lambda: ProductList(
                "h",
                "b",
                "c",
                [ProductSection(f"S{j}", [f"s{j}-{i}" for i in range(8)]) for j in range(4)],
            ),
            "ProductList.sections: at most 30 items in total (got 32)",
        ),
        (
            lambda: ProductList(
                "h", "b", "c", [ProductSection(None, ["a"]), ProductSection("B", ["b"])]
            ),
            "ProductList.sections[0].title: required when there are several sections",
        ),
        (
            lambda: ProductList("x" * 61, "b", "c", [ProductSection(None, ["a"])]),
            "ProductList.header",
        ),
        (lambda: VoiceCall("b", "Call", ttl_minutes=0), "VoiceCall.ttl_minutes: 1 to 43200"),
        (lambda: VoiceCall("b", "Call", ttl_minutes=43201), "VoiceCall.ttl_minutes: 1 to 43200"),
        (lambda: VoiceCall("b", "Call", payload="x" * 513), "VoiceCall.payload: at most 512"),
        (lambda: CallPermissionRequest("x" * 1025), "CallPermissionRequest.body: at most 1024"),
        (lambda: ContactInfoRequest(""), "ContactInfoRequest.body: must not be empty"),
        (
            lambda: MarketingTemplate(Template("sale", "en_US"), product_policy="LOOSE"),  # type: ignore[arg-type]
            "MarketingTemplate.product_policy: must be one of",
        ),
    ],
)
def test_limits_are_checked_when_built(build: Any, error: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(error)):
        build()


def test_a_marketing_template_is_not_sent_to_a_group() -> None:
    with pytest.raises(ValueError, match="MarketingTemplate is not sent to a group"):
        message_body(
            "group-1", MarketingTemplate(Template("sale", "en_US")), recipient_type="group"
        )


class Replier:
    """Replies to each text with the message its body names."""

    __name__ = "replier"

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.errors: list[Exception] = []

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        reply = self.replies[message.text.body]
        try:
            if isinstance(reply, dict):
                await ctx.reply(**reply)
            else:
                await ctx.reply(reply)
        except (MarketingStopped, MediaPluginMissing) as exc:
            self.errors.append(exc)
        return True


async def _exchange(
    tmp_path: Path,
    graph: FakeGraph,
    replier: Replier,
    webhooks: list[dict[str, Any]],
    plugins: tuple[Any, ...] = (),
) -> None:
    config = {"whatsapp": {"graph_url": graph.url}}
    async with BotHarness(tmp_path, plugins=[*plugins, replier], config=config) as bot:
        for webhook in webhooks:
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()


def _texts(*bodies: str) -> list[dict[str, Any]]:
    return [
        make_webhook(make_text(body, sender=USER, wamid=f"wamid.in-{i}"))
        for i, body in enumerate(bodies)
    ]


async def test_every_new_type_is_accepted_by_the_fake_graph_api(tmp_path: Path) -> None:
    replies = {str(i): message for i, (message, _) in enumerate(SHAPES)}
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, Replier(replies), _texts(*replies))
    assert [sent["interactive"] for sent in graph.sent] == [shape for _, shape in SHAPES]


@pytest.mark.parametrize(
    ("interactive", "refusal"),
    [
        ({"type": "carousel", "body": {"text": "b"}, "action": {"cards": []}}, "2 to 10 cards"),
        (
            {
                "type": "carousel",
                "body": {"text": "b"},
                "action": {
                    "cards": [
                        {
                            "card_index": 0,
                            "type": "product",
                            "action": {"catalog_id": "1", "product_retailer_id": "a"},
                        },
                        {
                            "card_index": 1,
                            "type": "product",
                            "action": {"catalog_id": "2", "product_retailer_id": "b"},
                        },
                    ]
                },
            },
            "same catalog",
        ),
        ({"type": "product_list", "body": {"text": "b"}, "action": {"catalog_id": "1"}}, "header"),
        (
            {"type": "voice_call", "body": {"text": "b"}, "action": {"name": "voice_call"}},
            "display_text",
        ),
        ({"type": "catalog_message", "action": {"name": "catalog_message"}}, "body.text"),
        ({"type": "shop", "action": {}}, "interactive.type must be one of"),
    ],
)
async def test_the_fake_refuses_what_meta_refuses(
    interactive: dict[str, Any], refusal: str
) -> None:
    body = {
        "messaging_product": "whatsapp",
        "to": USER,
        "type": "interactive",
        "interactive": interactive,
    }
    headers = {"Authorization": f"Bearer {TEST_TOKEN}"}
    async with FakeGraph(token=TEST_TOKEN) as graph, loopback_client(headers=headers) as http:
        answer = await http.post(f"{graph.url}/v24.0/{TEST_PHONE_NUMBER_ID}/messages", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 100
    assert refusal in answer.json()["error"]["error_data"]["details"]
    assert graph.sent == []


async def test_a_local_file_is_uploaded_through_wahost_media_then_sent_by_id(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "cat.png"
    photo.write_bytes(PNG)
    replies = {
        "path": {"image": photo, "caption": "Your cat"},
        "bytes": {"document": b"minutes of the meeting", "filename": "notes.txt"},
    }
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, Replier(replies), _texts("path", "bytes"), (wahost_media,))
    image, document = graph.sent
    assert image["type"] == "image"
    assert graph.media[image["image"]["id"]].data == PNG
    assert image["image"]["caption"] == "Your cat"
    assert "link" not in image["image"]
    assert graph.media[document["document"]["id"]].data == b"minutes of the meeting"
    assert document["document"]["filename"] == "notes.txt"
    uploads = [r for r in graph.requests if r.path.endswith("/media")]
    assert len(uploads) == 2


async def test_a_local_file_without_wahost_media_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "cat.png"
    photo.write_bytes(PNG)
    monkeypatch.setitem(sys.modules, "wahost_media", None)  # not installed
    replier = Replier({"path": {"image": photo}})
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, replier, _texts("path"))
    [error] = replier.errors
    assert "needs wahost-media to upload it (pip install wahost-media" in str(error)
    assert graph.sent == []
    assert graph.requests == []


def _preferences(value: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "user_preferences",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": TEST_PHONE_NUMBER_ID,
                            },
                            "contacts": [{"wa_id": USER, "profile": {"name": "Sheena"}}],
                            "user_preferences": [
                                {
                                    "wa_id": USER,
                                    "detail": f"User requested to {value} marketing messages",
                                    "category": "marketing_messages",
                                    "value": value,
                                    "timestamp": 1731705721,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


SALE = MarketingTemplate(
    Template("spring_sale", "en_US"), product_policy="STRICT", message_activity_sharing=True
)


async def test_a_marketing_template_goes_to_the_marketing_messages_endpoint(
    tmp_path: Path,
) -> None:
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, Replier({"sale": SALE}), _texts("sale"))
    [sent] = graph.sent
    assert sent["template"] == {"name": "spring_sale", "language": {"code": "en_US"}}
    assert sent["product_policy"] == "STRICT"
    assert sent["message_activity_sharing"] is True
    [request] = [r for r in graph.requests if r.json and r.json.get("type") == "template"]
    assert request.path == f"/v24.0/{TEST_PHONE_NUMBER_ID}/marketing_messages"


async def test_a_user_who_stopped_marketing_is_not_sent_to_until_they_resume(
    tmp_path: Path,
) -> None:
    replier = Replier({"sale": SALE})
    webhooks = [
        _preferences("stop"),
        *_texts("sale"),
        _preferences("resume"),
        make_webhook(make_text("sale", sender=USER, wamid="wamid.in-after")),
    ]
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, replier, webhooks)
    [refused] = replier.errors
    assert isinstance(refused, MarketingStopped)
    assert refused.user == USER
    assert len(graph.sent) == 1  # only after the resume
    assert graph.sent[0].message.template.name == "spring_sale"


async def test_a_131050_status_stops_later_marketing_sends(tmp_path: Path) -> None:
    replier = Replier({"sale": SALE})
    webhooks = [
        make_status("wamid.out-1", "failed", recipient=USER, errors=131050),
        *_texts("sale"),
    ]
    async with FakeGraph(token=TEST_TOKEN) as graph:
        await _exchange(tmp_path, graph, replier, webhooks)
    assert [type(e) for e in replier.errors] == [MarketingStopped]
    assert graph.sent == []


async def test_a_send_refused_with_131050_stops_later_marketing_sends(tmp_path: Path) -> None:
    class Twice(Replier):
        @hookimpl
        async def on_message(self, message: Any, ctx: Context) -> bool:
            try:
                await ctx.reply(SALE)
            except (GraphError, MarketingStopped) as exc:
                self.errors.append(exc)
            return True

    replier = Twice({})
    async with FakeGraph(token=TEST_TOKEN) as graph:
        graph.stopped_marketing.add(USER)
        await _exchange(tmp_path, graph, replier, _texts("sale", "sale again"))
        marketing = [r for r in graph.requests if r.path.endswith("/marketing_messages")]
    first, second = replier.errors
    assert isinstance(first, GraphError) and first.code == 131050
    assert isinstance(second, MarketingStopped)
    assert len(marketing) == 1  # the second was refused before any request
    assert graph.sent == []


@pytest.mark.parametrize(("message", "expected"), SHAPES, ids=lambda v: type(v).__name__)
def test_the_simulator_shows_every_new_type(message: Any, expected: dict[str, Any]) -> None:
    shown = render(message_body(USER, message), wamid="wamid.out")
    assert shown.kind == "interactive"
    assert shown.text


def test_the_simulator_shows_cards_and_call_buttons_as_text() -> None:
    carousel = render(message_body(USER, media_carousel()), wamid="wamid.out")
    assert carousel.text == (
        "Our picks\n[card 1: A · Buy: https://example.com/a]\n[card 2: See: https://example.com/b]"
    )
    call = render(message_body(USER, VoiceCall("Talk to us", "Call now")), wamid="wamid.out")
    assert call.text == "Talk to us\n[call button: Call now]"
