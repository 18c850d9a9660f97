"""Serialize events and decisions for Kafka (orjson), and pick their record key."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel


def event_dict(event: BaseModel) -> dict[str, Any]:
    """The JSON-ready dict of a contract model; absent optional fields are omitted."""
    return event.model_dump(mode="json", exclude_none=True)


def encode(event: BaseModel) -> bytes:
    """One event (or decision, or dead letter) as a record value."""
    return orjson.dumps(event_dict(event))


def record_key(event: BaseModel) -> bytes:
    """Records are keyed by customer; an anonymous visitor's events by their anonymous id
    (docs/identity.md); device-only sensor events by device until re-keyed; catalog
    events by item (one item's updates stay in order)."""
    key = (
        getattr(event, "customer_id", None)
        or getattr(event, "anonymous_id", None)
        or getattr(event, "device_id", None)
        or getattr(event, "item_id", None)
    )
    if not key:
        raise ValueError("event has no customer_id, anonymous_id, device_id or item_id")
    return str(key).encode()
