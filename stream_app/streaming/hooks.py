"""What the ingest step does with a batch besides profiles: catalog triggers and conversions.

Both run after the batch's profile updates are applied and before it is
acknowledged, and both are idempotent, so a replayed batch changes nothing twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import BackInStock, PriceDrop
from stream_app.decisions.triggers import Hit, catalog_hits, unique_hits
from stream_app.events.catalog import ItemUpdate
from stream_app.events.clickstream import ClickEvent, ProductView
from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.decisions import DecisionStore, Window
from stream_app.streaming.decider import Decider
from stream_app.streaming.retry import RedisRetry


class BatchHook(Protocol):
    async def __call__(
        self, events: Sequence[tuple[str | None, Event]], now: datetime
    ) -> Counter[str]:
        """React to a batch's applied events: (customer or None, event)."""


class CatalogTriggers:
    """Price drops and restocks: an item change is a trigger for everyone who viewed it."""

    def __init__(self, decider: Decider, catalog: CatalogStore, retry: RedisRetry) -> None:
        self._decider = decider
        self._catalog = catalog
        self._retry = retry
        self._campaigns = [
            c for c in decider.book.campaigns if isinstance(c.trigger, PriceDrop | BackInStock)
        ]

    async def __call__(
        self, events: Sequence[tuple[str | None, Event]], now: datetime
    ) -> Counter[str]:
        counters: Counter[str] = Counter()
        views: dict[str, list[tuple[str, int]]] = defaultdict(list)
        updates: list[ItemUpdate] = []
        for customer, event in events:
            if isinstance(event, ProductView) and customer is not None:
                views[event.item_id].append((customer, to_ms(event.event_time)))
            elif isinstance(event, ItemUpdate):
                updates.append(event)
        if self._campaigns:
            await self._retry(lambda: self._catalog.viewed(views, now))
        changes, replays = await self._retry(lambda: self._catalog.update(updates))
        counters["events_applied"] += len(updates) - replays  # their effect: the catalog
        counters["events_duplicate"] += replays
        if not changes or not self._campaigns:
            return counters
        audiences = await self._retry(lambda: self._catalog.viewers([c.item_id for c in changes]))
        hits: list[Hit] = []
        for change, viewers in zip(changes, audiences, strict=True):
            for campaign in self._campaigns:
                trigger = campaign.trigger
                assert isinstance(trigger, PriceDrop | BackInStock)
                hits.extend(catalog_hits(change, trigger, viewers))
        unique = unique_hits(hits)
        for hit in unique:
            counters[f"triggers:{hit.trigger}"] += 1
        counters.update(await self._decider.decide(unique, now))
        return counters


class Conversions:
    """A goal event inside an open conversion window converts that decision (treated and
    holdout alike: that is what lift compares)."""

    def __init__(self, decisions: DecisionStore, retry: RedisRetry) -> None:
        self._decisions = decisions
        self._retry = retry

    async def __call__(
        self, events: Sequence[tuple[str | None, Event]], now: datetime
    ) -> Counter[str]:
        goals: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for customer, event in events:
            if customer is None:
                continue
            ms = to_ms(event.event_time)
            if isinstance(event, Purchase):
                goals[customer].append(("purchase", ms))
            if isinstance(event, ClickEvent):  # any clickstream event is a visit
                goals[customer].append(("visit", ms))
        counters: Counter[str] = Counter()
        if not goals:
            return counters
        customers = sorted(goals)
        windows = await self._retry(lambda: self._decisions.windows(customers))
        converted: list[tuple[str, Window]] = []
        for customer, open_windows in zip(customers, windows, strict=True):
            for window in open_windows:
                if any(
                    goal == window.goal and window.start_ms <= ms <= window.end_ms
                    for goal, ms in goals[customer]
                ):
                    converted.append((customer, window))
        await self._retry(lambda: self._decisions.convert(converted))
        for _, window in converted:
            counters[f"conversions:{window.campaign_id}:{window.arm}"] += 1
        return counters
