"""Which events each inbound stream carries, and the envelope that batches them."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from stream_app.events.catalog import CatalogEvent
from stream_app.events.clickstream import ClickstreamEvent
from stream_app.events.feedback import FeedbackEvent
from stream_app.events.identity import IdentityEvent
from stream_app.events.limits import DecodeLimits, state_limits
from stream_app.events.returns import PurchaseEvent
from stream_app.events.reviews import ReviewEvent
from stream_app.events.sensor import SensorReading
from stream_app.events.topics import Stream as Stream

Event = (
    ClickstreamEvent
    | PurchaseEvent
    | SensorReading
    | IdentityEvent
    | FeedbackEvent
    | CatalogEvent
    | ReviewEvent
)

E = TypeVar("E")


class Envelope(BaseModel, Generic[E]):
    """Many events in one Kafka record: amortizes the per-record cost of Kafka and Faust."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: Annotated[list[E], Field(min_length=1)]


STREAM_EVENTS: dict[Stream, Any] = {
    Stream.CLICKSTREAM: ClickstreamEvent,
    Stream.PURCHASE: PurchaseEvent,
    Stream.SENSOR: SensorReading,
    Stream.IDENTITY: IdentityEvent,
    Stream.FEEDBACK: FeedbackEvent,
    Stream.CATALOG: CatalogEvent,
    Stream.REVIEW: ReviewEvent,
}

#: One validator per stream, built once (building TypeAdapters is not cheap).
EVENT_ADAPTERS: dict[Stream, TypeAdapter[Any]] = {
    stream: TypeAdapter(union) for stream, union in STREAM_EVENTS.items()
}
#: A whole envelope of each stream's events, validated from its JSON in one call.
ENVELOPE_ADAPTERS: dict[Stream, TypeAdapter[Any]] = {
    stream: TypeAdapter(Envelope[union])  # type: ignore[valid-type]
    for stream, union in STREAM_EVENTS.items()
}


def record_schema(stream: Stream, limits: DecodeLimits) -> dict[str, Any]:
    """JSON Schema of one record on ``stream``: a single event or an envelope of them,
    with the bounds ``limits`` sets."""
    union = STREAM_EVENTS[stream]
    adapter: TypeAdapter[Any] = TypeAdapter(union | Envelope[union])  # type: ignore[valid-type]
    schema = adapter.json_schema()
    schema["title"] = f"{stream.value} record"
    return state_limits(schema, limits)
