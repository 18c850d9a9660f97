"""The oracle end to end: 100k simulated, perturbed events through the real worker, then
every customer's stored profile compared with an independent batch recomputation.

The log is generated at ``now - 3 h`` (inside the engine's max event age), with
duplicates, disorder and late events (well within the allowed lateness, so the
engine's answer must not depend on arrival order), and returns, refunds and
cancellations of some orders: whole or some lines, some sent twice under a new event id,
some ahead of their order. Identities, customer ids,
devices and orders carry a per-run prefix so other tests' data cannot collide.
Identity events are replayed (and applied) first: a device-only sensor reading
is dead-lettered if it overtakes the traits that register its device on another
topic, which would make the expectation depend on a race between topics.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.events.eventlog import write_lines
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import EVENT_ADAPTERS, Event, Stream
from stream_app.events.returns import OrderReversal
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.perturb import perturb
from stream_app.simulation.population import make_population
from stream_app.storage.statfields import stat_name
from tests.integration.fixtures import eventually
from tests.oracle.compare import diff_all, diff_basket
from tests.oracle.config import OracleConfig
from tests.oracle.recompute import Oracle, Outcome, to_ms
from tests.oracle.redis_view import processed_total, read_basket, read_profiles, stats, subtract

pytestmark = pytest.mark.integration

SEED = 20_240_601
EVENTS = 100_000
CUSTOMERS = 2_000
#: Events per second of event time: 100k events span 10,000 s (< 3 h) ending before now.
RATE = 10.0
FEEDBACK = 600
#: Share of orders something is returned, refunded or cancelled of.
RETURNED_SHARE = 0.15
ENVELOPE = 50
SHOWN = 30
#: How long the worker may take to apply one phase of the log.
APPLY_WITHIN_S = 150.0


def _rename(event: Event, prefix: str) -> Event:
    """The same event with this run's customer, device and order ids."""
    update: dict[str, object] = {}
    customer = getattr(event, "customer_id", None)
    if customer is not None:
        update["customer_id"] = f"{prefix}{customer}"
    device = getattr(event, "device_id", None)
    if device is not None:
        update["device_id"] = f"{prefix}{device}"
    if isinstance(event, Traits):
        update["device_ids"] = [f"{prefix}{d}" for d in event.device_ids]
        if customer is not None and customer.endswith(("3", "7")):  # a fifth with no zone
            update["timezone"] = None  # binned in the default zone, counted as tz_assumed
    if isinstance(event, Purchase | OrderReversal):
        update["order_id"] = f"{prefix}{event.order_id}"
    return event.model_copy(update=update)


