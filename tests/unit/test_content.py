"""Cross-sell content: what others bought with the trigger's items."""

from __future__ import annotations

from datetime import UTC, datetime

from stream_app.decisions.content import cross_sell
from stream_app.decisions.triggers import Hit
from stream_app.events.decision import ContentItem

AT = datetime(2026, 6, 1, tzinfo=UTC)


def cart(*items: str) -> Hit:
    return Hit(
        "cart_abandonment",
        "c-1",
        "e-1",
        AT,
        "cart idle",
        tuple(ContentItem(item_id=i) for i in items),
    )


def test_items_bought_with_the_whole_cart_rank_by_summed_counts_without_the_cart_itself() -> None:
    together = {
        "tent": [("mat", 5), ("lamp", 4), ("stove", 1)],
        "stove": [("lamp", 3), ("tent", 9), ("gas", 2)],
    }
    offer = cross_sell(cart("tent", "stove"), together, limit=2)
    assert [i.item_id for i in offer.items] == ["lamp", "mat"]  # lamp 7, mat 5; tent is in it
    assert offer.reason == "cart idle; often bought with it: lamp, mat"
    assert (offer.key, offer.at, offer.trigger) == ("e-1", AT, "cart_abandonment")


def test_nothing_bought_together_leaves_the_hit_as_it_was() -> None:
    hit = cart("tent")
    assert cross_sell(hit, {}) is hit
    assert cross_sell(hit, {"tent": [("tent", 3)]}) is hit
