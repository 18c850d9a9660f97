"""Names of the Kafka topics the engine reads and writes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TopicNames(BaseModel):
    """Topic names; each can be overridden (``STREAM_APP_TOPICS__CLICKSTREAM=...``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clickstream: str = "events.clickstream"
    purchase: str = "events.purchase"
    sensor: str = "events.sensor"
    identity: str = "events.identity"
    feedback: str = "notifications.feedback"
    decisions: str = "notifications.decisions"
    segments: str = "segments.changes"
    deadletter: str = "events.deadletter"

    def inbound(self) -> tuple[str, ...]:
        """Topics the worker consumes."""
        return (self.clickstream, self.purchase, self.sensor, self.identity, self.feedback)

    def all(self) -> tuple[str, ...]:
        """Every topic the engine uses."""
        return (*self.inbound(), self.decisions, self.segments, self.deadletter)
