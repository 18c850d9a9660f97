"""Our Faust transport driver: fetch settings of ours, and one message per partition fetch.

Faust costs about 100 µs per Kafka record before an agent sees it, whatever the
record holds, and its aiokafka driver hard-codes a 1.5 s fetch wait (the embedded
broker holds every fetch that long). This driver, registered in Faust's transport
registry under ``batched://`` and selected by the broker URL, changes two things
and nothing else:

- the consumer's fetch max wait and fetch min bytes come from ``FetchSettings``;
- the records one fetch returned for one partition of a *batched* topic reach the
  agent as **one** message: its value is the tuple of records, its offset the last
  record's. The driver keeps the batches it delivered per partition, in order, and
  commits a partition up to the end of the longest run of delivered batches the
  agent has acknowledged: a batch's whole offset range, gaps included, once it is
  done with. (Faust's own gap bookkeeping cannot be used for this: it ignores a
  jump from offset 0, so a partition whose first batch is one record stalls.)

Everything else (rebalances, pauses, seeks, commits, table changelogs, other
topics) is Faust's. What it relies on are private internals of faust-streaming
0.15 and aiokafka 0.14 (both pinned); ``tests/integration/test_transport.py``
pins the behaviour: offsets committed after batches, nothing lost after kill -9.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

#: The broker URL scheme that selects this driver (``batched://host:9092``).
SCHEME = "batched"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How the worker's consumer fetches, and which topics it reads in batches."""

    max_wait_ms: int
    min_bytes: int
    batched_topics: frozenset[str]


#: What the driver uses until ``configure`` gives an app its own settings.
DEFAULT_FETCH = FetchSettings(max_wait_ms=10, min_bytes=1, batched_topics=frozenset())


def configure(app: Any, fetch: FetchSettings) -> None:
    """Give ``app`` its fetch settings (read by the driver when its consumer starts)."""
    app.stream_app_fetch = fetch


def fetch_settings(app: Any) -> FetchSettings:
    found: FetchSettings = getattr(app, "stream_app_fetch", DEFAULT_FETCH)
    return found


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """The records of one partition from one fetch, shaped like the record Faust reads.

    ``value`` holds the aiokafka records themselves; offset and timestamp are the
    last record's, so Faust tracks the partition's position as if it had read them all.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    timestamp_type: int
    value: tuple[Any, ...]
    serialized_value_size: int
    first_offset: int
    key: None = None
    headers: tuple[()] = ()
    checksum: None = None
    serialized_key_size: int = 0

    @classmethod
    def of(cls, records: Sequence[Any]) -> RecordBatch:
        last = records[-1]
        return cls(
            topic=last.topic,
            partition=last.partition,
            offset=last.offset,
            timestamp=last.timestamp,
            timestamp_type=last.timestamp_type,
            value=tuple(records),
            serialized_value_size=sum(r.serialized_value_size for r in records),
            first_offset=records[0].offset,
        )


def batch_records(records: Mapping[Any, list[Any]], batched: Set[str]) -> dict[Any, list[Any]]:
    """A fetch's records with each batched topic's partition list folded into one batch."""
    return {
        tp: [RecordBatch.of(found)] if found and tp.topic in batched else found
        for tp, found in records.items()
    }


class BatchingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        fetch = fetch_settings(self.app)
        # Faust passes a fixed 1500 ms; aiokafka reads these when the consumer starts.
        consumer._fetch_max_wait_ms = fetch.max_wait_ms
        consumer._fetch_min_bytes = fetch.min_bytes
        return consumer


class BatchingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> BatchingConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(
        self,
        active_partitions: Any,
        timeout: float,  # noqa: ASYNC109  # Faust's signature
    ) -> dict[Any, list[Any]]:
        records = await super()._getmany(active_partitions, timeout)
        return batch_records(records, fetch_settings(self.app).batched_topics)

    def _to_message(self, tp: Any, record: Any) -> Any:
        if isinstance(record, RecordBatch):  # delivered to the agent, in order
            self._delivered(tp).append((record.first_offset, record.offset))
        return super()._to_message(tp, record)

    def _new_offset(self, tp: Any) -> int | None:
        """For a batched partition: past the longest run of delivered batches the agent
        acknowledged (each message's offset is its batch's last record's)."""
        if tp.topic not in fetch_settings(self.app).batched_topics:
            result: int | None = super()._new_offset(tp)
            return result
        delivered, acked, index = self._delivered(tp), self._acked[tp], self._acked_index[tp]
        committable = None
        while delivered and delivered[0][1] in index:
            _, last = delivered.popleft()
            index.discard(last)
            acked.remove(last)
            committable = last + 1
        return committable

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        if tp.topic not in fetch_settings(self.app).batched_topics:  # batches cover theirs
            await super()._add_gap(tp, offset_from, offset_to)

    async def seek_to_committed(self) -> Any:
        self._deliveries().clear()  # what was delivered is read again from the committed
        return await super().seek_to_committed()

    async def seek(self, partition: Any, offset: int) -> None:
        self._deliveries().pop(partition, None)
        await super().seek(partition, offset)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await super().on_partitions_revoked(revoked)
        for tp in revoked:
            self._deliveries().pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        for tp in assigned:
            self._deliveries().pop(tp, None)
        await super().on_partitions_assigned(assigned, generation_id)

    def _deliveries(self) -> dict[Any, deque[tuple[int, int]]]:
        """Per partition: (first, last) offsets of the batches delivered, oldest first."""
        found: dict[Any, deque[tuple[int, int]]] = self.__dict__.setdefault("_batches", {})
        return found

    def _delivered(self, tp: Any) -> deque[tuple[int, int]]:
        return self._deliveries().setdefault(tp, deque())


class Transport(faust_aiokafka.Transport):
    """The aiokafka transport with ``BatchingConsumer`` (the producer is Faust's own)."""

    Consumer = BatchingConsumer


def register() -> None:
    """Make ``batched://`` broker URLs select this driver (idempotent)."""
    drivers.TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
