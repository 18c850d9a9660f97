"""Shared plumbing of the benchmarks: test data, fast producing, results and plots.

Every bench runs on the embedded stack (``EmbeddedStack``: Tansu + redis-server)
against data generated *before* any clock starts, so the figures measure the
consumers, not the simulator. Results are merged into one flat JSON file so
several benches can each add their own ``<bench>.*`` keys without clobbering
the others'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from aiokafka import AIOKafkaProducer
from redis.cluster import RedisCluster

from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.redis_server import start_redis
from stream_app.devstack.stack import EmbeddedStack
from stream_app.events.encode import encode, record_key
from stream_app.events.registry import Event
from stream_app.events.topics import Stream, TopicNames
from stream_app.producers.envelopes import EnvelopePacker, PackedRecord
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import Customer, make_population

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
LATEST_JSON = RESULTS_DIR / "latest.json"


class BenchError(RuntimeError):
    """A bench could not produce a figure (a process died or a wait timed out)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One pre-encoded Kafka record and the events it carries."""

    topic: str
    key: bytes
    value: bytes
    events: int


@dataclass(frozen=True, slots=True)
class EventSet:
    """A reproducible batch of simulated traffic, encoded once and reused by every run."""

    records: list[Record]
    events: int
    #: Events per customer, device-only sensor readings counted for the device's owner
    #: (catalog updates, which concern no customer, are in ``events`` only).
    events_per_customer: Counter[str]
    population: list[Customer]
    first_event_time: datetime
    last_event_time: datetime
    generate_s: float


def pack_records(
    events: Iterable[tuple[Stream, Event]], topics: TopicNames, envelope_size: int
) -> list[Record]:
    """Events as records in order; with ``envelope_size`` > 1, consecutive events of one
    key on one topic share an envelope of up to that many events (``EnvelopePacker``)."""
    packer = EnvelopePacker(envelope_size)
    packed: list[PackedRecord] = []
    for stream, event in events:
        topic, key = topics.for_stream(stream), record_key(event)
        packed += packer.add(topic, key, encode(event), event.event_id, now=0.0)
    packed += packer.drain()
    return [Record(r.topic, r.key, r.value, len(r.event_ids)) for r in packed]


def make_event_set(
    topics: TopicNames,
    *,
    customers: int,
    events: int,
    seed: int,
    span: timedelta,
    envelope_size: int = 1,
    end: datetime | None = None,
) -> EventSet:
    """``events`` simulated events of ``customers`` customers spread over ``span``.

    Event times run from ``end - span`` to ``end`` (default: one minute ago), so
    they are all recent enough for the worker's age limit and none is in the
    future. With ``envelope_size`` > 1, consecutive events of one customer on
    one topic are packed into envelopes of up to that many events.
    """
    if customers < 1 or events < 1 or envelope_size < 1:
        raise ValueError("customers, events and envelope_size must be >= 1")
    started = time.perf_counter()
    end = end or datetime.now(UTC) - timedelta(minutes=1)
    population = make_population(customers, seed)
    owners = {device.device_id: c.customer_id for c in population for device in c.devices}
    generator = EventGenerator(
        population, make_catalog(seed), seed, end - span, events / span.total_seconds()
    )
    per_customer: Counter[str] = Counter()
    generated: list[tuple[Stream, Event]] = []
    first = last = end
    for index in range(events):
        stream, event = next(generator)
        if index == 0:
            first = event.event_time
        last = event.event_time
        device_id = getattr(event, "device_id", None)
        owner = event.customer_id or owners.get(str(device_id))
        if owner is not None:  # catalog updates belong to no customer
            per_customer[owner] += 1
        generated.append((stream, event))
    return EventSet(
        records=pack_records(generated, topics, envelope_size),
        events=events,
        events_per_customer=per_customer,
        population=population,
        first_event_time=first,
        last_event_time=last,
        generate_s=time.perf_counter() - started,
    )


def raw_producer(bootstrap: str, client_id: str, linger_ms: int) -> AIOKafkaProducer:
    """A plain producer for pre-encoded records, onto any topic.

    Not ``EventProducer``: the benches send records they packed before any clock
    started (``pack_records``, the same ``EnvelopePacker``), some onto topics that
    are not the engine's streams (the peers' backlog), and the live-latency pacer
    must put each record on the wire when it is due, not after ``EventProducer``'s
    own linger. No idempotence: Tansu does not support it.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        enable_idempotence=False,
    )


