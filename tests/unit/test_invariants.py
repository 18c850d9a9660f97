"""Profile invariants (``profiles.invariants``): simulated histories never break one,
and each check fails on a profile corrupted the way it guards against."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import islice

import pytest

from stream_app.clock import to_ms
from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.invariants import CHECKS, Around, sampled, violations
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import make_population
from stream_app.simulation.reversals import plan_reversal, reversal_event

START = datetime(2026, 3, 1, tzinfo=UTC)
LIMITS: StateLimits = Settings().profiles.state_limits()
FOLD = FoldConfig(b"k", timedelta(minutes=30))
SKEW_MS = 300_000


def simulated_log(customers: int = 40, events: int = 3000, seed: int = 7) -> list[Event]:
    """A simulated history with returns, refunds and cancellations of some orders."""
    generator = EventGenerator(
        make_population(customers, seed), make_catalog(seed), seed, START, 5.0
    )
    log = [event for _, event in islice(generator, events)]
    rng = random.Random(seed)
    for order in [e for e in log if isinstance(e, Purchase) and e.customer_id]:
        if rng.random() < 0.5:
            at = order.event_time + timedelta(hours=rng.randint(1, 48))
            owner = {"customer_id": str(order.customer_id)}
            log.append(reversal_event(rng, order, plan_reversal(rng, order), owner, at))
    return log


def folded(log: list[Event]) -> dict[str, ProfileState]:
    """Each named customer's profile, applied as the worker applies it."""
    states: dict[str, ProfileState] = {}
    seen: dict[str, set[str]] = {}
    for event in log:
        cid = getattr(event, "customer_id", None)
        if cid is None:
            continue
        ms = to_ms(event.event_time)
        state = states.setdefault(cid, ProfileState(cid))
        apply_updates(state, [fold(event, cid, FOLD, ms)], seen.setdefault(cid, set()), LIMITS, ms)
    return states


@cache
def profiles() -> dict[str, ProfileState]:
    return folded(simulated_log())


def around(**kw: object) -> Around:
    now = max(int(s.fields["last_seen"]) for s in profiles().values())
    return Around(now, SKEW_MS, LIMITS, **kw)  # type: ignore[arg-type]


def rich() -> ProfileState:
    """A copy of the simulated profile with the most of everything."""
    best = max(
        profiles().values(),
        key=lambda s: (
            bool(s.cart),
            bool(s.orders),
            int(s.fields.get("returned_orders", 0)),
            len(s.fields),
        ),
    )
    return copy.deepcopy(best)


def test_simulated_profiles_break_no_invariant() -> None:
    states = profiles()
    assert len(states) >= 30
    broken = {cid: violations(s, around()) for cid, s in states.items()}
    assert {cid: v for cid, v in broken.items() if v} == {}


def test_the_rich_profile_holds_what_the_checks_look_at() -> None:
    state = rich()
    assert state.cart
    assert state.orders
    assert state.rhythm.sums
    assert int(state.fields["returned_orders"])


def _first(state: ProfileState, prefix: str) -> str:
    return next(name for name in sorted(state.fields) if name.startswith(prefix))


def _negative(s: ProfileState) -> None:
    s.fields[_first(s, "units:")] = -1


def _total(s: ProfileState) -> None:
    s.fields["n"] = int(s.fields["n"]) + 1
    s.fields[_first(s, "n:")] = int(s.fields[_first(s, "n:")])  # the per-type counts kept


def _net(s: ProfileState) -> None:
    s.fields["returned:EUR"] = -500


def _orders_high(s: ProfileState) -> None:
    s.fields["returned_orders"] = int(s.fields.get("n:purchase", 0)) + 1


def _orders_low(s: ProfileState) -> None:
    s.orders["o-x"] = [2, 1, 1]
    s.fields["n:purchase"] = int(s.fields["n:purchase"]) + 1
    s.fields["n"] = int(s.fields["n"]) + 1


