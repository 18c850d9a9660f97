"""Consumer jobs of ``bench.peers``: one module per stream engine, one protocol for all.

``bench.peers`` starts a job as ``python -m bench.peer_jobs.<module> MODE --bootstrap ...``
(the arguments of :func:`parse_args`) and only ever reads its :class:`Progress` file,
so adding a consumer means one module speaking this protocol and one registry entry
in ``bench.peers``. Every job reads one topic from the earliest offset (with a fresh
consumer group where the engine uses groups), and runs until the parent stops it
(SIGTERM, then SIGKILL).

Modes, the same for every engine:

- ``decode``: JSON-decode each value (orjson, as every engine here does) and count it;
- ``redis``: the same, plus ``HINCRBY <prefix>:<customer> n 1`` and
  ``HSET <prefix>:<customer> last <event_time>`` per event, one pipeline per batch
  (:func:`queue_updates`); an event counts once its pipeline has returned;
- ``latency``: decode, and for each measured event (id starting with
  :data:`MEASURED_PREFIX`) keep ``now - event_time``, the time it was due to be sent;
  the parent computes the percentiles.

This module imports only the standard library, so the harness adds next to
nothing to a job's start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from stream_app.settings import Settings

MODES = ("decode", "redis", "latency")
#: Event ids of the paced events whose latency counts (warm-up events have another prefix).
MEASURED_PREFIX = "m-"
WRITE_EVERY_S = 1.0


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The command line every job accepts; engines ignore what does not apply to them."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--bootstrap", required=True, help="host:port of the broker")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True, help="a fresh consumer group id")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True, help="Redis key prefix (redis mode)")
    parser.add_argument(
        "--expected", type=int, required=True, help="events (latency: measured events) to see"
    )
    parser.add_argument("--result", type=Path, required=True, help="progress JSON file")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch directory")
    parser.add_argument(
        "--fetch-wait-ms", type=int, required=True, help="longest a broker fetch may wait"
    )
    return parser.parse_args(argv)


def queue_updates(pipe: Any, prefix: str, value: Mapping[str, Any]) -> None:
    """Queue one event's Redis update on a (sync or asyncio) redis-py pipeline."""
    key = f"{prefix}:{value['customer_id']}"
    pipe.hincrby(key, "n", 1)
    pipe.hset(key, "last", value["event_time"])


def faust_settings(args: argparse.Namespace) -> Settings:
    """``Settings`` for a Faust job (bare Faust, our consumer path): the job's broker,
    Redis, group and fetch wait; everything else the worker's defaults."""
    return Settings(
        kafka={"bootstrap": args.bootstrap, "fetch_max_wait_ms": args.fetch_wait_ms},
        redis={"url": args.redis_url},
        worker={"app_id": args.group, "data_dir": str(args.workdir / args.group)},
        secrets={"allow_dev_secret": True},
        log={"level": "warn"},
    )


def start_faust_job(
    description: str,
    argv: list[str] | None,
    create_app: Callable[[Settings, argparse.Namespace, Progress], Any],
) -> tuple[Settings, Progress, Any]:
    """The settings, progress and app (``create_app``) of a Faust job from its command
    line, on uvloop as ``stream_app.cli.worker.run_worker`` runs; the job then says what
    it was configured with (``progress.settings``) and runs its worker."""
    args = parse_args(description, argv)
    settings = faust_settings(args)
    progress = Progress(args, {})
    import uvloop  # only the Faust jobs need it

    uvloop.install()
    return settings, progress, create_app(settings, args, progress)


async def consume_batch(
    values: Sequence[Mapping[str, Any]], args: argparse.Namespace, progress: Progress, client: Any
) -> None:
    """The minimal job on one batch of decoded events, for the asyncio consumers: observe
    their latency, or update Redis (one pipeline, ``queue_updates``) and count them."""
    if args.mode == "latency":
        for value in values:
            progress.observe(value)
        return
    if args.mode == "redis":
        pipe = client.pipeline(transaction=False)
        for value in values:
            queue_updates(pipe, args.prefix, value)
        await pipe.execute()
    progress.add(len(values))


class Progress:
    """What a job has done, written atomically as JSON to ``result`` for the parent.

    Written at the first event, about once a second, and once ``expected`` events
    (latency mode: measured events) were seen, then ``done`` is true. Timestamps are
    ``perf_counter`` (CLOCK_MONOTONIC on Linux), so the parent can compare them with
    its own. ``settings`` says what the engine was configured with, for the results.
    """

    def __init__(self, args: argparse.Namespace, settings: Mapping[str, Any]) -> None:
        self.expected: int = args.expected
        self.latency: bool = args.mode == "latency"
        self.result: Path = args.result
        self.settings = dict(settings)
        self.first_at: float | None = None
        self.first_events = 0
        self.last_at: float | None = None
        self.events = 0
        self.done = False
        self.latencies_ms: list[float] = []
        self._written_at = 0.0

    def add(self, count: int) -> None:
        """``count`` more events are done with (decoded, or written to Redis)."""
        now = time.perf_counter()
        first = self.first_at is None
        if first:
            self.first_at, self.first_events = now, count
        self.last_at = now
        self.events += count
        seen = len(self.latencies_ms) if self.latency else self.events
        if not self.done and seen >= self.expected:
            self.done = True
            self._write(now)
        elif first or now - self._written_at >= WRITE_EVERY_S:
            self._write(now)

    def observe(self, value: Mapping[str, Any]) -> None:
        """Latency mode: one decoded event; a measured one's event time is its due time."""
        if value["event_id"].startswith(MEASURED_PREFIX):
            due = datetime.fromisoformat(value["event_time"]).timestamp()
            self.latencies_ms.append(1000 * (time.time() - due))
        self.add(1)

    def _write(self, now: float) -> None:
        self._written_at = now
        state: dict[str, Any] = {
            "first_at": self.first_at,
            "first_events": self.first_events,
            "last_at": self.last_at,
            "events": self.events,
            "measured": len(self.latencies_ms),
            "done": self.done,
            "settings": self.settings,
        }
        if self.done and self.latency:
            state["latencies_ms"] = self.latencies_ms
        tmp = self.result.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.result)
