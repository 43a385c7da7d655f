"""The review status, quality and category of a template, followed through signed webhooks
posted to a running host (its worker and a real SQLite store): the plugin's on_event hook
records them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import wahost_templates
from wahost_templates import recorded_review

from wahost.testing import FakeGraph
from wahost.testing.harness import BotHarness

WABA = "102290129340398"


def envelope(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": 1767225600, "changes": [{"field": field, "value": value}]}],
    }


async def test_status_quality_and_category_webhooks_are_recorded(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    template = fake_graph.add_template(
        WABA,
        {"name": "order_update", "language": "en_US", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hi"}]},
        status="PENDING",
    )  # fmt: skip
    async with BotHarness(tmp_path, plugins=[wahost_templates], graph=fake_graph) as bot:
        assert await recorded_review(bot.host, "order_update", "en_US") is None

        rejected = fake_graph.review_template(template.id, "REJECTED", reason="INVALID_FORMAT")
        rejected["rejection_info"] = {"reason": "INVALID_FORMAT", "recommendation": "Fix {{1}}"}
        assert (
            await bot.post(envelope("message_template_status_update", rejected))
        ).status_code == 200
        await bot.idle()
        record = await recorded_review(bot.host, "order_update", "en_US")
        assert record is not None
        assert (record.status, record.reason, record.recommendation) == (
            "REJECTED",
            "INVALID_FORMAT",
            "Fix {{1}}",
        )
        assert record.template_id == int(template.id)

        approved = fake_graph.review_template(template.id, "APPROVED")
        await bot.post(envelope("message_template_status_update", approved))
        # Meta's own syntax block sends a quality update under the status field (§14.5).
        quality = {
            "previous_quality_score": "GREEN",
            "new_quality_score": "YELLOW",
            "message_template_id": int(template.id),
            "message_template_name": "order_update",
            "message_template_language": "en_US",
        }
        await bot.post(envelope("message_template_status_update", quality))
        category = {
            "message_template_id": int(template.id),
            "message_template_name": "order_update",
            "message_template_language": "en_US",
            "previous_category": "UTILITY",
            "new_category": "MARKETING",
        }
        await bot.post(envelope("template_category_update", category))
        await bot.idle()
        record = await recorded_review(bot.host, "order_update", "en_US")
        assert record is not None
        assert (record.status, record.reason, record.quality, record.category) == (
            "APPROVED",
            "NONE",
            "YELLOW",
            "MARKETING",
        )
        assert await recorded_review(bot.host, "order_update", "es") is None
