"""The bounds of a record that a deployment sets (``WorkerSettings``).

They are stated twice from one object: the decoder enforces them and the published
JSON Schemas carry them, so a producer validating against ``schemas/`` and the worker
agree. Shops differ (a B2B invoice has thousands of lines), hence settings, not types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stream_app.events.clickstream import AddToCart, RemoveFromCart
from stream_app.events.purchase import Purchase
from stream_app.events.returns import OrderReversal


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds a record must respect; set from ``Settings``."""

    max_record_bytes: int
    max_events_per_record: int
    max_event_age: timedelta
    max_event_future_skew: timedelta
    max_order_lines: int
    max_line_quantity: int


#: The event types with bounds beyond their schema (a set: most events are none of them).
_BOUNDED = frozenset({Purchase, OrderReversal, AddToCart, RemoveFromCart})


def over_limit(event: object, limits: DecodeLimits) -> str | None:
    """Why a schema-valid event exceeds the configured bounds, or None."""
    if type(event) not in _BOUNDED:
        return None
    if isinstance(event, Purchase | OrderReversal) and event.items is not None:
        if len(event.items) > limits.max_order_lines:
            return f"items: more than {limits.max_order_lines} lines"
        if any(line.quantity > limits.max_line_quantity for line in event.items):
            return f"items.quantity: more than {limits.max_line_quantity}"
    elif (
        isinstance(event, AddToCart | RemoveFromCart) and event.quantity > limits.max_line_quantity
    ):
        return f"quantity: more than {limits.max_line_quantity}"
    return None


def state_limits(schema: dict[str, Any], limits: DecodeLimits) -> dict[str, Any]:
    """``schema`` (a record schema, changed in place) with the bounds ``over_limit`` and
    the envelope check enforce: every ``quantity``, order lines, events per envelope."""
    for name, model in schema.get("$defs", {}).items():
        properties = model.get("properties", {})
        if "quantity" in properties:
            properties["quantity"]["maximum"] = limits.max_line_quantity
        if name == Purchase.__name__:
            properties["items"]["maxItems"] = limits.max_order_lines
        if name == OrderReversal.__name__:
            properties["items"]["anyOf"][0]["maxItems"] = limits.max_order_lines
        if name.startswith("Envelope"):
            properties["events"]["maxItems"] = limits.max_events_per_record
    return schema
