"""Profile audit: a clean simulated run through a worker checking every profile it
writes, `stream-app audit`'s recomputation of it (no mismatch), then corruptions
injected in Redis (each found), the audit's speed and the in-pass check's cost.

Keys: ``audit.mismatches_clean`` (0), ``audit.in_pass_mismatches_clean`` (0: the
worker's invariant checks on every profile of a clean run), ``audit.detected_fraction``
(1.0 of injected corruptions found), ``audit.customers_per_s``, and the check's cost
per sampled customer (``audit.check_us_per_customer``; its invariants alone, without
re-evaluating the segment rules, ``audit.invariants_us_per_customer``) beside the pass's
own in-memory work per customer in the same run (``audit.pass_us_per_customer``: view,
segments and the document, without the check).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.common import make_event_set, produce, report, scratch_stack, sync_redis, wait_for
from bench.throughput import run_settings
from stream_app.cli.audit_run import run_audit
from stream_app.clock import to_ms
from stream_app.decisions.evaluation import Evaluation
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.logs import customer_ref
from stream_app.profiles.derive import derive
from stream_app.profiles.invariants import Around, violations
from stream_app.profiles.recompute import Report
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.audit import document
from stream_app.storage.configured import keys_of
from stream_app.storage.customers import Loaded
from stream_app.storage.layout import Keys
from stream_app.storage.profiles import decode_state
from stream_app.streaming.audit import Auditor
from stream_app.streaming.effects import Passed
from stream_app.streaming.wiring import auditor

SEED = 19_003
Doc = dict[str, Any]


def _count(doc: Doc) -> None:
    doc["f"]["n"] += 1


def _sum(doc: Doc) -> None:
    fields = doc["f"]
    name = next((k for k in sorted(fields) if k.startswith("spend:")), "n")
    fields[name] += 1


def _rhythm(doc: Doc) -> None:
    hours = doc["r"][1]
    hours[max(hours, key=hours.get)] *= 2


def _taste(doc: Doc) -> None:
    doc["t"][1]["c:planted"] = 3.0


def _deleted(doc: Doc) -> None:
    del doc["f"]["first_seen"]


def _added(doc: Doc) -> None:
    doc["f"]["consent:fax"] = "1"


#: Corruptions of a stored document (each customer gets one), beside memberships.
CORRUPTIONS: tuple[Callable[[Doc], None], ...] = (_count, _sum, _rhythm, _taste, _deleted, _added)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with scratch_stack("stream-app-audit-") as (workdir, stack):
        settings = run_settings(stack, workdir, "bench-audit", "au", "audit").updated(
            audit={"sample_rate": 1.0}
        )
        events = make_event_set(
            settings.topics, customers=args.customers, events=args.events, seed=SEED,
            span=timedelta(hours=6),
        )  # fmt: skip
        asyncio.run(ensure_topics(settings))
        client = sync_redis(settings)
        keys = keys_of(settings)

        def applied() -> bool:
            stats = client.hgetall(keys.stats()).items()
            return sum(int(n) for k, n in stats if str(k).startswith("events_in:")) >= events.events

        with worker_process(settings, workdir / "logs", name="audit-worker") as worker:
            produce(stack.kafka_bootstrap, events.records)
            wait_for("the events", applied, args.timeout, process=worker)
        stats = client.hgetall(keys.stats())
        clean = asyncio.run(run_audit(settings, rate=1.0, now=datetime.now(UTC)))
        for m in clean.mismatches[:10]:
            print(f"clean run: {m.customer} {m.field}: recomputed {m.expected}, stored {m.stored}")
        injected = _corrupt(client, keys, settings, clean, args.corrupt)
        found = asyncio.run(run_audit(settings, rate=1.0, now=datetime.now(UTC)))
        check_us, invariants_us, pass_us = _check_cost(client, keys, settings)
        client.close()
    detected = {m.customer for m in found.mismatches} & set(injected)
    for i, ref in enumerate(injected):
        if ref not in detected:
            print(f"missed: {ref}, corruption {i % (len(CORRUPTIONS) + 1)}")
    in_pass = sum(int(n) for k, n in stats.items() if str(k).startswith("audit_mismatches:"))
    return {
        "audit.customers": args.customers,
        "audit.events": events.events,
        "audit.compared": clean.compared,
        "audit.skipped": dict(clean.skipped),
        "audit.mismatches_clean": len(clean.mismatches),
        "audit.in_pass_checked": int(stats.get("audit_checked", 0)),
        "audit.in_pass_mismatches_clean": in_pass,
        "audit.injected": len(injected),
        "audit.detected_fraction": round(len(detected) / len(injected), 4) if injected else None,
        "audit.false_positives_after_injection": len(
            {m.customer for m in found.mismatches} - set(injected)
        ),
        "audit.customers_per_s": round(clean.compared / clean.elapsed_s),
        "audit.read_fold_s": round(clean.read_s, 2),
        "audit.compare_customers_per_s": round(
            clean.compared / max(clean.elapsed_s - clean.read_s, 1e-9)
        ),
        "audit.check_us_per_customer": round(check_us, 1),
        "audit.invariants_us_per_customer": round(invariants_us, 1),
        "audit.pass_us_per_customer": round(pass_us, 1),
    }


def _corrupt(client: Any, keys: Keys, settings: Settings, clean: Report, n: int) -> list[str]:
    """Corrupt ``n`` compared customers' profiles (one way each, memberships among them);
    returns their references."""
    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    bad = {m.customer for m in clean.mismatches}
    candidates = []
    for key in client.scan_iter(match=keys.profile("*"), count=1000):
        cid = key.split("{", 1)[1].rsplit("}", 1)[0]
        if not cid.startswith("~") and customer_ref(cid, secret) not in bad:
            candidates.append(cid)
    rng = random.Random(SEED)
    chosen = rng.sample(sorted(candidates), min(n, len(candidates)))
    kinds = len(CORRUPTIONS) + 1
    for i, cid in enumerate(chosen):
        if i % kinds == len(CORRUPTIONS):
            client.set(keys.memberships(cid), "ghost", keepttl=True)
            continue
        doc = orjson.loads(client.get(keys.profile(cid)))
        if i % kinds == 2 and not doc["r"][1]:
            doc["f"]["n"] += 1
        else:
            CORRUPTIONS[i % kinds](doc)
        client.set(keys.profile(cid), orjson.dumps(doc).decode(), keepttl=True)
    return [customer_ref(cid, secret) for cid in chosen]


def _check_cost(client: Any, keys: Keys, settings: Settings) -> tuple[float, float, float]:
    """Microseconds per customer: the in-pass check, its invariants alone (without the
    memberships' verdict), and the pass's in-memory work on the customer without the
    check (its view, segments, document), over the stored profiles."""
    rules = SegmentRules(load_segments(settings.segments.file))
    value_rules = settings.profiles.value_rules()
    check = auditor(settings, rules)
    assert isinstance(check, Auditor)
    now = datetime.now(UTC)
    profiles = [
        decode_state(k.split("{", 1)[1].rsplit("}", 1)[0], client.get(k).encode())
        for k in client.scan_iter(match=keys.profile("*"), count=1000)
    ]
    passes = []
    started = time.perf_counter()
    for state in profiles:
        view = derive(state, now, value_rules)
        members, _ = rules.evaluate(view)
        document(state)
        passed = Passed(Loaded(state, memberships=members))
        passed.view = view
        passed.evaluation = Evaluation(frozenset(members), None, [], [], 0)
        passes.append(passed)
    pass_s = time.perf_counter() - started
    started = time.perf_counter()
    for passed in passes:
        check.check(passed, now)
    check_s = time.perf_counter() - started
    around = Around(to_ms(now), check.future_skew_ms, check.limits)
    started = time.perf_counter()
    for passed in passes:
        violations(passed.loaded.state, around)
    alone_s = time.perf_counter() - started
    n = len(passes)
    return check_s / n * 1e6, alone_s / n * 1e6, pass_s / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--events", type=int, default=12_000)
    parser.add_argument("--corrupt", type=int, default=70)
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "audit")


if __name__ == "__main__":
    raise SystemExit(main())
