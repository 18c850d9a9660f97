"""Builders shared by the unit tests: valid events with sensible defaults, outcome readers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from stream_app.decisions.campaigns import CampaignBook
from stream_app.decisions.policies import Suppressed
from stream_app.events.limits import DecodeLimits
from stream_app.segments.rules import SegmentRules
from stream_app.settings import Settings
from stream_app.streaming.evaluate import Evaluator

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday, 08:00 in New York (UTC-4)
LIMITS = DecodeLimits(
    max_record_bytes=64_000,
    max_events_per_record=50,
    max_event_age=timedelta(days=7),
    max_event_future_skew=timedelta(minutes=5),
    max_order_lines=5000,
    max_line_quantity=1_000_000,
)


def event(type_: str, *, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    """A JSON-ready event dict of ``type_`` for customer ``c-1``."""
    base: dict[str, Any] = {
        "type": type_,
        "event_id": fields.pop("event_id", f"e-{type_}"),
        "event_time": at.isoformat(),
    }
    if "customer_id" not in fields and "device_id" not in fields:
        base["customer_id"] = "c-1"
    return base | fields


class FakeBatch:
    """A record batch of ``FakeKafkaProducer``: holds ``capacity`` records."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes, bytes]] = []
        self.headers: list[list[tuple[str, bytes]]] = []

    def append(
        self, *, key: bytes, value: bytes, timestamp: None, headers: list[tuple[str, bytes]]
    ) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        self.headers.append(headers)
        return object()


class FakeKafkaProducer:
    """Stands in for ``AIOKafkaProducer`` (the batch API ``EventProducer`` uses): records
    what would go to Kafka; acknowledges at once, or fails topics named in ``refuse``."""

    last: FakeKafkaProducer
    refuse: frozenset[str] = frozenset()
    capacity = 1000

    def __init__(self, **_: object) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        #: Each sent record's headers, in the order of ``sent``.
        self.headers: list[list[tuple[str, bytes]]] = []
        FakeKafkaProducer.last = self

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic in self.refuse:
            done.set_exception(RuntimeError(f"{topic} refused"))
        else:
            self.sent.extend((topic, key, value) for key, value in batch.records)
            self.headers.extend(batch.headers)
            done.set_result(None)
        return done


def purchase(
    item_id: str = "sku-1", category: str = "shoes", price: float = 20.0, **fields: Any
) -> dict[str, Any]:
    """A JSON-ready order ``o-1`` in EUR of one ``item_id`` at ``price``."""
    line = {"item_id": item_id, "category": category, "quantity": 1, "unit_price": price}
    return event("purchase", order_id="o-1", items=[line], total=price, currency="EUR", **fields)


def reason(outcome: object) -> str | None:
    """The reason of a suppressed plan or verdict; None for anything else."""
    return outcome.reason if isinstance(outcome, Suppressed) else None


def evaluator() -> Evaluator:
    """The pass's apply-and-evaluate step with default settings, no segments nor campaigns."""
    settings = Settings()
    return Evaluator(
        limits=settings.profiles.state_limits(),
        value_rules=settings.profiles.value_rules(),
        segment_rules=SegmentRules(()),
        book=CampaignBook(()),
        decision_rules=settings.decisions.rules(),
        learner=None,
        segment_memo=0,
    )