def _units(s: ProfileState) -> None:
    s.orders["o-y"] = [1_000, 0, 1]


def _time(s: ProfileState) -> None:
    s.fields["last:purchase"] = int(s.fields["last_seen"]) + 1


def _future(s: ProfileState) -> None:
    s.fields["last_seen"] = around().now_ms + 86_400_000  # a day past the clock


def _stamp(s: ProfileState) -> None:
    del s.fields[next(k[1:] for k in sorted(s.fields) if k[0] == "@" and k[1:] != "ss")]


def _rhythm_up(s: ProfileState) -> None:
    hour = next(iter(s.rhythm.sums))
    s.rhythm.sums[hour] += 5.0 * 2.0 ** (
        (int(s.fields["last_seen"]) - int(s.rhythm.ref_ms or 0)) / LIMITS.rhythm_half_life_ms
    )


def _rhythm_gone(s: ProfileState) -> None:
    s.rhythm.sums.clear()


def _rhythm_bin(s: ProfileState) -> None:
    s.rhythm.sums["200"] = s.rhythm.sums.pop(next(iter(s.rhythm.sums)))


def _gaps(s: ProfileState) -> None:
    s.fields["gap:3"] = int(s.fields["n"]) + 1


def _cart(s: ProfileState) -> None:
    line = next(iter(s.cart.values()))
    line[3] = 0


def _cart_shape(s: ProfileState) -> None:
    s.cart[next(iter(s.cart))] = [1, "x"]


def _ledger(s: ProfileState) -> None:
    s.orders[next(iter(s.orders))] = [1, 2, 0]


def _capped(s: ProfileState) -> None:
    s.searches.update(
        {f"q{i}": int(s.fields["last_seen"]) for i in range(LIMITS.recent_searches + 1)}
    )


CORRUPTIONS: dict[str, Callable[[ProfileState], None]] = {
    "negative_count": _negative,
    "event_total": _total,
    "net_over_gross": _net,
    "returned_orders": _orders_high,
    "returned_units": _units,
    "time_order": _time,
    "future_time": _future,
    "stamp_pair": _stamp,
    "rhythm_total": _rhythm_up,
    "rhythm_bin": _rhythm_bin,
    "gap_total": _gaps,
    "cart_line": _cart,
    "ledger_entry": _ledger,
    "capped": _capped,
}


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
def test_each_check_fails_on_its_corruption(check: str) -> None:
    state = rich()
    CORRUPTIONS[check](state)
    assert check in violations(state, around())


@pytest.mark.parametrize("corrupt", [_rhythm_gone, _cart_shape, _orders_low])
def test_other_corruptions_are_caught_too(corrupt: Callable[[ProfileState], None]) -> None:
    state = rich()
    corrupt(state)
    assert violations(state, around())


def test_memberships_must_equal_the_rules_verdict() -> None:
    state = rich()
    assert violations(state, around(members={"vip"}, verdict={"vip"})) == []
    assert violations(state, around(members={"vip"}, verdict=set())) == ["memberships"]


def test_nothing_may_remain_of_an_erased_customer() -> None:
    assert violations(rich(), around(erased=True)) == ["erased_profile"]
    gone = ProfileState("c")
    assert violations(gone, around(erased=True, scheduled=2)) == ["erased_schedule"]
    assert violations(gone, around(erased=True)) == []


def test_every_check_is_named_and_tested() -> None:
    tested = {*CORRUPTIONS, "memberships", "erased_profile", "erased_schedule"}
    assert tested == set(CHECKS)


def test_the_sample_is_a_stable_fraction() -> None:
    ids = [f"cust-{i}" for i in range(20_000)]
    chosen = [c for c in ids if sampled(c, 0.05)]
    assert 800 < len(chosen) < 1200
    assert chosen == [c for c in ids if sampled(c, 0.05)]
    assert set(chosen) <= {c for c in ids if sampled(c, 0.2)}
