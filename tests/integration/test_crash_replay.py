"""``kill -9`` of a worker in the middle of a 50k-event replay, then a fresh worker.

A worker of its own (own group, topics and keys, short scheduler lease) consumes a
simulated log replayed in envelopes; it is killed with SIGKILL once a third of
the events are accounted for and it has sent decisions, and a new worker with
the same settings takes over from the committed offsets. Redelivered batches must change nothing:
every customer's ``n`` and ``n:<type>`` equal what was sent for them, and no
decision is emitted twice (decision ids on the decisions topic are unique and
are exactly those recorded as sent).

The log is the simulator's stream (sessions, carts, purchases, identity,
sensors, catalog updates) with device-only sensor readings turned off
(``Mix(device_only_share=0)``): whether such a reading is applied or
dead-lettered as ``unknown_device`` depends on a race with the traits that link
its device, so it cannot be counted in advance. Catalog updates stay in (they
exercise the price-drop path and its hook on redelivery) but name no customer,
so they are left out of the per-customer expectations. Identity events (traits,
consent) are replayed and applied first, as in the oracle test: with consent
known, decisions are sent from the start, so the kill hits a worker that is
sending, not one whose every trigger is still suppressed for lack of consent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.events.eventlog import write_lines
from stream_app.events.identity import Consent, Traits
from stream_app.events.registry import Event
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator, Mix
from stream_app.simulation.population import make_population
from stream_app.storage.layout import Keys, parse_settled_value
from stream_app.streaming.lag import LagProbe
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import event_counts, eventually, isolated, read_to_end, sigkill
from tests.oracle.redis_view import processed_total, stats

pytestmark = pytest.mark.integration

SEED = 8_001
EVENTS = 50_000
CUSTOMERS = 800
#: Events per second of event time: 50k events span ~17 minutes, ending about now.
RATE = 50.0
ENVELOPE = 20
#: The worker is killed once this share of the customer events is accounted for.
KILL_AT = 1 / 3
#: A lease shorter than the default 60 s, so checks the dead worker held are retried soon.
LEASE = timedelta(seconds=5)


def _simulated_log(run: str) -> list[Event]:
    start = datetime.now(UTC) - timedelta(seconds=EVENTS / RATE + 60)
    generator = EventGenerator(
        make_population(CUSTOMERS, SEED),
        make_catalog(SEED),
        SEED,
        start,
        RATE,
        mix=Mix(device_only_share=0.0),
    )
    out: list[Event] = []
    for _, event in islice(generator, EVENTS):
        customer = getattr(event, "customer_id", None)
        if customer is not None:  # this run's customers: other tests share the servers
            event = event.model_copy(update={"customer_id": f"{run}-{customer}"})
        out.append(event)
    return out


async def _quiet(redis: Redis, keys: Keys) -> tuple[int, int]:
    """(checks due now, checks in flight): both 0 once the scheduler has nothing to do."""
    now_ms = int(time.time() * 1000)
    pipe = redis.pipeline(transaction=False)
    pipe.zcount(keys.due(), "-inf", now_ms)
    pipe.zcard(keys.inflight())
    due, inflight = await pipe.execute()
    return int(due), int(inflight)


async def test_a_worker_killed_mid_replay_is_replaced_without_loss_or_double_effect(
    settings: Settings, tmp_path: Path
) -> None:
    own, run = isolated(settings, "k", tmp_path / "faust")
    mine = own.updated(decisions={"scheduler_lease": LEASE})
    await ensure_topics(mine)
    keys = Keys(mine.redis.key_prefix)
    logs = Path(ARTIFACTS) / "logs"

    events = _simulated_log(run)
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if (customer := getattr(event, "customer_id", None)) is not None:
            expected[customer][event.type] += 1
    customers = sorted(expected)
    customer_events = sum(sum(c.values()) for c in expected.values())
    assert customer_events > 0.99 * EVENTS, "nearly all simulated events name a customer"
    identity = [e for e in events if isinstance(e, Traits | Consent)]
    identity_log, rest_log = tmp_path / "identity.jsonl", tmp_path / "rest.jsonl"
    identity_log.write_bytes(b"".join(write_lines(identity)))
    rest_log.write_bytes(
        b"".join(write_lines(e for e in events if not isinstance(e, Traits | Consent)))
    )

    redis = Redis.from_url(mine.redis.url)
    probe = LagProbe(mine, mine.topics.inbound())
    await probe.start()
    try:
        first = worker_process(mine, logs, name="crash-replay-a")
        with first:
            sent_first = await replay_file(mine, identity_log, envelope_size=ENVELOPE)
            assert sent_first.events_sent == len(identity), sent_first
            await eventually(
                lambda: processed_total(redis, mine.redis.key_prefix),
                lambda n: n >= len(identity),
                within=60,
            )
            replay = asyncio.create_task(replay_file(mine, rest_log, envelope_size=ENVELOPE))
            deadline = time.monotonic() + 90
            accounted, emitted = 0, 0
            while accounted < KILL_AT * customer_events or not emitted:
                assert first.running, f"worker died by itself:\n{first.log_tail()}"
                assert time.monotonic() < deadline, (
                    f"only {accounted} of {customer_events} events accounted for in 90 s; "
                    f"stats: {await stats(redis, mine.redis.key_prefix)}"
                )
                await asyncio.sleep(0.05)
                accounted = await processed_total(redis, mine.redis.key_prefix)
                emitted = (await stats(redis, mine.redis.key_prefix)).get("decisions_emitted", 0)
            sigkill(first)  # kill -9: no commit, no stats flush, leases left as they were
            at_kill = await stats(redis, mine.redis.key_prefix)
        sent = await replay
        assert (sent.invalid, sent.events_sent) == (0, EVENTS - len(identity)), sent
        assert sent.records_sent < EVENTS / 2, "events went in envelopes"
        assert accounted < 0.75 * customer_events, f"killed too late to matter: {at_kill}"

        second = worker_process(mine, logs, name="crash-replay-b")
        with second:

            async def applied() -> int:
                counts = await event_counts(redis, keys, customers)
                return sum(c.get("n", 0) for c in counts.values())

            total = await eventually(applied, lambda n: n >= customer_events, within=120)
            assert total == customer_events, f"{total} of {customer_events} events applied"
            lag = await eventually(probe.lag, lambda n: n == 0, within=30)
            assert lag == 0, "the new worker committed every offset"
            idle = await eventually(lambda: _quiet(redis, keys), lambda q: q == (0, 0), within=60)
            assert idle == (0, 0), f"scheduler still busy (due, in flight): {idle}"
            await asyncio.sleep(1)  # room for a late duplicate send to show up
            assert second.running, f"the new worker died:\n{second.log_tail()}"

            counts = await event_counts(redis, keys, customers)
            pipe = redis.pipeline(transaction=False)
            for customer in customers:
                pipe.hgetall(keys.sent(customer))
            recorded = {  # sent or held out; "-<why>" marks an occurrence answered by none
                (d.decode() if isinstance(d, bytes) else d)
                for found in await pipe.execute()
                for d, at in found.items()
                if parse_settled_value(at.decode()) is None
            }
            records = await read_to_end(mine, [mine.topics.decisions, mine.topics.audit])
            final = await stats(redis, mine.redis.key_prefix)
    finally:
        await probe.stop()
        await redis.aclose()

    want = {
        c: {"n": sum(types.values())} | {f"n:{t}": k for t, k in types.items()}
        for c, types in expected.items()
    }
    wrong = [f"{c}: stored {counts[c]}, sent {want[c]}" for c in customers if counts[c] != want[c]]
    assert not wrong, f"{len(wrong)} customers differ (first 10):\n" + "\n".join(wrong[:10])
    assert not any(name.startswith("dead_letters:") for name in final), final
    # Counters reach Redis up to 250 ms after their batch: a kill -9 may lose some (so
    # events_applied may fall short after a crash), but never counts an event twice.
    assert final.get("events_applied", 0) <= EVENTS, final

    decisions = [Decision.model_validate_json(r.value) for r in records if r.value]
    ids = Counter(d.decision_id for d in decisions)
    assert decisions, f"the replay should trigger decisions; stats: {final}"
    twice = {d: n for d, n in ids.items() if n > 1}
    assert not twice, f"decisions emitted more than once: {twice}"
    assert {d.customer_id for d in decisions} <= set(customers)
    assert set(ids) == recorded, (
        f"published but not recorded: {sorted(set(ids) - recorded)[:10]}; "
        f"recorded but not published: {sorted(recorded - set(ids))[:10]}"
    )
