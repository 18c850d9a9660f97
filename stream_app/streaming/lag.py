"""Consumer lag of the worker group: records on the broker not yet committed as done.

Uses a consumer that carries the group id but never subscribes, so it reads the
group's committed offsets without joining (and rebalancing) the group. The
admin client's OffsetFetch is not used: its response fails to parse on Tansu.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition


class LagProbe:
    def __init__(self, bootstrap: str, group_id: str, topics: Sequence[str]) -> None:
        self._topics = list(topics)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
        )

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.topics()  # loads metadata for every topic

    async def stop(self) -> None:
        await self._consumer.stop()

    async def lag(self) -> int:
        """Total records behind, summed over the partitions of the watched topics."""
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            await self._consumer.topics()
            return 0
        ends = await self._consumer.end_offsets(partitions)
        committed = await asyncio.gather(*(self._consumer.committed(tp) for tp in partitions))
        return sum(
            max(0, ends[tp] - (done or 0)) for tp, done in zip(partitions, committed, strict=True)
        )
