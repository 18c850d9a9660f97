"""Cart abandonment: a cart left idle past a delay, with no checkout or order since.

Judged when the scheduled check falls due, from the cart as it is then, so
later events (more items, a removal, an order) are always taken into account.
The trigger's key is the newest open line's event id: the same cart state is
one trigger however often it is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.campaigns import CartAbandonment
from stream_app.decisions.text import span
from stream_app.decisions.triggers import Hit, Wait
from stream_app.events.decision import ContentItem
from stream_app.profiles.cart import CartLine


@dataclass(frozen=True, slots=True)
class CartSnapshot:
    """What the check reads about one customer."""

    customer_id: str
    lines: tuple[CartLine, ...]
    last_checkout_ms: int | None
    last_purchase_ms: int | None


def cart_abandonment(
    snapshot: CartSnapshot, trigger: CartAbandonment, now: datetime
) -> Hit | Wait | str:
    """A hit for an idle cart, a time to look again, or why there is nothing to remind of."""
    settled_ms = max(snapshot.last_checkout_ms or 0, snapshot.last_purchase_ms or 0)
    open_lines = sorted(
        (line for line in snapshot.lines if line.added_ms > settled_ms and not line.removed),
        key=lambda line: (line.added_ms, line.item_id),
    )
    if not open_lines:
        return "cart_settled" if snapshot.lines else "cart_empty"
    newest = open_lines[-1]
    idle = timedelta(milliseconds=to_ms(now) - newest.added_ms)
    if idle < trigger.idle:
        return Wait(from_ms(newest.added_ms) + trigger.idle)
    count = sum(line.quantity for line in open_lines)
    return Hit(
        "cart_abandonment",
        snapshot.customer_id,
        newest.event_id,
        from_ms(newest.added_ms),
        f"cart of {count} item{'s' if count != 1 else ''} idle {span(idle)}; "
        "no checkout or order since",
        tuple(
            ContentItem(
                item_id=line.item_id,
                category=line.category,
                price=line.price,
                quantity=line.quantity,
            )
            for line in open_lines
        ),
        newest.category,
    )
