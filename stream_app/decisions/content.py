"""Content strategies beyond the trigger's own items: cross-sell from what others bought."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from stream_app.decisions.triggers import Hit
from stream_app.events.decision import ContentItem


def cross_sell(hit: Hit, together: Mapping[str, Sequence[tuple[str, int]]], limit: int = 3) -> Hit:
    """``hit`` featuring the items most often bought with its own (summed over them, its
    own left out) instead of its own; unchanged when nobody bought anything with them.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 6, 1, tzinfo=UTC)
    >>> hit = Hit("cart_abandonment", "c-1", "e-1", at, "cart idle", (ContentItem(item_id="tent"),))
    >>> offer = cross_sell(hit, {"tent": [("mat", 9), ("lamp", 4)]})
    >>> [item.item_id for item in offer.items], offer.reason
    (['mat', 'lamp'], 'cart idle; often bought with it: mat, lamp')
    """
    own = {item.item_id for item in hit.items}
    scores: Counter[str] = Counter()
    for item in own:
        for other, count in together.get(item, ()):
            if other not in own:
                scores[other] += count
    if not scores:
        return hit
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    names = ", ".join(item for item, _ in best)
    return replace(
        hit,
        items=tuple(ContentItem(item_id=item) for item, _ in best),
        reason=f"{hit.reason}; often bought with it: {names}",
    )
