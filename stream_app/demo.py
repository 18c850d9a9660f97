"""The demo: the whole chain on the embedded stack, for a bounded time.

Embedded Kafka (Tansu) + Redis, one real worker process, the simulator with
feedback, a few deliberately malformed records; a live progress line and a
final summary. Everything it starts is stopped when it ends, however it ends.
Stores come from the one bundle (``build_stores``) and everything is sent
through ``EventProducer``; ``stream-app demo`` only parses options.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import orjson
import typer
from aiokafka import AIOKafkaConsumer

from stream_app.api.api_key_store import ApiKeyStore
from stream_app.api.scopes import Scope
from stream_app.clock import utc_now
from stream_app.decisions.lift import render
from stream_app.devstack.ports import free_port, port_accepts
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import api_process, worker_process
from stream_app.events.registry import Stream
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.loadgen import Load, SimStats, run_simulation
from stream_app.producers.producer import EventProducer
from stream_app.profiles.derive import derive
from stream_app.segments.rules import load_segments
from stream_app.settings import Settings
from stream_app.storage.bundle import Stores, build_stores
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.stats import StatsStore, by_reason
from stream_app.streaming.lag import LagProbe
from stream_app.streaming.learning import MODEL

#: Where the demo's API listens when the port is free (else any free port).
DEMO_API_PORT = 8080
#: Likewise the worker's Prometheus metrics, which the API's live dashboard reads.
DEMO_METRICS_PORT = 9108

#: The demo's campaigns: the real ones with time compressed into a minute.
DEMO_CAMPAIGNS = Path("config/demo-campaigns.toml")

#: Records a careless producer might send; each must end up dead-lettered.
MALFORMED: tuple[tuple[str, bytes], ...] = (
    ("garbage bytes", b"\x00\x01 definitely not json"),
    (
        "unknown event type",
        b'{"type":"teleport","event_id":"bad-1","customer_id":"x",'
        b'"event_time":"2026-01-01T00:00:00Z"}',
    ),
    ("missing fields", b'{"type":"add_to_cart","event_id":"bad-2"}'),
    ("2 MB record", b'{"pad":"' + b"x" * 2_000_000 + b'"}'),
)


def run_demo(load: Load, campaigns: Path = DEMO_CAMPAIGNS) -> bool:
    """Run the whole engine on embedded servers for a while, then print a summary;
    True when events were applied and decisions emitted."""
    with (
        tempfile.TemporaryDirectory(prefix="stream-app-demo-") as tmp,
        EmbeddedStack(log_dir=Path(tmp) / "logs") as stack,
    ):
        metrics_port = free_port() if port_accepts(DEMO_METRICS_PORT) else DEMO_METRICS_PORT
        settings = Settings(
            kafka={"bootstrap": stack.kafka_bootstrap},
            redis={"url": stack.redis_url},
            worker={"app_id": "stream-app-demo", "data_dir": str(Path(tmp) / "faust")},
            secrets={"allow_dev_secret": True},
            decisions={"campaigns_file": campaigns},
            # Short enough that silent decisions become negative labels within the demo.
            model={"attribution_window": timedelta(seconds=20), "checkpoint_interval_s": 5.0},
            metrics={
                "port": metrics_port,
                # What the dashboard finds in the registry: the worker is local.
                "advertise_url": f"http://127.0.0.1:{metrics_port}/metrics",
            },
        )
        typer.echo(f"embedded Kafka (Tansu) at {stack.kafka_bootstrap}, Redis at {stack.redis_url}")
        asyncio.run(ensure_topics(settings))
        worker = worker_process(settings, Path(tmp) / "logs")
        port = free_port() if port_accepts(DEMO_API_PORT) else DEMO_API_PORT
        api = api_process(settings, Path(tmp) / "logs", port)
        with worker, api:
            key = asyncio.run(_demo_key(settings))
            _announce_api(port, key)
            typer.echo(f"worker pid {worker.pid} started; simulating {load.duration:.0f} s ...")
            return asyncio.run(_run(settings, load))


async def _demo_key(settings: Settings) -> str:
    """An admin API key for this demo's Redis (gone with it)."""
    redis = redis_client(settings)
    try:
        pepper = settings.secrets.api_key_pepper.get_secret_value().encode()
        store = ApiKeyStore(redis, keys_of(settings), pepper)
        _, token = await store.create("demo", [Scope.ADMIN], 6000, utc_now())
    finally:
        await redis.aclose()
    return token