def _feedback(events: Sequence[Event], seed: int, n: int) -> list[Event]:
    """Notification feedback of some customers, a minute after one of their events."""
    rng = random.Random(f"oracle-feedback:{seed}")
    adapter = EVENT_ADAPTERS[Stream.FEEDBACK]
    out: list[Event] = []
    for index in sorted(rng.sample(range(len(events) // 2), n)):
        base = events[index]
        customer = getattr(base, "customer_id", None)
        if customer is None:
            continue
        feedback: Event = adapter.validate_python(
            {
                "type": rng.choice(("delivered", "opened", "opened", "clicked")),
                "event_id": f"fb-{rng.getrandbits(64):016x}",
                "event_time": base.event_time + timedelta(minutes=1),
                "customer_id": customer,
                "decision_id": f"dec-{rng.getrandbits(48):012x}",
                "channel": rng.choice(("push", "email")),
            }
        )
        out.append(feedback)
    return out


def _reversals(events: Sequence[Event], seed: int, latest: datetime) -> list[Event]:
    """Returns, refunds and cancellations of some orders, up to an hour later: whole or
    some lines; a few sent again under a new event id (one credit note, two events)."""
    rng = random.Random(f"oracle-returns:{seed}")
    adapter = EVENT_ADAPTERS[Stream.PURCHASE]
    out: list[Event] = []
    for order in (e for e in events if isinstance(e, Purchase)):
        if rng.random() >= RETURNED_SHARE:
            continue
        kind = rng.choice(("return", "return", "refund", "cancellation"))
        lines = None
        if rng.random() < 0.5:
            lines = [
                line.model_dump()
                for line in rng.sample(order.items, rng.randint(1, len(order.items)))
            ]
        at = min(order.event_time + timedelta(seconds=rng.randint(0, 3600)), latest)
        fields = {
            "type": kind,
            "event_id": f"rt-{rng.getrandbits(64):016x}",
            "event_time": at,
            "customer_id": order.customer_id,
            "return_id": f"cn-{rng.getrandbits(48):012x}",
            "order_id": order.order_id,
            "amount": round(order.total * rng.choice((0.0, 0.3, 1.0)), 2),
            "currency": order.currency,
        }
        if lines is not None:
            fields["items"] = lines
        reversal: Event = adapter.validate_python(fields)
        out.append(reversal)
        if rng.random() < 0.1:
            out.append(reversal.model_copy(update={"event_id": f"rt-{rng.getrandbits(64):016x}"}))
    return out


def _ahead_of_orders(log: list[Event], seed: int) -> list[Event]:
    """Some reversals moved just ahead of their order (the order delayed upstream)."""
    rng = random.Random(f"oracle-ahead:{seed}")
    moved: dict[str, list[Event]] = {}
    at: set[int] = set()
    for i, e in enumerate(log):
        if isinstance(e, OrderReversal) and rng.random() < 0.3:
            moved.setdefault(e.order_id, []).append(e)
            at.add(i)
    out: list[Event] = []
    for i, e in enumerate(log):
        if isinstance(e, Purchase):
            out.extend(moved.pop(e.order_id, ()))
        if i not in at:
            out.append(e)
    return out + [e for group in moved.values() for e in group]


def _make_log(prefix: str, start: datetime) -> list[Event]:
    population = make_population(CUSTOMERS, SEED)
    generator = EventGenerator(population, make_catalog(SEED), SEED, start, RATE)
    clean = [_rename(event, prefix) for _, event in islice(generator, EVENTS)]
    clean += _feedback(clean, SEED, FEEDBACK)
    clean += _reversals(clean, SEED, max(event.event_time for event in clean))
    clean.sort(key=lambda event: event.event_time)  # stable: the generator's order kept
    return _ahead_of_orders(
        perturb(
            clean,
            seed=SEED,
            duplicate_share=0.03,
            disorder_share=0.05,
            max_disorder=timedelta(seconds=5),
            late_share=0.02,
            max_late=timedelta(minutes=30),
        ),
        SEED,
    )


async def _applied_at_least(redis: Redis, prefix: str, target: int, what: str) -> None:
    total = await eventually(
        lambda: processed_total(redis, prefix), lambda n: n >= target, within=APPLY_WITHIN_S
    )
    if total < target:
        pytest.fail(
            f"{what}: the worker accounted for {total} events, waited for {target} "
            f"within {APPLY_WITHIN_S:.0f} s; stats: {await stats(redis, prefix)}"
        )


async def test_every_stored_profile_equals_the_batch_recomputation(
    worker: ManagedProcess, settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    config = OracleConfig.from_settings(settings)
    prefix = f"o{uuid.uuid4().hex[:6]}-"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    log = _make_log(prefix, start)
    assert all(event.event_time.microsecond % 1000 == 0 for event in log), "ms-aligned times"
    identity: list[Event] = [event for event in log if isinstance(event, Traits | Consent)]
    rest: list[Event] = [event for event in log if not isinstance(event, Traits | Consent)]
    phases: list[tuple[str, list[Event]]] = [("identity", identity), ("other events", rest)]
    purchases = [event for event in log if isinstance(event, Purchase)]
    items = {line.item_id for p in purchases for line in p.items}
    categories = {line.category for p in purchases for line in p.items}

    key = settings.redis.key_prefix
    stats_before = await stats(redis, key)
    basket_before = await read_basket(redis, key, items, categories)
    target = await processed_total(redis, key)
    for name, events in phases:
        path = tmp_path / f"{name.replace(' ', '-')}.jsonl"
        with path.open("wb") as out:
            out.writelines(write_lines(events))
        sent = await replay_file(settings, path, envelope_size=ENVELOPE)
        assert (sent.invalid, sent.events_sent) == (0, len(events)), sent
        target += len(events)
        await _applied_at_least(redis, key, target, name)

    oracle = Oracle(config)
    for _, events in phases:
        for event in events:
            oracle.apply(event)
    at_ms = to_ms(datetime.now(UTC))
    expected = oracle.profiles(at_ms)
    stored = await read_profiles(
        redis,
        key,
        sorted(expected),
        at_ms=at_ms,
        taste_half_life_ms=config.taste_half_life_ms,
        rhythm_half_life_ms=config.rhythm_half_life_ms,
    )
    basket = subtract(await read_basket(redis, key, items, categories), basket_before)
    stats_after = await stats(redis, key)

    def counted(name: str) -> int:
        return stats_after.get(name, 0) - stats_before.get(name, 0)

    late = sum(counted(stat_name("events_late", stream.value)) for stream in Stream)
    problems = [
        f"stats.{name}: expected +{want}, counted +{have}"
        for name, want, have in (
            *(
                (name, oracle.outcomes[outcome], counted(name))
                for name, outcome in (
                    ("events_applied", Outcome.APPLIED),
                    ("events_duplicate", Outcome.DUPLICATE),
                    ("dead_letters:unknown_device", Outcome.UNKNOWN_DEVICE),
                    ("device_readings:parked", Outcome.PARKED),
                )
            ),
            ("events_late:*", oracle.outcomes[Outcome.LATE], late),
            ("tz_assumed", oracle.tz_assumed, counted("tz_assumed")),
        )
        if have != want
    ]
    reversals = [e for e in log if isinstance(e, OrderReversal)]
    assert len(reversals) > 100, "the log returns, refunds and cancels orders"
    problems += diff_all(expected, stored)
    problems += diff_basket(oracle.basket, basket)
    assert oracle.outcomes[Outcome.APPLIED] >= EVENTS, oracle.outcomes
    assert not problems, (
        f"{len(problems)} mismatches over {len(expected)} customers and "
        f"{len(items)} items (first {SHOWN}):\n" + "\n".join(problems[:SHOWN])
    )
