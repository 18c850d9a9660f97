"""Timing benchmark: does sending at the customer's own hour beat sending at once, or at
everyone's best hour?

Offline and seeded (no servers, ~10 s; with the realistic mode ~2.5 min). Simulated
customers browse for ``--history-days`` (``bench.learning.browse``: visits five times
likelier in their true active hours), so their profile rhythm (the stored decayed
hour-of-week sums, read through ``derive`` as ``view.rhythm_local``) reflects
those hours, with noise. Then, over the following 7 days (browsing goes on),
``--triggers`` triggers, about ``--session-share`` of them:

* session triggers (cart / browse abandonment): a random visit of those 7 days,
  fired 30-60 min after it, window [trigger, trigger + 24 h];
* time-based triggers (replenishment, win-back, price drop): a random customer
  at a uniformly random time, window [trigger, trigger + 48 h].

The profile is read at trigger time. The baselines keep the store's quiet hours
(22:00-08:00 local, so night owls' best hours are never allowed):

(a) ``now``: the earliest allowed moment;
(b) ``global_hour``: the one allowed local hour of day where all profiles'
    aggregated rhythm (as of day 0) peaks, at its next occurrence in the window,
    else the earliest allowed moment;
(c) ``engine``: the product's planner (``engine_plan``): the chance of being read
    (``decisions.moments``: presence, pauses, rhythm smoothed toward that aggregate
    with ``--strength`` units of activity), under the store's quiet hours less the
    ones the customer's own activity opens (``decisions.quiet.fit``, issue 17);
(d) ``oracle`` (reference, not a competitor): ``plan_send`` with the customer's
    true active hours under the engine's quiet hours, the best any timing can do.

Hit rate: share of sends landing in the customer's true active hours. Conversion:
engaged ~ Bernoulli(p_engage(customer, category, "none", local hour)) (category:
the favourite or a random one, per trigger), converted ~ engaged x Bernoulli(0.3),
with the same two uniform draws per trigger for every strategy (common random
numbers), so the differences are the timing's, not noise.

    python -m bench.timing [--customers 2000 --history-days 21 --triggers 20000 --seed 7]

It then runs ``bench.timing_realistic`` (issue 17: realistic activity, hold-out days)
with its defaults and writes both modes' ``timing.*`` figures together.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bench.common import merge_results, pyplot, save_figure
from bench.learning import HOUR_MS, RULES, START, Shopper, SimulatedProfile, browse
from stream_app.clock import from_ms, ms_or_none, to_ms
from stream_app.decisions.moments import (
    PresencePriors,
    learned_priors,
    outlook,
    presence_sums,
)
from stream_app.decisions.quiet import QuietFit, QuietHours, fit
from stream_app.decisions.timing import (
    HOURS_PER_DAY,
    SendPlan,
    daily_profile,
    describe_plan,
    plan_send,
    smoothed_shares,
)
from stream_app.metrics.quantiles import percentile
from stream_app.profiles.derive import ProfileView, derive
from stream_app.simulation.catalog import CATEGORIES
from stream_app.simulation.engagement import is_active_hour, p_engage
from stream_app.simulation.population import make_population

QUIET = QuietHours(22, 8)
TRIGGER_DAYS = 7
SESSION_WINDOW = timedelta(hours=24)
SCHEDULED_WINDOW = timedelta(hours=48)
CONVERT = 0.3
STRATEGIES = ("now", "global_hour", "engine")
REFERENCE = "oracle"
FLAT = (1.0,) * HOURS_PER_DAY
CATEGORY_NAMES = [spec.name for spec in CATEGORIES]


@dataclass(frozen=True, slots=True)
class Trigger:
    """One triggered decision and what the engine reads at trigger time."""

    kind: str  # "session" or "scheduled"
    shopper: Shopper
    at: datetime
    window: timedelta
    timezone: str | None
    own: tuple[float, ...]  # 24 local hour-of-day rhythm totals of the profile
    view: ProfileView  # the profile as the worker reads it then


@dataclass(slots=True)
class Outcomes:
    """Per strategy, per trigger: the send, whether it hit, engaged, converted."""

    local_hour: list[int] = field(default_factory=list)
    hit: list[bool] = field(default_factory=list)
    p: list[float] = field(default_factory=list)
    converted: list[bool] = field(default_factory=list)
    delay_min: list[float] = field(default_factory=list)
    deferred: list[bool] = field(default_factory=list)


def simulate(args: argparse.Namespace) -> tuple[list[Trigger], Learned]:
    """Browse history, then collect the triggers of the next 7 days with their profiles;
    also the priors the worker would have learned by day 0 (``Learned``)."""
    rng = random.Random(f"timing:{args.seed}")
    shoppers = []
    for c in make_population(args.customers, args.seed):
        offset = ZoneInfo(c.timezone).utcoffset(START) or timedelta(0)
        shopper = Shopper(
            c,
            c,
            int(offset.total_seconds() // 3600),
            [],
            SimulatedProfile(c.customer_id, c.timezone),
        )
        shopper.become(c)
        shoppers.append(shopper)
    start_ms = int(START.timestamp() * 1000)
    for hour in range(-args.history_days * 24, 0):
        ms = start_ms + hour * HOUR_MS
        for shopper in shoppers:
            browse(shopper, ms, rng)
    learned = learn([derive(s.profile.stored(), START, RULES) for s in shoppers], START)

    n_session = round(args.triggers * args.session_share)
    span_ms = TRIGGER_DAYS * 24 * HOUR_MS
    scheduled = sorted(
        (start_ms + rng.randrange(span_ms), rng.randrange(len(shoppers)))
        for _ in range(args.triggers - n_session)
    )
    triggers: list[Trigger] = []
    visits: list[Trigger] = []
    next_scheduled = 0

    def read(kind: str, shopper: Shopper, at_ms: int, window: timedelta) -> Trigger:
        at = from_ms(at_ms)
        view = derive(shopper.profile.stored(), at, RULES)
        own = daily_profile(view.rhythm_local)
        return Trigger(kind, shopper, at, window, view.timezone, own, view)

    for hour in range(TRIGGER_DAYS * 24):
        ms = start_ms + hour * HOUR_MS
        # Time-based triggers of this hour read the profile before this hour's visits.
        while next_scheduled < len(scheduled) and scheduled[next_scheduled][0] < ms + HOUR_MS:
            at_ms, index = scheduled[next_scheduled]
            triggers.append(read("scheduled", shoppers[index], at_ms, SCHEDULED_WINDOW))
            next_scheduled += 1
        for shopper in shoppers:
            events = shopper.profile.n
            browse(shopper, ms, rng)
            if shopper.profile.n != events:  # a visit: the session ends, the trigger fires
                seen_ms = int(shopper.profile.fields["last_seen"])
                fire_ms = seen_ms + rng.randrange(30 * 60_000, 60 * 60_000)
                visits.append(read("session", shopper, fire_ms, SESSION_WINDOW))
    triggers.extend(rng.sample(visits, min(n_session, len(visits))))
    triggers.sort(key=lambda t: (t.at, t.shopper.base.customer_id))
    return triggers, learned


class Learned(NamedTuple):
    """The priors the worker learns from everyone: hour-of-day rhythm, presence."""

    hours: tuple[float, ...]
    presence: PresencePriors


def learn(views: Sequence[ProfileView], now: datetime) -> Learned:
    """What the worker would have learned from these profiles by ``now``: the sum of their
    local hour-of-day rhythms, and everyone's presence."""
    prior = [0.0] * HOURS_PER_DAY
    for view in views:
        for hour, value in enumerate(daily_profile(view.rhythm_local)):
            prior[hour] += value
    presences = [(view.presence, ms_or_none(view.first_seen)) for view in views]
    presence = learned_priors(presence_sums(presences, to_ms(now)), PresencePriors())
    return Learned(tuple(prior), presence)


