"""The Faust worker: our transport driver, one agent over the inbound topics, the timer.

Faust's cost is per Kafka record, so our driver (``streaming.transport``) hands
the agent everything one fetch returned for a partition as one message, and the
agent gives it to the one pass (``streaming.onepass``). The agent runs with
``concurrency=1`` so an offset is never committed past a record still being
processed (faust-streaming #606); Faust acknowledges the batches of a pass when
the agent asks for the next ones, i.e. after the pass wrote its effects.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import faust

from stream_app.clock import Clock, utc_now
from stream_app.kafka import faust_credentials
from stream_app.metrics.server import serve_metrics
from stream_app.settings import Settings
from stream_app.streaming import transport
from stream_app.streaming.lag import LagProbe
from stream_app.streaming.observe import Announcer, WorkerProbe
from stream_app.streaming.publisher import FaustPublisher
from stream_app.streaming.wiring import Engine, build_engine

log = logging.getLogger(__name__)

#: Partition batches one pass takes at most (a fetch returns one per partition).
GATHER_MAX_BATCHES = 64
#: Label records the learner takes at once (one version check for all).
LABEL_RECORDS = 64


def faust_app(settings: Settings, batched: frozenset[str] = frozenset()) -> Any:
    """A Faust app tuned to join its group and be ready within seconds, fetching with our
    transport driver: the fetch settings of ``settings``; ``batched`` topics' records
    arrive one message per partition fetch."""
    transport.register()
    app = faust.App(
        settings.worker.app_id,
        broker=[f"{transport.SCHEME}://{server}" for server in settings.kafka.bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        datadir=settings.worker.data_dir,
        web_enabled=False,
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.topic_replication,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        table_standby_replicas=0,
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_s,
        broker_rebalance_timeout=settings.kafka.rebalance_timeout_s,
        broker_commit_every=settings.kafka.commit_every,
        broker_commit_interval=settings.kafka.commit_interval_s,
        producer_acks=-1,
        producer_linger_ms=1,
        producer_max_request_size=max(1_048_576, settings.worker.dlq_max_original_bytes * 2),
        broker_max_poll_records=settings.kafka.max_poll_records,
        stream_buffer_maxsize=settings.worker.stream_buffer_batches,
    )
    transport.configure(
        app,
        transport.FetchSettings(
            settings.kafka.fetch_max_wait_ms, settings.kafka.fetch_min_bytes, batched
        ),
    )
    return app


def create_worker_app(settings: Settings, clock: Clock = utc_now) -> Any:
    """The worker's Faust app: the one pass over each batch of the inbound topics, the
    one learner over the labels topic, the timer, snapshots and metrics as tasks."""
    app = faust_app(settings, frozenset(settings.topics.inbound()))
    engine = build_engine(settings, publisher=FaustPublisher(app), clock=clock)
    one_pass, learner, metrics = engine.one_pass, engine.learner, engine.metrics
    inbound = app.topic(*settings.topics.inbound(), key_serializer="raw", value_serializer="raw")

    @app.agent(inbound, concurrency=1)
    async def ingest_agent(stream: Any) -> None:
        # What one fetch returned for several partitions goes through one pass together.
        gather_s = settings.worker.batch_gather_ms / 1000
        async for batches in stream.take_events(GATHER_MAX_BATCHES, within=gather_s):
            await one_pass.records([r for batch in batches for r in batch.value])

    @app.task
    async def announce_start() -> None:
        log.info(
            "worker started: group %s, %d campaigns, metrics on %s",
            settings.worker.app_id,
            len(engine.book.campaigns),
            settings.metrics.port,
            extra={"event": "worker_start", "group": settings.worker.app_id},
        )

    @app.on_partitions_assigned.connect
    async def announce_rebalance(sender: Any, assigned: Any, **_: Any) -> None:
        partitions = sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)
        log.info(
            "rebalance: %d partitions assigned",
            len(partitions),
            extra={"event": "rebalance", "partitions": partitions},
        )
        engine.alarm.ring()  # checks armed by a worker that left are ours to run now

    @app.task
    async def run_timer() -> None:
        await learner.refresh()  # the published model, before the first check is decided
        await engine.timer.run()

    @app.on_before_shutdown.connect
    async def stop_timer(sender: Any, **_: Any) -> None:
        await engine.timer.stop()  # while the producer still runs: its sends complete

    _shared_model(app, settings, engine)

    probe = WorkerProbe(
        metrics,
        lambda: LagProbe(settings, settings.topics.inbound()),
        engine.stores.schedule,
        learner,
        settings.metrics.partition_stall_after,
        clock,
    )

    announcer = Announcer(
        engine.stores.endpoints, settings.metrics.advertised(socket.gethostname()), clock
    )

    @app.task
    async def serve_worker_metrics() -> None:
        if serve_metrics(metrics.registry, settings.metrics.port):
            await announcer.start()
            await probe.start()

    @app.timer(settings.metrics.announce_interval_s)
    async def announce_metrics() -> None:
        await announcer.beat()

    @app.timer(settings.metrics.probe_interval_s)
    async def probe_worker() -> None:
        await probe.tick()

    return app


def _shared_model(app: Any, settings: Settings, engine: Engine) -> None:
    """The one learner over the labels topic (its single partition makes one worker
    learn), the snapshots it publishes, and every worker's look for a newer one."""
    learner = engine.learner
    labels = app.topic(
        settings.topics.labels, partitions=1, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(labels, concurrency=1)
    async def learn_agent(stream: Any) -> None:
        # Only the worker holding the labels' one partition gets here: the one learner.
        gather_s = settings.worker.batch_gather_ms / 1000
        async for values in stream.take(LABEL_RECORDS, within=gather_s):
            await engine.training.learn(values)

    @app.timer(settings.model.checkpoint_interval_s)
    async def publish_model() -> None:
        await engine.training.publish()  # nothing unless this worker learned: the learner

    @app.timer(settings.model.refresh_interval_s)
    async def refresh_model() -> None:
        await learner.refresh()