def _announce_api(port: int, key: str) -> None:
    base = f"http://127.0.0.1:{port}"
    typer.echo(f"profile API at {base} (OpenAPI at {base}/docs); an admin key for this demo:")
    typer.echo(f"  export KEY={key}")
    typer.echo(f'  curl -s -H "Authorization: Bearer $KEY" {base}/v1/profiles/cust-000001')
    typer.echo(f'  curl -s -H "Authorization: Bearer $KEY" {base}/v1/reports/lift')
    typer.echo(f"live dashboard (open in a browser): {base}/dashboard#key={key}")


async def _run(settings: Settings, load: Load) -> bool:
    stores = build_stores(redis_client(settings), settings)
    stats, schedule = stores.stats, stores.schedule
    probe = LagProbe(settings, settings.topics.inbound())
    await probe.start()
    started = time.monotonic()
    try:
        await _send_malformed(settings)
        await _until_worker_consumes(stats, len(MALFORMED), started)
        progress = _Progress(started)

        async def report() -> None:
            progress.show(await stats.read(), await probe.lag(), await schedule.depth())

        def on_progress(_: SimStats) -> None:
            reports.add(task := asyncio.ensure_future(report()))
            task.add_done_callback(reports.discard)

        reports: set[asyncio.Future[None]] = set()

        sim = await run_simulation(settings, load, on_progress=on_progress)
        deadline = time.monotonic() + 30
        while (lag := await probe.lag()) > 0 and time.monotonic() < deadline:
            progress.show(await stats.read(), lag, await schedule.depth())
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # checks due by now are run by the timer within this
        final = await stats.read()
        progress.show(final, lag, await schedule.depth(), force=True)
        typer.echo("")
        sample = await _sample_decision(settings)
        _summary(sim, final, lag, sample, time.monotonic() - started)
        lifts = await stores.decisions.lifts()
        if lifts:
            typer.echo("  lift (treated vs holdout; also: stream-app report lift):")
            typer.echo("    " + render(lifts).replace("\n", "\n    "))
        await _segments_and_profile(settings, stores, sample)
        return final.get("decisions_emitted", 0) > 0 and final.get("events_applied", 0) > 0
    finally:
        await probe.stop()
        await stores.redis.aclose()


async def _until_worker_consumes(stats: StatsStore, letters: int, started: float) -> None:
    """Start the traffic once the worker consumes: its group joined and the malformed
    records came back as dead letters (at most a minute). Traffic sent earlier would be
    read in a catch-up where topics interleave unlike real time."""
    for _ in range(300):  # polls Redis every 0.2 s, for a minute at most
        if _dead_letters(await stats.read()) >= letters:
            break
        await asyncio.sleep(0.2)
    typer.echo(f"worker consuming after {time.monotonic() - started:.1f} s; starting traffic")


async def _send_malformed(settings: Settings) -> None:
    async with EventProducer(settings, max_request_size=4_000_000) as producer:
        for _, raw in MALFORMED:
            await producer.send_unchecked(Stream.CLICKSTREAM, raw, key=b"demo-bad")


