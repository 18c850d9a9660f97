"""Dead letters: records the engine could not use, with the reason and the source."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from stream_app.events.base import SCHEMA_VERSION, Contract


class RejectReason(StrEnum):
    """Why a record (or one event of an envelope) was dead-lettered."""

    OVERSIZED = "oversized"
    UNDECODABLE = "undecodable"
    INVALID_SHAPE = "invalid_shape"
    ENVELOPE_TOO_LARGE = "envelope_too_large"
    MISSING_EVENT_TYPE = "missing_event_type"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    SCHEMA_VIOLATION = "schema_violation"
    EVENT_TIME_TOO_OLD = "event_time_too_old"
    EVENT_TIME_IN_FUTURE = "event_time_in_future"
    UNKNOWN_DEVICE = "unknown_device"


class DeadLetter(Contract):
    """One rejected record or envelope member, as written to the dead-letter topic.

    ``original`` is the base64 of the record's bytes, cut at a configured size
    (``truncated`` says so), so a 2 MB record never makes a 2 MB dead letter.
    The dead-letter topic holds producer payloads and so is as sensitive as the
    inbound topics.
    """

    type: Literal["dead_letter"] = "dead_letter"
    schema_version: Literal[1] = SCHEMA_VERSION
    reason: RejectReason
    detail: str = Field(max_length=2000)
    source_topic: str
    source_partition: int
    source_offset: int
    index: int | None = Field(default=None, description="Position inside an envelope, if any.")
    original: str = Field(description="Base64 of the original record bytes (maybe truncated).")
    original_size: int
    truncated: bool
    dead_lettered_at: AwareDatetime

    @classmethod
    def of(
        cls,
        *,
        reason: RejectReason,
        detail: str,
        topic: str,
        partition: int,
        offset: int,
        index: int | None,
        raw: bytes,
        keep_bytes: int,
        at: AwareDatetime,
    ) -> DeadLetter:
        """Build a dead letter, truncating the original payload to ``keep_bytes``."""
        kept = raw[:keep_bytes]
        return cls(
            reason=reason,
            detail=detail[:2000],
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            index=index,
            original=base64.b64encode(kept).decode("ascii"),
            original_size=len(raw),
            truncated=len(kept) < len(raw),
            dead_lettered_at=at,
        )
