"""Late events: valid events older than their customer's allowed lateness, not applied.

Valid input is not a dead letter: each goes to the late topic with the event itself
and why, for a batch job to reconcile (the clickstream id index does not reach back
that far, so the stream cannot tell such an event from a redelivery).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from stream_app.events.base import SCHEMA_VERSION, Contract
from stream_app.events.topics import Stream


class LateEvent(Contract):
    """One event beyond the allowed lateness, as written to the late topic (keyed by
    customer)."""

    type: Literal["late_event"] = "late_event"
    schema_version: Literal[1] = SCHEMA_VERSION
    reason: Literal["beyond_allowed_lateness"] = "beyond_allowed_lateness"
    customer_id: str
    stream: Stream
    event: dict[str, Any] = Field(description="The event as its stream's contract reads it.")
    newest_event_time: AwareDatetime = Field(
        description="The customer's newest applied event time after the batch that refused "
        "it: the event is older than this minus the allowed lateness."
    )
    allowed_lateness_ms: int
    source_topic: str
    source_partition: int
    source_offset: int
    index: int | None = Field(default=None, description="Position inside an envelope, if any.")
    routed_at: AwareDatetime
