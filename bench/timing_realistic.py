"""Timing benchmark, realistic mode (issue 17 item 6): does the send-time choice hit
shoppers whose activity is bursty sessions rather than one clean daily peak?

Offline and seeded (no servers, ~100 s for 20,000 customers). Customers draw realistic
activity (``simulation.activity``: sessions, rest after a visit, heavy-tailed gaps,
weekends, night owls, occasional and regular customers, drift). Their profiles replay
the events of ``--train-days`` before day 0, then go on learning from the events of the
``--test-days`` after it up to each trigger, as the worker's would. Triggers fire on
sessions (bursts joined by the 30-minute rule, ``visits``) under two protocols:

* after a session (cart / browse abandonment): 30 min after a session ended,
  windows 12 h and 4 h;
* mid-session: 30 min after a session's start while it still goes on, window 12 h.

Strategies keep bench.timing's quiet hours: ``now`` (earliest allowed moment),
``global_hour`` (all profiles' peak hour at day 0), ``own_hour`` (the live profile's
peak hour, else the global one), ``engine`` (the product's planner: ``engine_plan``,
the outlook of ``decisions.moments`` from the live profile and the learned priors),
``oracle`` (reference: the first moment whose send would hit, under the engine's quiet
hours: the store's, less the hours the customer's own activity opens) and, after a
session, ``process_oracle`` (plans with the simulator's own session rate: the ceiling
of any model that forecasts rather than knows). A send hits when the customer is in a
session within 30 min after it (``active_within``); it converts with chance 0.3 times
the value left after a cart reminder's 6-hour half-life (``*_conversion``).

    python -m bench.timing_realistic [--customers 20000 --train-days 6 --test-days 3 --seed 7]

prints the figures; ``python -m bench.timing`` (in ``make bench``) runs this mode with
its defaults after the clean one and writes both (``latest.json`` keeps one set of
``timing.*`` keys: a second writer would wipe the first's).
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.learning import RULES, START, Shopper, SimulatedProfile, replay
from bench.timing import (
    CONVERT,
    FLAT,
    QUIET,
    Learned,
    Trigger,
    best_allowed_hour,
    engine_plan,
    engine_quiet,
    learn,
    plan_in_window,
)
from stream_app.clock import to_ms
from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.timing import (
    HOURS_PER_DAY,
    SendPlan,
    daily_profile,
    plan_send,
)
from stream_app.profiles.derive import derive
from stream_app.simulation.activity import (
    ActiveSession,
    Activity,
    active_within,
    draw_activity,
    draw_truth,
    session_rate,
    visits,
)
from stream_app.simulation.population import make_population

#: Conversions: a message read converts with this chance (bench.timing's), times the
#: value left after waiting with a cart reminder's half-life (config/campaigns.toml).
CART_HALF_LIFE = timedelta(hours=6)
LAG = timedelta(minutes=30)  # after a session's end, or into a session still going
HIT_AFTER = timedelta(minutes=30)
BASELINES = ("now", "global_hour", "own_hour")
PROTOCOLS = (  # key prefix, protocol, window
    ("timing.realistic", "after", timedelta(hours=12)),
    ("timing.realistic_4h", "after", timedelta(hours=4)),
    ("timing.realistic_in_session", "mid", timedelta(hours=12)),
)


@dataclass(slots=True)
class Customer:
    """A customer: their profile (as of the end of training, then live), zone, truth and
    the habits the truth was drawn from."""

    shopper: Shopper
    timezone: str | None
    truth: tuple[ActiveSession, ...]
    activity: Activity


def trigger_times(
    truth: Sequence[ActiveSession], protocol: str, start: datetime, end: datetime
) -> list[datetime]:
    """When the protocol fires in ``[start, end)``: ``after`` 30 min after each session's
    end; ``mid`` 30 min after the start of each session still going then.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 6, 1, 18, tzinfo=UTC)
    >>> short = ActiveSession((t0, t0 + timedelta(minutes=5)))
    >>> long = ActiveSession((t0 + timedelta(hours=2), t0 + timedelta(hours=2, minutes=45)))
    >>> [t.strftime("%H:%M") for t in trigger_times([short, long], "after", t0, t0 + LAG * 6)]
    ['18:35']
    >>> [t.strftime("%H:%M") for t in trigger_times([short, long], "mid", t0, t0 + LAG * 6)]
    ['20:30']
    """
    if protocol == "after":
        fired = [s.end + LAG for s in truth]
    elif protocol == "mid":
        fired = [s.start + LAG for s in truth if s.end > s.start + LAG]
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return sorted(t for t in fired if start <= t < end)


def oracle_send(
    truth: Sequence[ActiveSession],
    at: datetime,
    window: timedelta,
    timezone: str | None,
    quiet: QuietHours = QUIET,
) -> SendPlan | None:
    """The first allowed moment in ``[at, at + window]`` whose send would hit (a session
    within 30 min after it), or None when no session is reachable outside ``quiet``."""
    for session in truth:
        low, high = max(at, session.start - HIT_AFTER), min(at + window, session.end)
        if high < low:
            if session.start - HIT_AFTER > at + window:
                return None
            continue
        plan = plan_send(earliest=low, latest=high, timezone=timezone, hourly=FLAT, quiet=quiet)
        if plan is not None:
            return plan
    return None


def simulate(args: argparse.Namespace) -> tuple[list[Customer], Learned]:
    """Draw the truth, replay its training days into the profiles; also the priors the
    worker would have learned from them by day 0: the aggregate local hour-of-day
    rhythm, and everyone's presence (``decisions.moments.learned_priors``)."""
    rng = random.Random(f"timing-realistic:{args.seed}")
    population = make_population(args.customers, args.seed)
    train_start = START - timedelta(days=args.train_days)
    horizon = START + timedelta(days=args.test_days) + max(w for *_, w in PROTOCOLS) + LAG
    truths = draw_truth(population, args.seed, train_start, horizon)
    customers: list[Customer] = []
    views = []
    for c in population:
        shopper = Shopper(c, c, 0, [], SimulatedProfile(c.customer_id, c.timezone))
        shopper.become(c)
        truth = truths[c.customer_id]
        replay(shopper, truth, to_ms(train_start), to_ms(START), rng)
        view = derive(shopper.profile.stored(), START, RULES)
        customers.append(Customer(shopper, view.timezone, truth, draw_activity(c, args.seed)))
        views.append(view)
    return customers, learn(views, START)