async def _sample_decision(settings: Settings) -> dict[str, object] | None:
    """The first decision on the decisions topic, to show what consumers receive."""
    consumer = AIOKafkaConsumer(
        settings.topics.decisions,
        **client_options(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000, max_records=1)
        for records in batches.values():
            for record in records:
                if record.value is not None:
                    decoded: dict[str, object] = orjson.loads(record.value)
                    return decoded
        return None
    finally:
        await consumer.stop()


async def _segments_and_profile(
    settings: Settings, stores: Stores, sample: Mapping[str, object] | None
) -> None:
    """Segment sizes, and the profile of the customer of the sample decision."""
    meta = await stores.models.meta(MODEL)
    if meta:
        typer.echo(
            f"  engagement model             {meta.get('labels', 0):,.0f} labels, rolling AUC "
            f"{meta.get('auc', 0):.3f}, log loss {meta.get('log_loss', 0):.3f}, "
            f"bandit reward {meta.get('bandit_reward_rate', 0):.3f}, "
            f"drifts {meta.get('drifts', 0):.0f}"
        )
    names = [d.name for d in load_segments(settings.segments.file)]
    sizes = await stores.segments.sizes(names)
    typer.echo("  segment sizes:")
    for name, size in sizes.items():
        typer.echo(f"    {name:<28} {size:,}")
    if sample is None:
        return
    [stored] = await stores.profiles.stored([str(sample["customer_id"])])
    view = derive(stored, utc_now(), settings.profiles.value_rules())
    typer.echo(f"  sample profile ({view.customer_id}):")
    for key, value in view.as_dict().items():
        typer.echo(f"    {key:<20} {orjson.dumps(value).decode()}")


class _Progress:
    """One live status line (rewritten in place on a terminal, every 5 s otherwise)."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._last_events = 0
        self._last_time = started
        self._last_print = 0.0
        self._tty = sys.stdout.isatty()

    def show(
        self, stats: Mapping[str, int], lag: int, depth: tuple[int, int], *, force: bool = False
    ) -> None:
        now = time.monotonic()
        events = stats.get("events_applied", 0) + stats.get("events_duplicate", 0)
        rate = (events - self._last_events) / max(now - self._last_time, 1e-6)
        self._last_events, self._last_time = events, now
        if not (self._tty or force or now - self._last_print >= 5):
            return
        self._last_print = now
        line = (
            f"[{now - self._started:5.0f}s] in {rate:7,.0f} ev/s | events {events:,} "
            f"| profiles {stats.get('profiles_created', 0):,} "
            f"| decisions {stats.get('decisions_emitted', 0):,} "
            f"| dead letters {_dead_letters(stats):,} | lag {lag:,} | scheduled {depth[0]:,}"
        )
        typer.echo(f"\r{line:<120}" if self._tty else line, nl=not self._tty)


def _dead_letters(stats: Mapping[str, int]) -> int:
    return sum(by_reason(stats, "dead_letters").values())


def _summary(
    sim: SimStats,
    stats: Mapping[str, int],
    lag: int,
    sample: Mapping[str, object] | None,
    elapsed: float,
) -> None:
    def grouped(name: str) -> str:
        """``<name>:<label>`` counters as label=n (not the finer ``<name>:<a>:<b>`` ones)."""
        parts = [f"{label}={n}" for label, n in by_reason(stats, name).items()]
        return ", ".join(parts) or "none"

    rows = [
        ("elapsed", f"{elapsed:.0f} s"),
        ("events sent by simulator", f"{sim.events_sent:,} in {sim.records_sent:,} records"),
        ("events applied to profiles", f"{stats.get('events_applied', 0):,}"),
        ("duplicates ignored", f"{stats.get('events_duplicate', 0):,}"),
        ("profiles written", f"{stats.get('profiles_created', 0):,}"),
        (
            "decisions planned",
            f"{stats.get('decisions_planned', 0):,} ({stats.get('decisions_deferred', 0):,} "
            "to be sent later)",
        ),
        (
            "decisions emitted",
            f"{stats.get('decisions_emitted', 0):,} ({grouped('decisions_emitted')})",
        ),
        ("held out (audit topic)", grouped("decisions_holdout")),
        ("cancelled before sending", grouped("decisions_cancelled")),
        ("triggers", grouped("triggers")),
        (
            "labels (clicked / silent)",
            f"{stats.get('labels_positive', 0):,} / {stats.get('labels_negative', 0):,}",
        ),
        ("decisions suppressed", grouped("decisions_suppressed")),
        ("feedback events (simulated)", f"{sim.feedback_sent:,}"),
        ("dead letters", f"{_dead_letters(stats):,} ({grouped('dead_letters')})"),
        ("consumer lag at end", f"{lag:,}"),
    ]
    typer.echo("\n=== demo summary ===")
    for label, value in rows:
        typer.echo(f"  {label:<28} {value}")
    if sample is not None:
        typer.echo("  sample decision:")
        for field in (
            "decision_id",
            "customer_id",
            "campaign_id",
            "channel",
            "send_at",
            "score",
            "propensity",
            "model_version",
            "explanation",
        ):
            typer.echo(f"    {field:<13} {sample.get(field)}")
        content = sample.get("content")
        if isinstance(content, dict):
            typer.echo(f"    {'offer':<13} {content.get('offer')}")
