"""A template's review status, quality and category as the webhooks tell them (§3, §14.5).

The ``on_event`` hook records each ``message_template_status_update``,
``message_template_quality_update`` and ``template_category_update`` in the state store
(namespace ``templates.review``, one key per template language and kind of news:
``<name>/<language>/status|quality|category``), so any worker (and a tool with the host) can
read where a template stands: :func:`recorded_review` merges them into a
:class:`ReviewRecord`. A quality update sent under the status field (as Meta's own syntax
block shows) is typed by wahost as a quality update and recorded as one. Webhooks of one kind
for one template that race each other are kept by ``entry.time`` (the newer wins; two of the
same second, the last written).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from wahost.models import TemplateCategoryUpdate, TemplateQualityUpdate, TemplateStatusUpdate

if TYPE_CHECKING:
    from wahost import Wahost
    from wahost.models import Event

__all__ = ["NAMESPACE", "ReviewRecord", "record_event", "recorded_review"]

NAMESPACE = "templates.review"


class ReviewRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where a template language stands, from the webhooks received so far."""

    name: str
    language: str
    template_id: int | None = None
    status: str | None = None
    reason: str | None = None
    recommendation: str | None = None
    quality: str | None = None
    category: str | None = None
    updated: float = 0.0


def _key(name: str, language: str, aspect: str) -> str:
    return f"{name}/{language}/{aspect}"


class _Aspect(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One webhook's news of a template: each kind (status, quality, category) has its own
    key, because the worker runs events concurrently and a shared record would lose writes."""

    template_id: int | None = None
    status: str | None = None
    reason: str | None = None
    recommendation: str | None = None
    quality: str | None = None
    category: str | None = None
    time: int = 0
    updated: float = 0.0


_ASPECTS = ("status", "quality", "category")


async def recorded_review(host: Wahost, name: str, language: str) -> ReviewRecord | None:
    """The recorded review of ``name`` in ``language``, ``None`` when no webhook came yet."""
    record = ReviewRecord(name=name, language=language)
    found = False
    latest_category = -1.0
    for aspect in _ASPECTS:
        raw = await host.state.kv_get(NAMESPACE, _key(name, language, aspect))
        if raw is None:
            continue
        found = True
        news = msgspec.json.decode(raw, type=_Aspect)
        record.template_id = news.template_id or record.template_id
        record.updated = max(record.updated, news.updated)
        if aspect == "status":
            record.status, record.reason = news.status, news.reason
            record.recommendation = news.recommendation
        elif aspect == "quality":
            record.quality = news.quality
        # The category comes with status updates too; the newer webhook tells it.
        if news.category and news.time >= latest_category:
            record.category, latest_category = news.category, news.time
    return record if found else None


async def record_event(host: Wahost, event: Event) -> _Aspect | None:
    """Record a template webhook; ``None`` for any other event. An older webhook (by
    ``entry.time``) than the one recorded does not replace it."""
    value: Any = event.value
    if not isinstance(value, TemplateStatusUpdate | TemplateQualityUpdate | TemplateCategoryUpdate):
        return None
    if not value.name or not value.language:
        return None
    news = _Aspect(template_id=value.message_template_id, time=event.time or 0)
    if isinstance(value, TemplateStatusUpdate):
        aspect = "status"
        news.status, news.reason = value.event or None, value.reason
        info = value.rejection_info
        news.recommendation = info.recommendation if info else None
        news.category = value.category
    elif isinstance(value, TemplateQualityUpdate):
        aspect, news.quality = "quality", value.new_quality_score
    else:
        aspect, news.category = "category", value.new_category
    key = _key(value.name, value.language, aspect)
    stored = await host.state.kv_get(NAMESPACE, key)
    if stored is not None and msgspec.json.decode(stored, type=_Aspect).time > news.time:
        return None
    news.updated = time.time()
    await host.state.kv_set(NAMESPACE, key, msgspec.json.encode(news))
    return news