def process_oracle(
    c: Customer, at: datetime, window: timedelta, seed: int, quiet: QuietHours
) -> SendPlan | None:
    """The send a perfect forecaster would choose: the moment where the simulator's own
    session rate (hour, weekly interest, rest since the last visit) peaks in the window.
    Its hit rate is the ceiling of any send-time model here (after a session only), under
    the engine's own quiet hours ``quiet``."""
    ended = max((v.end for v in visits(c.truth) if v.end <= at), default=None)

    def rate(moment: datetime, _: int) -> float:
        middle = moment + HIT_AFTER / 3
        return session_rate(c.activity, middle, None if ended is None else middle - ended, seed)

    return plan_send(
        earliest=at, latest=at + window, timezone=c.timezone, quiet=quiet, value_at=rate
    )


def one_hot(hour: int) -> tuple[float, ...]:
    return tuple(1.0 if h == hour else 0.0 for h in range(HOURS_PER_DAY))


def evaluate(
    customers: Sequence[Customer],
    prior: Learned,
    protocol: str,
    window: timedelta,
    args: argparse.Namespace,
) -> dict[str, list[bool]]:
    """Per strategy, per trigger: whether its send hit; plus ``engine_deferred``. Each
    customer's profile (a copy per protocol) goes on learning from the test days' events
    up to each trigger, as the live one would."""
    end = START + timedelta(days=args.test_days)
    global_hot = one_hot(best_allowed_hour(prior.hours))
    names = (*BASELINES, "engine", "oracle", *(("process_oracle",) if protocol == "after" else ()))
    out: dict[str, list[float]] = {n: [] for n in names}
    out |= {f"{n}_conversion": [] for n in names}
    out["engine_deferred"] = []
    for c in customers:
        rng = random.Random(f"timing-realistic:{args.seed}:{c.shopper.base.customer_id}")
        shopper = copy.deepcopy(c.shopper)
        cursor = to_ms(START)
        for at in trigger_times(visits(c.truth), protocol, START, end):
            replay(shopper, c.truth, cursor, to_ms(at) + 1, rng)
            cursor = to_ms(at) + 1
            view = derive(shopper.profile.stored(), at, RULES)
            own = daily_profile(view.rhythm_local)
            own_hot = one_hot(best_allowed_hour(own)) if sum(own) > 0 else global_hot
            trigger = Trigger(protocol, shopper, at, window, c.timezone, own, view)
            fitted = engine_quiet(view)
            plans = {
                "now": plan_in_window(trigger, FLAT),
                "global_hour": plan_in_window(trigger, global_hot),
                "own_hour": plan_in_window(trigger, own_hot),
                "engine": engine_plan(view, at, window, prior, args.strength),
                "oracle": oracle_send(c.truth, at, window, c.timezone, fitted),
            }
            if protocol == "after":
                plans["process_oracle"] = process_oracle(c, at, window, args.seed, fitted)
            for name, plan in plans.items():
                hit = plan is not None and active_within(c.truth, plan.send_at)
                out[name].append(hit)
                kept = 0.0 if plan is None else 2.0 ** (-(plan.send_at - at) / CART_HALF_LIFE)
                out[f"{name}_conversion"].append(CONVERT * kept if hit else 0.0)
            engine = plans["engine"]
            out["engine_deferred"].append(engine is not None and engine.deferred)
    return out