def produce(bootstrap: str, records: Sequence[Record]) -> float:
    """Send ``records`` as fast as the broker takes them; returns the seconds it took.

    No awaiting of each send: the producer batches for ``linger_ms`` and we wait
    for all acks at the end.
    """
    return asyncio.run(_produce(bootstrap, records))


async def _produce(bootstrap: str, records: Sequence[Record]) -> float:
    producer = raw_producer(bootstrap, "stream-app-bench", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        for record in records:
            futures.append(await producer.send(record.topic, record.value, key=record.key))
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


@contextmanager
def scratch_stack(prefix: str) -> Iterator[tuple[Path, EmbeddedStack]]:
    """A temporary work directory and an embedded stack logging into its ``logs``,
    both gone when the bench is done."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        with EmbeddedStack(log_dir=workdir / "logs") as stack:
            yield workdir, stack


def sync_redis(settings: Settings) -> redis.Redis | RedisCluster:
    """A text client of ``settings``' Redis for a bench's own reads (stats, memory): a
    cluster client when ``settings.redis.cluster``."""
    if settings.redis.cluster:
        return RedisCluster.from_url(settings.redis.url, decode_responses=True)
    return redis.Redis.from_url(settings.redis.url, decode_responses=True)


def on_scratch_redis(
    prefix: str,
    run: Callable[[argparse.Namespace, str], Awaitable[dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """``run(args, url)`` against a redis-server of its own (no Kafka), stopped after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = start_redis(Path(tmp) / "logs")
        try:
            return asyncio.run(run(args, server.url))
        finally:
            server.stop()


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    *,
    interval: float = 0.1,
    process: ManagedProcess | None = None,
) -> float:
    """Poll ``check`` every ``interval`` s until true; returns the ``perf_counter`` then.

    Fails fast, quoting the log tail, when ``process`` exits while we wait.
    """
    deadline = time.perf_counter() + timeout
    while True:
        if check():
            return time.perf_counter()
        if process is not None and process.exit_status() is not None:
            raise BenchError(
                f"{process.name} exited ({process.exit_status()}) while waiting for {what}:\n"
                f"{process.log_tail()}"
            )
        if time.perf_counter() >= deadline:
            tail = f":\n{process.log_tail()}" if process is not None else ""
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: they only compare on the same machine."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """Short hash of the checked-out commit (read-only), None outside a git work tree."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        out = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return out.stdout.strip() or None


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; {} while it is missing or not whole (a job's progress
    file before its first write, ``latest.json`` before the first bench)."""
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return loaded


def merge_results(values: Mapping[str, Any], path: Path = LATEST_JSON) -> Path:
    """Merge flat ``<bench>.<figure>`` keys into ``path``, keeping other benches' keys.

    A bench's old keys go first (a bench writes all of its figures at once), so
    a figure it no longer reports does not linger. The ``machine`` block is
    refreshed on every write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    current = read_json(path)
    benches = {key.split(".", 1)[0] for key in values}
    current = {k: v for k, v in current.items() if k.split(".", 1)[0] not in benches}
    current.update(values)
    current["machine"] = machine_info()
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def finish(
    results: Mapping[str, Any],
    plots: Sequence[Path],
    *,
    write: bool,
    started: float,
    what: str = "bench",
) -> int:
    """A bench's last lines: merge ``results`` into ``latest.json`` when ``write``, say
    what it wrote (with ``plots``) and how long the run took since ``started``
    (``perf_counter``). Returns the exit status."""
    if write:
        path = merge_results(results)
        print("wrote " + " and ".join(str(p.relative_to(REPO_ROOT)) for p in (path, *plots)))
    print(f"{what} took {time.perf_counter() - started:.0f} s")
    return 0


def report(
    args: argparse.Namespace,
    measure: Callable[[argparse.Namespace], Mapping[str, Any]],
    what: str,
) -> int:
    """Run a bench whose figures are printed one per line (``name = value``) and merged
    into ``latest.json`` unless ``--no-write`` (``args.write``)."""
    started = time.perf_counter()
    results = measure(args)
    print("\n".join(f"{name} = {value}" for name, value in results.items()))
    return finish(results, [], write=args.write, started=started, what=what)


def save_figure(fig: Any, name: str) -> Path:
    """Save a matplotlib figure as ``bench/results/<name>.png`` and close it."""
    import matplotlib.pyplot as plt

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