def engine_plan(
    view: ProfileView, at: datetime, window: timedelta, prior: Learned, strength: float
) -> SendPlan | None:
    """The engine's send time, as the planner chooses it for a push: the chance of being
    read (``decisions.moments``) from the live profile, its presence and its rhythm
    pulled toward the global one, outside the store's quiet hours less those the
    customer's own activity opens (``quiet.fit``; baselines keep the store's)."""
    hourly = smoothed_shares(daily_profile(view.rhythm_local), prior.hours, strength)
    look = outlook(view.presence, ms_or_none(view.first_seen), at, hourly, prior.presence)
    return plan_send(
        earliest=at,
        latest=at + window,
        timezone=view.timezone,
        quiet=engine_quiet(view),
        value_at=lambda moment, hour: look.chance(to_ms(moment), hour),
    )


def engine_quiet(view: ProfileView) -> QuietHours:
    """The quiet hours the engine keeps for a push: the store's, less the hours the
    customer's own activity opens (``quiet.fit``)."""
    return fit(QUIET, view.rhythm_local, QuietFit())


def best_allowed_hour(prior: tuple[float, ...]) -> int:
    """The local hour of day, outside quiet hours, where the aggregate rhythm peaks."""
    allowed = [h for h in range(HOURS_PER_DAY) if not QUIET.contains(START.replace(hour=h))]
    return max(allowed, key=lambda h: (prior[h], -h))


