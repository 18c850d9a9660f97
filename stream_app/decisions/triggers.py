"""Triggers: moments worth a message, found in a profile as it is now (or a catalog change).

Each detector returns a ``Hit`` with a dedupe ``key``: the same occurrence
(this cart, this lapse, this price drop) always has the same key, so however
often it is re-detected (retries, re-evaluations, replays) it yields one
decision id per campaign. The urgency window of a campaign starts at ``Hit.at``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stream_app.clock import from_ms, to_ms, zone
from stream_app.decisions.campaigns import (
    BackInStock,
    BrowseAbandonment,
    Campaign,
    Geofence,
    NegativeRemark,
    PriceDrop,
    Replenishment,
    SegmentEntry,
    TriggerType,
    WinBack,
)
from stream_app.decisions.text import span
from stream_app.events.decision import ContentItem
from stream_app.profiles.derive import ProfileView

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Hit:
    """One trigger occurrence for one customer."""

    trigger: TriggerType
    customer_id: str
    key: str
    at: datetime
    reason: str
    items: tuple[ContentItem, ...] = ()
    category: str | None = None
    #: Found through a wishlist (its item's): stands only while the profile still wishes it.
    wished: str | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """Not yet: look again at ``due`` (e.g. the browsing has not been idle long enough)."""

    due: datetime


def browse_abandonment(
    view: ProfileView, categories: Mapping[str, str], trigger: BrowseAbandonment
) -> Hit | Wait | None:
    """Several items of one category viewed recently, then nothing: no cart, no order.

    ``categories`` maps item ids to their catalog category; items the catalog
    does not know are left out. Keyed by the last view: the same burst of
    browsing is one trigger however often it is looked at, a new view a new one.
    """
    now_ms = view.now_ms
    since = now_ms - _ms(trigger.within)
    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for item, ms in view.viewed_ms.items():
        if ms >= since and item in categories:
            groups[categories[item]].append((item, ms))
    if not groups:
        return None
    category, found = max(
        groups.items(), key=lambda kv: (len(kv[1]), max(ms for _, ms in kv[1]), kv[0])
    )
    if len(found) < trigger.min_views:
        return None
    first_ms = min(ms for _, ms in found)
    if any(line.added_ms >= first_ms for line in view.cart):
        return None
    if (view.last_of("purchase") or -1) >= first_ms:
        return None
    now, last = view.now, from_ms(max(ms for _, ms in found))
    views = [(item, from_ms(ms)) for item, ms in found]
    if now - last < trigger.idle:
        return Wait(last + trigger.idle)
    items = tuple(
        ContentItem(item_id=item, category=category)
        for item, _ in sorted(views, key=lambda v: v[1], reverse=True)[:5]
    )
    return Hit(
        "browse_abandonment",
        view.customer_id,
        f"browse:{category}:{to_ms(last)}",
        last,
        f"{len(views)} {category} views, idle {span(now - last)}, no cart",
        items,
        category,
    )


def replenishment(view: ProfileView, trigger: Replenishment) -> Hit | Wait | None:
    """The customer's own interval between orders says the next one is due soon."""
    due = view.next_purchase_due
    if view.orders < 2 or due is None or view.lifecycle not in ("active", "at_risk"):
        return None
    if view.now < due - trigger.lead:
        return Wait(due - trigger.lead)
    return Hit(
        "replenishment",
        view.customer_id,
        f"replenish:{to_ms(due)}",
        max(due - trigger.lead, view.now - trigger.lead),
        f"usually orders every {view.interval_days:.0f} days; next due {due:%Y-%m-%d}",
        category=_top(view),
    )


