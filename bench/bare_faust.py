"""A decode-only Faust app: the ceiling the full pipeline is measured against.

Same broker tuning (``faust_app``), batching (``take_events``), agent
concurrency and event loop (uvloop) as ``stream-app worker``; the agent only
``orjson.loads`` each value. So ``pipeline / bare`` is the share of Faust's own
throughput that our processing leaves.

Configured like the worker, by ``STREAM_APP_*`` variables (use a fresh
``STREAM_APP_WORKER__APP_ID``, i.e. consumer group). Progress goes to ``--result`` as
JSON (atomically, after the first batch, about once a second, and when
``--expected`` events were consumed); the parent then stops it with SIGTERM.

    python -m bench.bare_faust --expected 150000 --result /tmp/bare.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from stream_app.cli.worker import faust_worker
from stream_app.settings import Settings
from stream_app.streaming.app import faust_app

#: A Faust agent's batching as its docs show it: up to 500 events, at most 50 ms apart.
FAUST_TAKE = (500, 0.05)


@dataclass(slots=True)
class Progress:
    """Timestamps are this process's ``perf_counter``; only differences are meaningful."""

    expected: int
    first_batch_at: float | None = None
    first_batch_events: int = 0
    last_batch_at: float | None = None
    events: int = 0
    records: int = 0
    batches: int = 0
    done: bool = False


def write_progress(progress: Progress, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(asdict(progress)))
    os.replace(tmp, path)


def create_app(settings: Settings, progress: Progress, result: Path) -> Any:
    """The bare app: the worker's Faust configuration with a decode-only agent."""
    app = faust_app(settings)
    inbound = app.topic(*settings.topics.inbound(), key_serializer="raw", value_serializer="raw")
    last_write = 0.0

    @app.agent(inbound, concurrency=1)  # type: ignore[untyped-decorator]  # Faust is untyped
    async def decode_only(stream: Any) -> None:
        nonlocal last_write
        async for events in stream.take_events(*FAUST_TAKE):
            count = 0
            for event in events:
                value = orjson.loads(event.message.value)
                count += len(value["events"]) if "events" in value else 1
            now = time.perf_counter()
            if progress.first_batch_at is None:
                progress.first_batch_at, progress.first_batch_events = now, count
            progress.last_batch_at = now
            progress.events += count
            progress.records += len(events)
            progress.batches += 1
            finished = not progress.done and progress.events >= progress.expected
            progress.done = progress.done or finished
            if finished or progress.batches == 1 or now - last_write >= 1.0:
                last_write = now
                write_progress(progress, result)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expected", type=int, required=True, help="events to consume")
    parser.add_argument("--result", type=Path, required=True, help="progress JSON file")
    args = parser.parse_args(argv)

    import uvloop

    settings = Settings()
    uvloop.install()  # as stream_app.cli.worker.run_worker does
    app = create_app(settings, Progress(expected=args.expected), args.result)
    faust_worker(app, settings).execute_from_commandline()


if __name__ == "__main__":
    main()
