"""Names of the Kafka topics the engine reads and writes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Stream(StrEnum):
    """Kinds of inbound stream; each is carried by the ``TopicNames`` field of its name."""

    CLICKSTREAM = "clickstream"
    PURCHASE = "purchase"
    SENSOR = "sensor"
    IDENTITY = "identity"
    FEEDBACK = "feedback"
    CATALOG = "catalog"
    REVIEW = "review"


class TopicNames(BaseModel):
    """Topic names; each can be overridden (``STREAM_APP_TOPICS__CLICKSTREAM=...``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clickstream: str = Field(
        default="events.clickstream", description="Inbound: clickstream events."
    )
    purchase: str = Field(default="events.purchase", description="Inbound: purchase events.")
    sensor: str = Field(default="events.sensor", description="Inbound: sensor readings.")
    identity: str = Field(default="events.identity", description="Inbound: identity events.")
    feedback: str = Field(
        default="notifications.feedback", description="Inbound: delivery feedback events."
    )
    catalog: str = Field(default="events.catalog", description="Inbound: catalog events.")
    review: str = Field(
        default="events.reviews", description="Inbound: reviews and comments customers write."
    )
    decisions: str = Field(
        default="notifications.decisions", description="Outbound: decisions to deliver."
    )
    audit: str = Field(
        default="notifications.audit", description="Outbound: audit trail of decisions."
    )
    segments: str = Field(default="segments.changes", description="Outbound: segment changes.")
    deadletter: str = Field(
        default="events.deadletter",
        description="Outbound: dead letters (refused records, with the reason).",
    )
    late: str = Field(
        default="events.late",
        description="Outbound: valid events beyond the allowed lateness, not applied "
        "(each with why), for a batch job to reconcile.",
    )
    labels: str = Field(
        default="model.labels",
        description="Internal: labelled decisions for the one learner (one partition, so "
        "one worker learns them all).",
    )

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
        return (
            *self.inbound(),
            self.decisions,
            self.audit,
            self.segments,
            self.deadletter,
            self.late,
            self.labels,
        )

    def single(self) -> tuple[str, ...]:
        """Topics of one partition: the labels (whoever holds it is the one learner)."""
        return (self.labels,)