def evaluate(
    triggers: list[Trigger], prior: Learned, args: argparse.Namespace
) -> tuple[dict[str, Outcomes], list[float], list[str]]:
    """Plan every trigger with every strategy; outcomes drawn with common random numbers."""
    draws = random.Random(f"timing-outcomes:{args.seed}")
    peak = best_allowed_hour(prior.hours)
    one_hot = tuple(1.0 if h == peak else 0.0 for h in range(HOURS_PER_DAY))
    outcomes = {name: Outcomes() for name in (*STRATEGIES, REFERENCE)}
    plan_s: list[float] = []
    examples: list[str] = []
    for trigger in triggers:
        c = trigger.shopper.now
        category = (
            max(c.tastes, key=lambda kv: kv[1])[0]
            if draws.random() < 0.5
            else draws.choice(CATEGORY_NAMES)
        )
        u_engage, u_convert = draws.random(), draws.random()
        hourly = smoothed_shares(trigger.own, prior.hours, args.strength)
        started = time.perf_counter()
        engine = engine_plan(trigger.view, trigger.at, trigger.window, prior, args.strength)
        plan_s.append(time.perf_counter() - started)
        truth = tuple(1.0 if is_active_hour(c, h) else 0.0 for h in range(HOURS_PER_DAY))
        plans = {
            "now": plan_in_window(trigger, FLAT),
            "global_hour": plan_in_window(trigger, one_hot),
            "engine": engine,
            # The reference keeps the engine's quiet hours (the store's, less the opened).
            REFERENCE: plan_in_window(trigger, truth, engine_quiet(trigger.view)),
        }
        if len(examples) < 3 and engine is not None and engine.deferred:
            examples.append(
                f"{c.customer_id} ({c.timezone}): {describe_plan(engine, hourly, trigger.at)}"
            )
        for name, plan in plans.items():
            if plan is None:  # cannot happen: every window is longer than the quiet hours
                raise RuntimeError(f"{name}: no allowed moment for {trigger}")
            record(outcomes[name], plan, trigger, category, u_engage, u_convert)
    return outcomes, plan_s, examples


def plan_in_window(
    trigger: Trigger, hourly: tuple[float, ...], quiet: QuietHours = QUIET
) -> SendPlan | None:
    return plan_send(
        earliest=trigger.at,
        latest=trigger.at + trigger.window,
        timezone=trigger.timezone,
        hourly=hourly,
        quiet=quiet,
    )


def record(
    out: Outcomes,
    plan: SendPlan,
    trigger: Trigger,
    category: str,
    u_engage: float,
    u_convert: float,
) -> None:
    c = trigger.shopper.now
    hour = c.local_hour(plan.send_at)  # the ground truth's own clock, not the plan's
    p = p_engage(c, category, "none", hour)
    out.local_hour.append(hour)
    out.hit.append(is_active_hour(c, hour))
    out.p.append(p)
    out.converted.append(u_engage < p and u_convert < CONVERT)
    out.delay_min.append((plan.send_at - trigger.at).total_seconds() / 60)
    out.deferred.append(plan.deferred)


