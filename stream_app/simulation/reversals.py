"""Returns, refunds and cancellations of simulated orders, days after them or (sent
ahead by a faster system) before them.

The events are ``OrderReversal`` on the purchase stream (``return_id``, ``order_id``,
optional ``items``, ``amount``, ``currency``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.returns import OrderReversal
from stream_app.simulation.ids import event_id
from stream_app.simulation.money import from_minor, to_minor

ReversalKind = Literal["return", "refund", "cancellation"]
_ID_PREFIX: dict[ReversalKind, str] = {"return": "rma", "refund": "rfd", "cancellation": "cnl"}


@dataclass(frozen=True, slots=True)
class Reversal:
    """What is undone of an order: the lines returned (None: all of it) and the money
    credited back in minor units."""

    kind: ReversalKind
    items: tuple[LineItem, ...] | None
    minor: int


def plan_reversal(rng: random.Random, order: Purchase) -> Reversal:
    """Cancellations (15 %, refunded in full), refunds of part of the money (25 %), whole
    returns (25 %) and returns of some lines, some units each (35 %)."""
    total = to_minor(order.total, order.currency)
    roll = rng.random()
    if roll < 0.15:
        return Reversal("cancellation", None, total)
    if roll < 0.40:
        return Reversal("refund", None, max(1, total * rng.randint(5, 50) // 100))
    if roll < 0.65:
        return Reversal("return", None, total)
    chosen = rng.sample(order.items, rng.randint(1, min(3, len(order.items))))
    lines = tuple(
        line.model_copy(update={"quantity": rng.randint(1, line.quantity)}) for line in chosen
    )
    minor = sum(line.quantity * to_minor(line.unit_price, order.currency) for line in lines)
    return Reversal("return", lines, minor)


def reversal_event(
    rng: random.Random,
    order: Purchase,
    plan: Reversal,
    owner: dict[str, str],
    at: datetime,
) -> OrderReversal:
    """The event that books ``plan`` for ``order`` at ``at``; ``owner`` holds the
    ``customer_id`` and/or ``anonymous_id`` it names."""
    fields: dict[str, Any] = {
        "type": plan.kind,
        "event_id": event_id(rng),
        "event_time": at,
        **owner,
        "return_id": f"{_ID_PREFIX[plan.kind]}-{rng.getrandbits(64):016x}",
        "order_id": order.order_id,
        "amount": from_minor(plan.minor, order.currency),
        "currency": order.currency,
    }
    if plan.items is not None:
        fields["items"] = [line.model_dump(exclude_none=True) for line in plan.items]
    return OrderReversal.model_validate(fields)
