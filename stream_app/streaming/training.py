"""The one learner's adapter: label records in, versioned snapshots out.

Every worker runs it, but only the worker that holds the labels topic's single
partition gets records: the consumer group makes it the one learner and hands
the partition to another worker when it leaves. Before learning, the learner
compares the published version with its own (one ``HGET``): another version
means another worker learned meanwhile (a rebalance), and it continues from
that snapshot. Snapshots (model, bandit, sentiment model, figures) are published at an interval,
only when something was learned, and only over the learner's own last one: a
worker that lost the partition never overwrites its successor's.

What can go twice or not at all: a label record redelivered after the learner
died before Kafka committed it is learned again, and labels learned since the
last snapshot are lost with a learner that dies (at most one snapshot interval,
about a second). Both do not matter to an online learner fed thousands of
labels: each is one small SGD step among many. Labels are still taken once
(``GETDEL``), so no worker ever sends the same decision's label twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from stream_app.counts import Counts, Plain
from stream_app.events.labels import Label, Labels, TextLabel
from stream_app.metrics.engine import EngineMetrics
from stream_app.model.shared import Trainer
from stream_app.storage.scoring import ModelStore
from stream_app.storage.stats import StatsStore
from stream_app.streaming.learning import MODEL, unpack
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)


@dataclass
class Training:
    """The ``Trainer``, where its snapshots go, and where its counters are kept."""

    trainer: Trainer
    models: ModelStore
    stats: StatsStore
    retry: RedisRetry
    metrics: EngineMetrics | None = None
    #: The published version that holds what this learner learned (None: not yet).
    published: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def learn(self, values: Sequence[bytes]) -> Counts:
        """Learn the labels and rated texts of some records of the labels topic."""
        counters: Counts = Counter()
        labels: list[Label] = []
        texts: list[TextLabel] = []
        for value in values:
            try:
                record = Labels.model_validate_json(value)
                labels += record.labels
                texts += record.texts
            except ValidationError as exc:  # not ours to stop on: counted, skipped
                log.warning("label record not understood, skipped: %s", exc)
                counters[Plain("labels_malformed")] += 1
        async with self._lock:
            await self._catch_up()
            counters.update(self.trainer.learn(labels))
            counters.update(self.trainer.learn_texts(texts))
        if counters:
            await self.retry(lambda: self.stats.increment(counters))
            if self.metrics is not None:
                self.metrics.count(counters)
        return counters

    async def _catch_up(self) -> None:
        """Continue from the published snapshot when it is not this learner's own."""
        stored = await self.retry(lambda: self.models.version(MODEL))
        if stored is None or stored == self.published:
            return
        snapshot = await self.retry(lambda: self.models.snapshot(MODEL))
        if snapshot is None:
            return
        model, bandit, sentiment = unpack(snapshot, self.trainer.bandit)
        self.trainer.adopt(model, bandit, snapshot.version, snapshot.meta, sentiment)
        self.published = snapshot.version
        log.info("learning from %s on", snapshot.version)

    async def publish(self) -> str | None:
        """Publish a snapshot if something was learned since the last; its version."""
        async with self._lock:
            trainer = self.trainer
            version = trainer.publish()
            if version is None:
                return None
            blob, bandit, meta = trainer.model.to_bytes(), trainer.bandit.to_bytes(), trainer.meta()
            texts = trainer.sentiment_blob()
            over = self.published
            try:
                saved = await self.retry(
                    lambda: self.models.save(
                        MODEL, version, blob, meta, bandit, over=over, sentiment=texts
                    )
                )
            except Exception:
                trainer.dirty = True  # the next interval tries again, with a newer number
                if texts is not None:
                    trainer.sentiment_unsaved()
                log.exception("model snapshot %s not published", version)
                return None
            if not saved:  # another worker learns now: it continues from its own snapshot
                log.info("model snapshot %s not published: %s is not ours", version, over)
                return None
            self.published = version
            return version