def summarize(
    triggers: list[Trigger],
    outcomes: dict[str, Outcomes],
    plan_s: list[float],
    prior: Learned,
    args: argparse.Namespace,
) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for name, o in outcomes.items():
        n = len(o.hit)
        out[f"timing.hit_rate_{name}"] = round(sum(o.hit) / n, 4)
        out[f"timing.conversion_{name}"] = round(sum(o.converted) / n, 4)
        out[f"timing.expected_conversion_{name}"] = round(CONVERT * statistics.fmean(o.p), 4)
        out[f"timing.median_delay_min_{name}"] = round(statistics.median(o.delay_min), 1)
    for kind in ("session", "scheduled"):
        mask = [t.kind == kind for t in triggers]
        for name in ("now", "engine"):
            hits = [h for h, m in zip(outcomes[name].hit, mask, strict=True) if m]
            out[f"timing.hit_rate_{name}_{kind}"] = round(sum(hits) / max(len(hits), 1), 4)
    engine, now = outcomes["engine"], outcomes["now"]
    out.update(
        {
            "timing.conversion_lift_vs_now": round(
                sum(engine.converted) / max(sum(now.converted), 1) - 1, 4
            ),
            "timing.deferred_share_engine": round(sum(engine.deferred) / len(engine.deferred), 4),
            "timing.global_hour": best_allowed_hour(prior.hours),
            "timing.strength": args.strength,
            "timing.plan_p50_ms": round(percentile(plan_s, 50) * 1000, 4),
            "timing.plan_p99_ms": round(percentile(plan_s, 99) * 1000, 4),
            "timing.triggers": len(triggers),
            "timing.session_triggers": sum(t.kind == "session" for t in triggers),
            "timing.customers": args.customers,
            "timing.history_days": args.history_days,
        }
    )
    return out


def plot(
    triggers: list[Trigger], outcomes: dict[str, Outcomes], figures: dict[str, float | int]
) -> None:
    plt = pyplot()
    fig, (hits, conv, hours) = plt.subplots(
        1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1, 1, 2], "wspace": 0.3}
    )
    names = [*STRATEGIES, REFERENCE]
    ticks = [*STRATEGIES, "oracle\n(true hours,\nreference)"]
    colors = ["tab:grey", "tab:orange", "tab:blue", "tab:green"]
    for axis, metric, label in (
        (hits, "hit_rate", "share of sends in true active hours"),
        (conv, "conversion", "conversions per trigger"),
    ):
        values = [float(figures[f"timing.{metric}_{name}"]) for name in names]
        bars = axis.bar(ticks, values, color=colors)
        bars[-1].set_hatch("//")
        bars[-1].set_alpha(0.5)
        axis.bar_label(bars, fmt="%.3f")
        axis.set_ylabel(label)
        axis.set_ylim(0, max(values) * 1.15)
        axis.tick_params(axis="x", labelsize=8)
    # Where the triggered customers' true activity lies, as a distribution like the sends.
    active = [sum(is_active_hour(t.shopper.now, h) for t in triggers) for h in range(HOURS_PER_DAY)]
    total = sum(active)
    hours.bar(
        range(HOURS_PER_DAY),
        [a / total for a in active],
        color="tab:green",
        alpha=0.25,
        label="true active hours",
    )
    n = len(triggers)
    for name, color in zip(STRATEGIES, colors, strict=False):
        share = [outcomes[name].local_hour.count(h) / n for h in range(HOURS_PER_DAY)]
        hours.step(range(HOURS_PER_DAY), share, where="mid", color=color, label=f"sent: {name}")
    hours.axvspan(-0.5, 7.5, color="black", alpha=0.06)
    hours.axvspan(21.5, 23.5, color="black", alpha=0.06, label="quiet hours")
    hours.set_xlabel("local hour")
    hours.set_ylabel("share of triggers / of active customer-hours")
    hours.set_xticks(range(0, HOURS_PER_DAY, 2))
    hours.set_ylim(0, 0.6)
    hours.annotate(
        f"global_hour: all at {figures['timing.global_hour']}:00",
        xy=(float(figures["timing.global_hour"]), 0.58),
        xytext=(12.5, 0.55),
        fontsize=8,
        arrowprops={"arrowstyle": "->", "color": "tab:orange"},
    )
    hours.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"send-time optimization: {n} triggers, quiet hours 22-8 local")
    save_figure(fig, "timing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=21, help="browsing before day 0")
    parser.add_argument("--triggers", type=int, default=20000)
    parser.add_argument("--session-share", type=float, default=0.5)
    parser.add_argument(
        "--strength",
        type=float,
        default=30.0,
        help="prior weight in rhythm units (events): ~10 visits of ~3 views",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    triggers, prior = simulate(args)
    outcomes, plan_s, examples = evaluate(triggers, prior, args)
    figures = summarize(triggers, outcomes, plan_s, prior, args)
    figures["timing.run_s"] = round(time.perf_counter() - started, 1)
    from bench import timing_realistic  # here: it imports this module's strategies

    figures.update(timing_realistic.measure(timing_realistic.arguments().parse_args([])))
    for line in examples:
        print(line)
    for key, value in figures.items():
        print(f"{key:48s} {value}")
    if not args.no_write:
        merge_results(figures)
        plot(triggers, outcomes, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
