"""Soak test: does the worker's or Redis' memory keep growing under a steady load?

Outside CI and bounded (default 10 minutes): the embedded stack, one real
``stream-app worker`` and the simulator (``run_simulation``: paced live events,
feedback to the decisions it sees) at a steady rate. Every few seconds the
worker's RSS, Redis' ``used_memory`` and the broker's RSS are sampled. Growth is
judged by the least-squares slope over the second half of the run, once start-up
and the first fill of the working set are behind.

Redis is expected to grow while the run is shorter than ``allowed_lateness``
(1 day): every event id is remembered that long for deduplication, so the slope
is also given per retained event id. The embedded broker keeps every record in
memory (no retention on Tansu's memory storage), so its RSS grows by design.

    python -m bench.soak [--minutes 10 --rate 1000 --customers 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.common import finish, pyplot, save_figure, scratch_stack, wait_for
from bench.profiles import _DONE_PREFIXES, bench_settings
from stream_app.devstack.ports import free_port, port_accepts
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.loadgen import Load, SimStats, run_simulation
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.layout import Keys

MB = 1024 * 1024


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid``: psutil when installed, else ``/proc/<pid>/status``."""
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return int(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading; ``t`` in seconds since the simulator started."""

    t: float
    worker_rss: int | None
    redis_used: int
    tansu_rss: int | None
    events_done: int


class Sampler:
    """Reads the memory figures every ``interval`` s in a thread while the simulator runs."""

    def __init__(self, settings: Settings, pids: dict[str, int], interval: float) -> None:
        self._client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
        self._stats = keys_of(settings).stats()
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)
        self._t0 = time.perf_counter()
        self.samples: list[Sample] = []
        self.error: BaseException | None = None

    def done(self) -> int:
        """Events applied, ignored as duplicates or dead-lettered so far."""
        return sum(
            int(n)
            for name, n in self._client.hgetall(self._stats).items()
            if str(name).startswith(_DONE_PREFIXES)
        )

    def stats(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._client.hgetall(self._stats).items()}

    def sample(self) -> Sample:
        memory = self._client.info("memory")
        return Sample(
            time.perf_counter() - self._t0,
            rss_bytes(self._pids["worker"]),
            int(memory["used_memory"]),
            rss_bytes(self._pids["tansu"]),
            self.done(),
        )

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.samples.append(self.sample())
        self._client.close()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.samples.append(self.sample())
                self._stop.wait(self._interval)
        except BaseException as exc:  # reported by the bench, never silently lost
            self.error = exc


def slope_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute (NaN under 3 points)."""
    if len(points) < 3:
        return float("nan")
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return 60 * statistics.linear_regression(xs, ys).slope


def second_half(samples: Sequence[Sample], field: str) -> list[tuple[float, float]]:
    """(t, MB) of ``field`` over the second half of the run, missing readings left out."""
    end = samples[-1].t
    points = []
    for s in samples:
        value = getattr(s, field)
        if s.t >= end / 2 and value is not None:
            points.append((s.t, value / MB))
    return points


def seen_ids(redis_url: str, prefix: str) -> tuple[int, int]:
    """Event ids held for deduplication (members of every customer's ``seen`` and
    ``orders`` sets) and the bytes those sets take (``MEMORY USAGE``, all elements
    sampled)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    k = Keys(prefix)
    try:
        seen = list(client.scan_iter(match=k.seen("*"), count=2000))
        orders = list(client.scan_iter(match=k.orders("*"), count=2000))
        pipe = client.pipeline(transaction=False)
        for key in seen:
            pipe.zcard(key)
            pipe.memory_usage(key, samples=0)
        for key in orders:
            pipe.scard(key)
            pipe.memory_usage(key, samples=0)
        found = pipe.execute()
        return sum(int(n) for n in found[0::2]), sum(int(n or 0) for n in found[1::2])
    finally:
        client.close()


def plot(samples: Sequence[Sample], fits: dict[str, float], title: str) -> Path:
    plt = pyplot()
    fig, (proc_ax, redis_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    minutes = [s.t / 60 for s in samples]
    for field, label, color in (
        ("worker_rss", "worker RSS", "#2a7ab9"),
        ("tansu_rss", "broker (Tansu, memory storage) RSS", "#9aa7b1"),
    ):
        ys = [getattr(s, field) / MB if getattr(s, field) else float("nan") for s in samples]
        proc_ax.plot(minutes, ys, color=color, label=f"{label} ({fits[field]:+.2f} MB/min)")
    proc_ax.axvline(minutes[-1] / 2, color="black", ls=":", lw=0.8)
    proc_ax.set_xlabel("minutes (fit over the second half, right of the dotted line)")
    proc_ax.set_ylabel("MB")
    proc_ax.set_title("process memory")
    proc_ax.legend(fontsize=8)
    redis_ax.plot(minutes, [s.redis_used / MB for s in samples], color="#c0392b",
                  label=f"Redis used_memory ({fits['redis_used']:+.2f} MB/min)")  # fmt: skip
    redis_ax.axvline(minutes[-1] / 2, color="black", ls=":", lw=0.8)
    redis_ax.set_xlabel("minutes")
    redis_ax.set_ylabel("MB")
    redis_ax.set_title("Redis memory (event ids kept 1 day for dedupe)")
    redis_ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, "soak")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s offered")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--envelope-size", type=int, default=1)
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=120.0, help="start-up and final drain")
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with scratch_stack("stream-app-soak-") as (workdir, stack):
        settings = bench_settings(stack, workdir, "soak").updated(metrics={"port": free_port()})
        asyncio.run(ensure_topics(settings))
        worker = worker_process(settings, workdir / "logs", name="soak-worker")
        with worker:
            port = settings.metrics.port or 0
            wait_for("the worker to start", lambda: port_accepts(port), args.timeout,
                     process=worker)  # fmt: skip
            pids = {"worker": worker.pid or 0, "tansu": stack.tansu.pid}
            sampler = Sampler(settings, pids, args.sample_s)
            next_line = [30.0]

            def progress(sim: SimStats) -> None:
                if sim.elapsed_s >= next_line[0]:
                    next_line[0] += 30.0
                    last = sampler.samples[-1] if sampler.samples else None
                    memory = "" if last is None else (
                        f"; worker RSS {(last.worker_rss or 0) / MB:,.0f} MB, Redis "
                        f"{last.redis_used / MB:,.0f} MB, done {last.events_done:,}"
                    )  # fmt: skip
                    print(f"  {sim.elapsed_s / 60:4.1f} min: sent {sim.events_sent:,}{memory}")

            sampler.start()
            sim = asyncio.run(
                run_simulation(
                    settings,
                    Load(
                        args.customers, args.rate, args.minutes * 60, args.seed, args.envelope_size
                    ),
                    on_progress=progress,
                )
            )
            caught_up = True
            try:
                wait_for("the worker to catch up", lambda: sampler.done() >= sim.events_sent,
                         args.timeout, process=worker)  # fmt: skip
            except Exception as exc:  # report the lag rather than nothing
                print(f"  warning: {exc}".splitlines()[0])
                caught_up = False
            sampler.stop()
            if sampler.error is not None:
                raise sampler.error
            stats = sampler.stats()
            ids, seen_bytes = seen_ids(settings.redis.url, settings.redis.key_prefix)

    samples = sampler.samples
    fits = {f: slope_per_min(second_half(samples, f)) for f in ("worker_rss", "redis_used",
                                                                  "tansu_rss")}  # fmt: skip
    first, last = samples[0], samples[-1]
    mid = next(s for s in samples if s.t >= last.t / 2)
    dead = sum(n for k, n in stats.items() if k.startswith("dead_letters:"))
    redis_growth = (last.redis_used - first.redis_used) / max(1, last.events_done)
    results: dict[str, Any] = {
        "soak.measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "soak.minutes": args.minutes,
        "soak.rate_events_per_s": args.rate,
        "soak.customers": args.customers,
        "soak.envelope_size": args.envelope_size,
        "soak.events": sim.events_sent,
        "soak.events_done": last.events_done,
        "soak.caught_up": caught_up,
        "soak.dead_letters": dead,
        **{
            f"soak.{k.replace(':', '.')}": n
            for k, n in stats.items()
            if k.startswith("dead_letters:")
        },
        "soak.decisions_emitted": stats.get("decisions_emitted", 0),
        "soak.feedback_events": sim.feedback_sent,
        "soak.samples": len(samples),
        "soak.worker_rss_mb_start": round((first.worker_rss or 0) / MB, 1),
        "soak.worker_rss_mb_mid": round((mid.worker_rss or 0) / MB, 1),
        "soak.worker_rss_mb_end": round((last.worker_rss or 0) / MB, 1),
        "soak.worker_rss_mb_max": round(max(s.worker_rss or 0 for s in samples) / MB, 1),
        "soak.worker_rss_mb_per_min": round(fits["worker_rss"], 3),
        "soak.redis_mb_start": round(first.redis_used / MB, 1),
        "soak.redis_mb_mid": round(mid.redis_used / MB, 1),
        "soak.redis_mb_end": round(last.redis_used / MB, 1),
        "soak.redis_mb_per_min": round(fits["redis_used"], 3),
        "soak.redis_seen_ids_end": ids,
        "soak.redis_seen_bytes_end": seen_bytes,
        "soak.redis_seen_bytes_per_id": round(seen_bytes / max(1, ids), 1),
        "soak.redis_growth_bytes_per_event": round(redis_growth, 1),
        "soak.tansu_rss_mb_start": round((first.tansu_rss or 0) / MB, 1),
        "soak.tansu_rss_mb_mid": round((mid.tansu_rss or 0) / MB, 1),
        "soak.tansu_rss_mb_end": round((last.tansu_rss or 0) / MB, 1),
        "soak.tansu_rss_mb_per_min": round(fits["tansu_rss"], 3),
    }
    print(
        f"\n=== soak: {args.minutes:g} min at {args.rate:,.0f} events/s, {args.customers:,} "
        f"customers ({sim.events_sent:,} events sent, {last.events_done:,} done, "
        f"{dead:,} dead letters{'' if caught_up else ', worker did NOT catch up'}) ==="
    )
    for name, field in (("worker RSS", "worker"), ("Redis used", "redis"), ("Tansu RSS", "tansu")):
        key = f"soak.{field}_{'mb' if field == 'redis' else 'rss_mb'}"
        print(
            f"  {name:<12} {results[key + '_start']:>7,.1f} -> "
            f"{results[key + '_mid']:>7,.1f} (half) -> {results[key + '_end']:>7,.1f} MB;  "
            "second-half slope "
            f"{results[key + '_per_min']:+.3f} MB/min"
        )
    print(
        f"  Redis grew {redis_growth:,.0f} bytes per event; it holds {ids:,} event ids for "
        f"dedupe (kept for allowed_lateness, 1 day) in {seen_bytes / MB:,.1f} MB "
        f"({seen_bytes / max(1, ids):,.0f} bytes per id)"
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    title = f"soak: {args.minutes:g} min at {args.rate:,.0f} events/s, one worker; {when}"
    png = plot(samples, fits, title)
    return finish(results, [png], write=not args.no_write, started=started, what="soak")


if __name__ == "__main__":
    sys.exit(main())
