"""Cart abandonment: a cart left idle past a delay, with no checkout or order since.

Judged when the scheduled check falls due, from the cart as it is then, so
later events (more items, a removal, an order) are always taken into account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.ids import decision_id
from stream_app.events.base import Channel
from stream_app.events.decision import Content, ContentItem, Decision
from stream_app.profiles.cart import CartLine

CAMPAIGN_ID = "cart_abandonment"


@dataclass(frozen=True, slots=True)
class CartSnapshot:
    """What the check reads about one customer."""

    customer_id: str
    lines: tuple[CartLine, ...]
    last_checkout_ms: int | None
    last_purchase_ms: int | None
    consent: bool | None


@dataclass(frozen=True, slots=True)
class CartPolicy:
    delay: timedelta
    decision_ttl: timedelta
    channel: Channel = "push"


@dataclass(frozen=True, slots=True)
class Emit:
    decision: Decision


@dataclass(frozen=True, slots=True)
class Suppress:
    reason: str


@dataclass(frozen=True, slots=True)
class Reschedule:
    due_ms: int


Outcome = Emit | Suppress | Reschedule


def judge_cart(snapshot: CartSnapshot, policy: CartPolicy, now: datetime) -> Outcome:
    """Decide what a due cart check does: remind, suppress (with a reason) or wait longer."""
    settled_ms = max(snapshot.last_checkout_ms or 0, snapshot.last_purchase_ms or 0)
    open_lines = sorted(
        (line for line in snapshot.lines if line.added_ms > settled_ms and not line.removed),
        key=lambda line: (line.added_ms, line.item_id),
    )
    if not open_lines:
        return Suppress("cart_settled" if snapshot.lines else "cart_empty")
    newest = open_lines[-1]
    delay_ms = int(policy.delay.total_seconds() * 1000)
    if to_ms(now) - newest.added_ms < delay_ms:
        return Reschedule(newest.added_ms + delay_ms)
    if snapshot.consent is not True:
        return Suppress("no_consent")
    count = sum(line.quantity for line in open_lines)
    decision = Decision(
        decision_id=decision_id(CAMPAIGN_ID, snapshot.customer_id, newest.event_id),
        customer_id=snapshot.customer_id,
        campaign_id=CAMPAIGN_ID,
        channel=policy.channel,
        content=Content(
            template=CAMPAIGN_ID,
            items=[
                ContentItem(
                    item_id=line.item_id,
                    category=line.category,
                    price=line.price,
                    quantity=line.quantity,
                )
                for line in open_lines
            ],
        ),
        decided_at=now,
        send_at=now,
        expires_at=now + policy.decision_ttl,
        trigger_event_id=newest.event_id,
        explanation=(
            f"cart of {count} item{'s' if count != 1 else ''} idle "
            f"{_duration(to_ms(now) - newest.added_ms)} "
            f"since {from_ms(newest.added_ms):%Y-%m-%d %H:%M} UTC; no checkout or order since"
        ),
    )
    return Emit(decision)


def _duration(ms: int) -> str:
    """Human span for explanations.

    >>> _duration(8_000), _duration(45 * 60_000), _duration(200 * 60_000)
    ('8 s', '45 min', '3 h 20 min')
    """
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