def summarize(prefix: str, hits: dict[str, list[float]]) -> dict[str, float | int]:
    """Hit rates and conversions per strategy, the best baseline's hit rate, the engine's
    deferred share, counts."""
    n = len(hits["now"])
    rate = {name: round(sum(v) / max(n, 1), 4) for name, v in hits.items()}
    out: dict[str, float | int] = {
        f"{prefix}.{name}" if name.endswith("_conversion") else f"{prefix}.{name}_hit_rate": value
        for name, value in rate.items()
    }
    out[f"{prefix}.engine_deferred_share"] = out.pop(f"{prefix}.engine_deferred_hit_rate")
    out[f"{prefix}.best_baseline_hit_rate"] = max(rate[name] for name in BASELINES)
    out[f"{prefix}.triggers"] = n
    return out


def measure(args: argparse.Namespace) -> dict[str, float | int]:
    """All protocols' figures for one drawn population."""
    started = time.perf_counter()
    customers, prior = simulate(args)
    figures: dict[str, float | int] = {
        "timing.realistic.customers": args.customers,
        "timing.realistic.global_hour": best_allowed_hour(prior.hours),
    }
    for prefix, protocol, window in PROTOCOLS:
        figures.update(summarize(prefix, evaluate(customers, prior, protocol, window, args)))
    figures["timing.realistic.run_s"] = round(time.perf_counter() - started, 1)
    return figures


def arguments() -> argparse.ArgumentParser:
    """The realistic mode's options; ``bench.timing`` runs it with their defaults."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--train-days", type=int, default=6, help="replayed into profiles")
    parser.add_argument("--test-days", type=int, default=3, help="days whose sessions trigger")
    parser.add_argument("--strength", type=float, default=30.0, help="as bench.timing")
    parser.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print only: ``bench.timing`` writes these figures with its clean ones, as
    ``latest.json`` replaces all of a bench's ``timing.*`` keys at once."""
    for key, value in measure(arguments().parse_args(argv)).items():
        print(f"{key:52s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
