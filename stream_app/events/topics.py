"""Names of the Kafka topics the engine reads and writes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Stream(StrEnum):
    """Kinds of inbound stream; each is carried by the ``TopicNames`` field of its name."""

    CLICKSTREAM = "clickstream"
    PURCHASE = "purchase"
    SENSOR = "sensor"
    IDENTITY = "identity"
    FEEDBACK = "feedback"
    CATALOG = "catalog"


class TopicNames(BaseModel):
    """Topic names; each can be overridden (``STREAM_APP_TOPICS__CLICKSTREAM=...``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clickstream: str = "events.clickstream"
    purchase: str = "events.purchase"
    sensor: str = "events.sensor"
    identity: str = "events.identity"
    feedback: str = "notifications.feedback"
    catalog: str = "events.catalog"
    decisions: str = "notifications.decisions"
    audit: str = "notifications.audit"
    segments: str = "segments.changes"
    deadletter: str = "events.deadletter"

    def for_stream(self, stream: Stream) -> str:
        """The topic carrying ``stream``."""
        topic: str = getattr(self, stream.value)
        return topic

    def streams(self) -> dict[str, Stream]:
        """Inbound topic -> the stream it carries."""
        return {self.for_stream(stream): stream for stream in Stream}

    def inbound(self) -> tuple[str, ...]:
        """Topics the worker consumes."""
        return tuple(self.for_stream(stream) for stream in Stream)

    def all(self) -> tuple[str, ...]:
        """Every topic the engine uses."""
        return (*self.inbound(), self.decisions, self.audit, self.segments, self.deadletter)
