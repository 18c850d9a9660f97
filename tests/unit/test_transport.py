"""The driver's fold of a fetch: each batched topic's partition becomes one message."""

from __future__ import annotations

from dataclasses import dataclass

from stream_app.streaming.transport import RecordBatch, batch_records


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int = 0
    serialized_value_size: int = 10


def test_a_batched_partitions_records_become_one_message_at_the_last_offset() -> None:
    clicks, changelog = TP("clicks", 0), TP("changelog", 0)
    fetched = {
        clicks: [Rec("clicks", 0, n, 1000 + n) for n in (7, 8, 9)],
        changelog: [Rec("changelog", 0, 3, 5)],
    }
    folded = batch_records(fetched, {"clicks"})
    [batch] = folded[clicks]
    assert isinstance(batch, RecordBatch)
    assert (batch.offset, batch.timestamp, batch.serialized_value_size) == (9, 1009, 30)
    assert [r.offset for r in batch.value] == [7, 8, 9]
    assert folded[changelog] == fetched[changelog], "other topics stay one record a message"


def test_an_empty_fetch_of_a_partition_stays_empty() -> None:
    assert batch_records({TP("clicks", 1): []}, {"clicks"}) == {TP("clicks", 1): []}
