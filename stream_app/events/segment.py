"""Segment membership changes, published for campaigns and other systems."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import AwareDatetime, Field

from stream_app.events.base import SCHEMA_VERSION, Contract, CustomerId, Identifier


class SegmentChange(Contract):
    """A customer entered or left a segment (evaluated at ``event_time``)."""

    type: Literal["segment.entered", "segment.exited"]
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier = Field(description="Deterministic: same change, same id.")
    customer_id: CustomerId
    segment: Identifier
    event_time: AwareDatetime

    @classmethod
    def of(
        cls,
        kind: Literal["segment.entered", "segment.exited"],
        customer_id: str,
        segment: str,
        at: AwareDatetime,
    ) -> SegmentChange:
        digest = hashlib.sha256(
            f"{kind}\x1f{customer_id}\x1f{segment}\x1f{at.isoformat()}".encode()
        )
        return cls(
            type=kind,
            event_id=f"seg-{digest.hexdigest()[:24]}",
            customer_id=customer_id,
            segment=segment,
            event_time=at,
        )
