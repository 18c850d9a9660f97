"""``bench.learning.replay`` plays the realistic mode's truth into a profile event by
event; ``browse`` keeps the clean mode's seeded draws as they were."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

from bench.learning import HOUR_MS, START, Shopper, SimulatedProfile, browse, replay
from stream_app.clock import to_ms
from stream_app.simulation.activity import ActiveSession, draw_truth
from stream_app.simulation.population import make_population

DAYS = 7


def _shopper(index: int) -> Shopper:
    customer = make_population(index + 1, seed=5)[index]
    shopper = Shopper(customer, customer, 0, [], SimulatedProfile(customer.customer_id, "UTC"))
    shopper.become(customer)
    return shopper


def _run(shopper: Shopper, truth: Sequence[ActiveSession] | None = None) -> random.Random:
    rng = random.Random(3)
    start_ms = to_ms(START)
    for hour in range(DAYS * 24):
        ms = start_ms + hour * HOUR_MS
        if truth is None:
            browse(shopper, ms, rng)
        else:  # an hour at a time, as a live profile would see them
            replay(shopper, truth, ms, ms + HOUR_MS, rng)
    return rng


def test_realistic_visits_are_the_truths_sessions_event_by_event() -> None:
    population = make_population(40, seed=5)
    truths = draw_truth(population, 5, START, START + timedelta(days=DAYS))
    cid = max(truths, key=lambda c: len(truths[c]))
    index = next(i for i, c in enumerate(population) if c.customer_id == cid)
    shopper = _shopper(index)
    truth = truths[cid]
    _run(shopper, truth)
    events = sum(len(s.events) for s in truth)
    assert shopper.profile.n == events + shopper.profile.orders  # an order touches once more
    last = max(to_ms(truth[-1].end), int(shopper.profile.fields.get("last:purchase", 0)))
    assert int(shopper.profile.fields["last_seen"]) == last
    assert int(shopper.profile.fields["first_seen"]) == to_ms(truth[0].start)


def test_without_truth_the_clean_mode_draws_as_before() -> None:
    """Pinned from the code before the realistic option: same visits, same draws left."""
    shopper = _shopper(3)
    rng = _run(shopper)
    assert shopper.profile.n == 26
    assert shopper.profile.fields == {
        "first_seen": "1780297112599",
        "last_seen": "1780856225649",
    }
    assert rng.random() == 0.4810478295780589