def win_back(view: ProfileView) -> Hit | Wait | None:
    """The life cycle is ``at_risk``: later than the customer's own rhythm, not yet lapsed.

    Keyed by the last order, so one lapse yields one win-back per campaign.
    """
    if view.recency_days is None:
        return None
    if view.lifecycle in ("new", "active"):
        changes = view.lifecycle_changes_at
        return None if changes is None else Wait(changes)
    if view.lifecycle != "at_risk":
        return None
    last = view.now - timedelta(days=view.recency_days)
    return Hit(
        "win_back",
        view.customer_id,
        f"winback:{to_ms(last) // 60_000}",
        view.now,
        f"no order for {view.recency_days:.0f} days, usually every {view.interval_days:.0f}",
        category=_top(view),
    )


def geofence(view: ProfileView, trigger: Geofence) -> Hit | None:
    """Near one of our stores recently (and in the wanted weather, if any); once per store
    and local day."""
    store = view.context.get("near_store")
    stamp = view.context.get("near_store_at")
    if not store or not stamp:
        return None
    at = from_ms(int(stamp))
    if view.now - at > trigger.within:
        return None
    weather = view.context.get("weather", "")
    if trigger.weather and weather not in trigger.weather:
        return None
    distance = view.context.get("store_distance_m", "?")
    return Hit(
        "geofence",
        view.customer_id,
        f"geo:{store}:{at.astimezone(zone(view.local_zone)).date().isoformat()}",
        at,
        f"{distance} m from store {store}" + (f", {weather}" if weather else ""),
        category=_top(view),
    )


def segment_entry(view: ProfileView, entered: Sequence[str], segment: str) -> Hit | None:
    """Entered ``segment`` in this evaluation; once per segment and day."""
    if segment not in entered:
        return None
    return Hit(
        "segment_entry",
        view.customer_id,
        f"seg:{segment}:{to_ms(view.now) // DAY_MS}",
        view.now,
        f"entered segment {segment}",
        category=_top(view),
    )


def negative_remark(view: ProfileView, trigger: NegativeRemark) -> Hit | None:
    """The customer complained (their latest negative remark) within ``trigger.within``;
    keyed by its time, so a redelivered remark or a re-evaluation answers it once. The
    reason names its source and polarity, never its text."""
    at = view.last_negative_at
    if at is None or view.now - at > trigger.within or not view.complaints:
        return None
    latest = view.complaints[0]
    about = f" about {latest.about}" if latest.about else ""
    return Hit(
        "negative_remark",
        view.customer_id,
        f"remark:{to_ms(at)}",
        at,
        f"negative remark ({latest.source or 'unknown source'}{about}, "
        f"polarity {latest.polarity:+.2f})",
    )


@dataclass(frozen=True, slots=True)
class ItemChange:
    """A catalog update compared with what was known before it."""

    item_id: str
    category: str | None
    at: datetime
    price: float | None
    previous_price: float | None
    in_stock: bool
    was_in_stock: bool | None


def price_drop(change: ItemChange, trigger: PriceDrop) -> str | None:
    """A dedupe key if the change is a big enough price drop, else None."""
    if change.price is None or not change.previous_price or not change.in_stock:
        return None
    # In cents, so 100 -> 90 is the 10 % drop it looks like (1 - 90/100 is 0.0999...).
    if round(change.price * 100) > round(change.previous_price * (1.0 - trigger.min_drop) * 100):
        return None
    return f"price:{change.item_id}:{to_ms(change.at)}"


def back_in_stock(change: ItemChange, trigger: BackInStock) -> str | None:
    """A dedupe key if the item was out of stock and is back."""
    del trigger  # all its parameters concern who viewed the item
    if change.was_in_stock is not False or not change.in_stock:
        return None
    return f"stock:{change.item_id}:{to_ms(change.at)}"


@dataclass(frozen=True, slots=True)
class ItemAudience:
    """Who may hear of an item's change: customer -> last view, and -> when wished."""

    viewers: Mapping[str, datetime]
    wishers: Mapping[str, datetime] = field(default_factory=dict)


