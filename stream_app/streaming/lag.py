"""Consumer lag of the worker group: records on the broker not yet committed as done.

Uses a consumer that carries the group id but never subscribes, so it reads the
group's committed offsets without joining (and rebalancing) the group. The
admin client's OffsetFetch is not used: its response fails to parse on Tansu.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.kafka import client_options
from stream_app.settings import Settings


class LagProbe:
    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        """Watches the worker group (``settings.worker.app_id``) on ``topics``."""
        self._topics = list(topics)
        self._consumer = AIOKafkaConsumer(
            **client_options(settings), group_id=settings.worker.app_id, enable_auto_commit=False
        )

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.topics()  # loads metadata for every topic

    async def stop(self) -> None:
        await self._consumer.stop()

    async def lag(self) -> int:
        """Total records behind, summed over the partitions of the watched topics."""
        return sum(p.lag for p in await self.positions())

    async def positions(self) -> list[Position]:
        """Each watched partition's committed and end offsets."""
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            await self._consumer.topics()
            return []
        ends = await self._consumer.end_offsets(partitions)
        committed = await asyncio.gather(*(self._consumer.committed(tp) for tp in partitions))
        return [
            Position(tp.topic, tp.partition, done or 0, ends[tp])
            for tp, done in zip(partitions, committed, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class Position:
    """Where the group stands on one partition."""

    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)
