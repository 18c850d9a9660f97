"""``stream-app worker`` and ``stream-app topics create``."""

from __future__ import annotations

import asyncio
import gc
import logging.config
from typing import Any

import typer

from stream_app.kafka_topics import ensure_topics
from stream_app.logs import logging_config
from stream_app.settings import DEV_PSEUDONYM_SECRET, Settings

topics_app = typer.Typer(help="Manage the engine's Kafka topics.", no_args_is_help=True)


def worker() -> None:
    """Run a stream worker (Faust): ingest events, keep profiles, emit decisions."""
    settings = Settings()
    if (
        settings.secrets.pseudonym_secret.get_secret_value() == DEV_PSEUDONYM_SECRET
        and not settings.secrets.allow_dev_secret
    ):
        raise typer.BadParameter(
            "set STREAM_APP_SECRETS__PSEUDONYM_SECRET "
            "(or STREAM_APP_SECRETS__ALLOW_DEV_SECRET=true for local use)"
        )
    logging.config.dictConfig(worker_logging(settings))
    asyncio.run(ensure_topics(settings))
    run_worker(settings)


def run_worker(settings: Settings) -> None:
    """Start Faust in this process until it is stopped (SIGINT/SIGTERM)."""
    import uvloop

    from stream_app.streaming.app import create_worker_app

    uvloop.install()
    app = create_worker_app(settings)
    tune_gc()
    faust_worker(app, settings, logging_config=worker_logging(settings)).execute_from_commandline()


def faust_worker(app: Any, settings: Settings, **options: Any) -> Any:
    """Faust's ``Worker`` for ``app``, without its terminal spinner: the spinner sets the
    root logger to DEBUG whatever the level asked for, so every debug call of aiokafka,
    Faust and mode built a log record that the handlers then dropped (~2 % of a busy
    worker's CPU, mostly the fetcher's per-partition lines)."""
    from faust import Worker

    worker = Worker(app, loglevel=settings.log.level, quiet=True, **options)
    worker.spinner = None
    return worker


def tune_gc() -> None:
    """Fewer garbage collections in the worker: every batch allocates many short-lived
    objects, and with Python's default thresholds (700 allocations) the collector ran
    often enough to cost ~15 % of the pass. What exists at start-up (modules, settings,
    compiled rules) is frozen out of every later collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)


#: Allocations between two young-generation collections (Python's default: 700).
GC_THRESHOLD = 20_000


def worker_logging(settings: Settings) -> dict[str, Any]:
    """The worker's logging: level and format from settings, customer ids pseudonymized."""
    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    return logging_config(settings.log.level, settings.log.format, secret)


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic the engine uses (existing ones are left alone)."""
    settings = Settings()
    created = asyncio.run(ensure_topics(settings))
    for name in settings.topics.all():
        state = "created" if name in created else "exists"
        partitions = 1 if name in settings.topics.single() else settings.kafka.topic_partitions
        typer.echo(f"{name:28} {state}  (partitions: {partitions})")