def catalog_hits(
    change: ItemChange, trigger: PriceDrop | BackInStock, audience: ItemAudience
) -> list[Hit]:
    """One hit per customer who wishes the item, or else viewed it within the trigger's
    window."""
    if isinstance(trigger, PriceDrop):
        key = price_drop(change, trigger)
        news = f"now {_pct(change)} cheaper"
    else:
        key = back_in_stock(change, trigger)
        news = "back in stock"
    if key is None:
        return []
    since = change.at - trigger.viewed_within
    item = ContentItem(item_id=change.item_id, category=change.category, price=change.price)
    wishers = audience.wishers
    hits = [
        Hit(trigger.type, cid, key, change.at, f"on your wishlist, {news}", (item,),
            change.category, change.item_id)
        for cid in sorted(wishers)
    ]  # fmt: skip
    return hits + [
        Hit(trigger.type, cid, key, change.at, f"viewed item {news}", (item,), change.category)
        for cid, viewed_at in sorted(audience.viewers.items())
        if viewed_at >= since and cid not in wishers
    ]


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def _pct(change: ItemChange) -> str:
    if change.price is None or not change.previous_price:
        return "?"
    return f"{100 * (1 - change.price / change.previous_price):.0f}%"


def _top(view: ProfileView) -> str | None:
    return view.top_categories[0] if view.top_categories else None


#: The event types that can change a profile trigger's answer; time changes it too, and
#: the times it waits for are looked at by the worker's timer. Segment entry follows
#: the segments.
CHANGED_BY: Mapping[str, frozenset[str]] = {
    "browse_abandonment": frozenset({"product_view", "add_to_cart", "purchase"}),
    "replenishment": frozenset({"purchase"}),
    "win_back": frozenset({"purchase"}),
    "geofence": frozenset({"proximity", "ambient", "traits"}),
    "negative_remark": frozenset({"review", "comment"}),
}


def profile_hits(
    view: ProfileView,
    entered: Sequence[str],
    campaigns: Sequence[Campaign],
    categories: Mapping[str, str] | None = None,
    changed: Set[str] | None = None,
) -> tuple[list[Hit], list[datetime]]:
    """Hits of the profile-based triggers of ``campaigns`` (all but cart and catalog ones),
    and the times some of them want to look again (browsing not idle long enough yet).

    ``categories`` of viewed items default to those the views named. ``changed``: the
    event types just applied, when only the triggers they can change
    are to be looked at (the others' answers and waits stand since they were last
    looked at); None looks at all of them (the timer's evaluation).
    """
    hits: list[Hit] = []
    waits: list[datetime] = []
    for campaign in campaigns:
        trigger = campaign.trigger
        if changed is not None and changed.isdisjoint(CHANGED_BY.get(trigger.type, changed)):
            continue
        found: Hit | Wait | None = None
        if isinstance(trigger, BrowseAbandonment):
            named = view.viewed_categories if categories is None else categories
            found = browse_abandonment(view, named, trigger)
        elif isinstance(trigger, Replenishment):
            found = replenishment(view, trigger)
        elif isinstance(trigger, WinBack):
            found = win_back(view)
        elif isinstance(trigger, Geofence):
            found = geofence(view, trigger)
        elif isinstance(trigger, SegmentEntry):
            found = segment_entry(view, entered, trigger.segment)
        elif isinstance(trigger, NegativeRemark):
            found = negative_remark(view, trigger)
        if isinstance(found, Hit):
            hits.append(found)
        elif isinstance(found, Wait):
            waits.append(found.due)
    return hits, waits


def unique_hits(hits: Sequence[Hit]) -> list[Hit]:
    """One hit per (customer, trigger, key): several campaigns may find the same occurrence.

    >>> from datetime import UTC
    >>> at = datetime(2026, 6, 1, tzinfo=UTC)
    >>> len(unique_hits([Hit("win_back", "c", "k", at, "a"), Hit("win_back", "c", "k", at, "b")]))
    1
    """
    seen: dict[tuple[str, str, str], Hit] = {}
    for hit in hits:
        seen.setdefault((hit.customer_id, hit.trigger, hit.key), hit)
    return list(seen.values())
