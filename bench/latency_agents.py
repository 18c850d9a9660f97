"""Bare Faust for the latency steps of ``bench.throughput``: the floor the worker adds to.

The decode-only Faust app of ``bench.bare_faust`` (``faust_app`` with the worker's
fetch settings, per-record messages, ``take_events`` batching, uvloop) that also
observes event time -> consumed in a Prometheus histogram (the worker's latency
buckets) on ``metrics_port``, so it is scraped like the worker.

Configured like the worker, by ``STREAM_APP_*`` variables:

    python -m bench.latency_agents
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.bare_faust import FAUST_TAKE
from stream_app.cli.worker import faust_worker
from stream_app.metrics.engine import LATENCY_BUCKETS
from stream_app.metrics.server import serve_metrics
from stream_app.settings import Settings
from stream_app.streaming.app import faust_app

BARE_LATENCY = "bench_bare_consume_latency_seconds"
BARE_EVENTS = "bench_bare_events"


def bare_app(settings: Settings) -> Any:
    """Decode-only agent observing each event's time from its event time to its batch."""
    app = faust_app(settings)
    inbound = app.topic(*settings.topics.inbound(), key_serializer="raw", value_serializer="raw")
    registry = CollectorRegistry()
    latency = Histogram(
        BARE_LATENCY, "Event time to consumed (bare Faust).", buckets=LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    consumed = Counter(BARE_EVENTS, "Events consumed (bare Faust).", registry=registry)

    @app.agent(inbound, concurrency=1)  # type: ignore[untyped-decorator]  # Faust is untyped
    async def decode_only(stream: Any) -> None:
        async for events in stream.take_events(*FAUST_TAKE):
            now = time.time()
            count = 0
            for event in events:
                value = orjson.loads(event.message.value)
                for item in value.get("events", (value,)):
                    at = datetime.fromisoformat(item["event_time"]).timestamp()
                    latency.observe(max(0.0, now - at))
                    count += 1
            consumed.inc(count)

    @app.task  # type: ignore[untyped-decorator]
    async def serve() -> None:
        serve_metrics(registry, settings.metrics.port, host="127.0.0.1")

    return app


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    import uvloop

    settings = Settings()
    uvloop.install()  # as stream_app.cli.worker.run_worker does
    faust_worker(bare_app(settings), settings).execute_from_commandline()


if __name__ == "__main__":
    main()
