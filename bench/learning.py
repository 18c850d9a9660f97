"""Learning benchmark: does the online engagement model follow a known change of tastes?

Offline and seeded (no servers, ~30 s). Simulated customers browse and buy over
``--history-days`` + ``--days`` of simulated time; their profiles are built from
that behaviour (decayed tastes, rhythm, orders, last visit: the same
``ProfileState`` the worker keeps, turned into a view by ``derive``). From day 0
on, every simulated hour ``--candidates-per-hour`` customers get a message
candidate, sent in the next hour (after the visits their profile holds): the
bandit picks its category, the offer and channel are random, and three models
score it from ``featurize``:

(a) ``online``: ``AdaptiveEngagement``, learning from every label;
(b) ``frozen``: a copy of (a) taken at the shift, never learning again;
(c) ``popularity``: the category's cumulative click rate so far.

The outcome is drawn from the ground truth (``simulation.engagement``), then the
online model, the bandit and the popularity counts learn it, and a click feeds
the profile like a product view. At ``--shift-day`` the world changes, in two
ways (``TasteShift``):

* fashion moves, for everyone: the categories in fashion (``--fashion-boost``
  times the appeal) are others from then on. No profile holds fashion; only a
  model that keeps learning from feedback can see it move;
* ``--share`` of the customers swap their favourite categories for the new
  fashion and move their active hours by 12 hours. Their profiles follow as they
  browse, at the tastes' 7-day and the rhythm's 28-day half-life, the same for
  every model.

Recovery: feedback events after the shift until the online model's rolling AUC
over ``--window`` labels, all after the shift, is back at 90% of its AUC over
the day before the shift; the frozen model's count is printed alongside.

Workers sharing the model (``bench.sharing``): the same candidates and labels are
also scored by one worker and by two workers the way the product shares its
model (scoring with the latest snapshot they loaded, one learner getting
everybody's labels), and by two workers of the release before (each learning
its own customers' labels). The snapshot intervals are the product's settings,
scaled to ``--labels-per-s`` labels a second. Content is the online bandit's
for all, so they are compared on exactly the same examples (the bandit's own
snapshot lag is not measured).

    python -m bench.learning [--customers 2000 --days 14 --shift-day 7 --share 0.3]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from scipy.stats import rankdata

from bench.common import merge_results, pyplot, save_figure
from bench.sharing import Fleet
from stream_app.clock import to_ms, zone
from stream_app.metrics.quantiles import percentile
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.features import Candidate, featurize
from stream_app.model.quality import ProgressiveValidation, RollingRate
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.presence import mark_presence
from stream_app.profiles.rhythm import local_hour_of_week
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.settings.decisions import ModelSettings
from stream_app.simulation.activity import ActiveSession
from stream_app.simulation.catalog import CATEGORIES
from stream_app.simulation.engagement import OFFER_UPLIFT, TasteShift, is_active_hour, p_engage
from stream_app.simulation.population import Customer, make_population

START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday; fixed so runs repeat exactly
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
RULES = ValueRules()
TASTE_H = RULES.taste_half_life.total_seconds() * 1000
RHYTHM_H = RULES.rhythm_half_life.total_seconds() * 1000
CATEGORY_NAMES = [spec.name for spec in CATEGORIES]
OFFERS = sorted(OFFER_UPLIFT)
WEATHER = ("clear", "clouds", "rain")


@dataclass(slots=True)
class SimulatedProfile:
    """One simulated customer's stored aggregates, as the worker would keep them.

    Decayed sums are stored relative to a fixed reference (``START``), as in
    docs/profile.md: ``stored = sum(w * 2^((t - ref) / H))``.
    """

    customer_id: str
    timezone: str
    fields: dict[str, str] = field(default_factory=dict)
    tastes: dict[str, float] = field(default_factory=dict)
    rhythm: dict[str, float] = field(default_factory=dict)
    n: int = 0
    orders: int = 0
    value: float = 0.0
    delivered: int = 0
    clicked: int = 0
    #: ``profiles.presence`` fields, as the worker marks them.
    presence: dict[str, int | float | str] = field(default_factory=dict)

    def touch(self, ms: int, events: int) -> None:
        self.n += events
        mark_presence(self.presence, ms)
        self.fields.setdefault("first_seen", str(ms))
        self.fields["last_seen"] = str(ms)
        key = str(local_hour_of_week(ms, zone(self.timezone)))  # binned local, as the worker
        self.rhythm[key] = self.rhythm.get(key, 0.0) + events * 2.0 ** ((ms - REF_MS) / RHYTHM_H)

    def taste(self, ms: int, category: str, weight: float) -> None:
        key = f"c:{category}"
        self.tastes[key] = self.tastes.get(key, 0.0) + weight * 2.0 ** ((ms - REF_MS) / TASTE_H)

    def purchase(self, ms: int, category: str, total: float) -> None:
        self.orders += 1
        self.value += total
        self.fields.setdefault("first:purchase", str(ms))
        self.fields["last:purchase"] = str(ms)
        self.taste(ms, category, 5.0)
        self.touch(ms, 1)

    def stored(self) -> ProfileState:
        fields: dict[str, int | float | str] = {**self.fields, **self.presence}
        fields.update(
            n=str(self.n),
            timezone=self.timezone,
            **{
                "n:purchase": str(self.orders),
                "spend:EUR": str(round(self.value * 100)),  # minor units (cents)
                "n:delivered": str(self.delivered),
                "n:clicked": str(self.clicked),
            },
        )
        return ProfileState(
            self.customer_id,
            fields,
            tastes=Decayed(REF_MS, self.tastes),
            rhythm=Decayed(REF_MS, self.rhythm),
        )


REF_MS = to_ms(START)


@dataclass(slots=True)
class Shopper:
    """A customer, their zone offset, their (maybe shifted) self and their profile."""

    base: Customer
    now: Customer
    offset_h: int
    cum_weights: list[float]
    profile: SimulatedProfile

    def become(self, customer: Customer) -> None:
        self.now = customer
        self.cum_weights = list(itertools.accumulate(w for _, w in customer.tastes))

    def pick_category(self, rng: random.Random) -> str:
        index = bisect.bisect(self.cum_weights, rng.random() * self.cum_weights[-1])
        return self.now.tastes[min(index, len(self.now.tastes) - 1)][0]

    def local_hour(self, ms: int) -> int:
        return (ms // HOUR_MS + self.offset_h) % 24


def browse(shopper: Shopper, ms: int, rng: random.Random) -> None:
    """Maybe a visit in this hour: a few product views in liked categories, sometimes an order
    (the clean mode; ``replay`` plays the realistic mode's drawn sessions instead)."""
    active = is_active_hour(shopper.now, shopper.local_hour(ms))
    if rng.random() >= min(0.9, 0.04 * shopper.now.activity * (5.0 if active else 1.0)):
        return
    at = ms + rng.randrange(HOUR_MS)
    views = rng.randint(1, 5)
    for _ in range(views):
        shopper.profile.taste(at, shopper.pick_category(rng), 1.0)
    shopper.profile.touch(at, views)
    if rng.random() < 0.08:
        shopper.profile.purchase(at, shopper.pick_category(rng), rng.uniform(15, 250))


def replay(
    shopper: Shopper, truth: Sequence[ActiveSession], start_ms: int, end_ms: int, rng: random.Random
) -> None:
    """Every event of ``truth`` (the realistic mode's sessions, ascending) in
    ``[start_ms, end_ms)`` into the profile, as the worker would have applied it by
    ``end_ms``: a view in a liked category each, sometimes an order at a session's end."""
    for session in truth:
        if to_ms(session.end) < start_ms:
            continue
        if to_ms(session.start) >= end_ms:
            break
        for event in session.events:
            at = to_ms(event)
            if start_ms <= at < end_ms:
                shopper.profile.taste(at, shopper.pick_category(rng), 1.0)
                shopper.profile.touch(at, 1)
        end = to_ms(session.end)
        if start_ms <= end < end_ms and rng.random() < 0.08:
            shopper.profile.purchase(end, shopper.pick_category(rng), rng.uniform(15, 250))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC AUC (Mann-Whitney, ties averaged)."""
    pos = int(labels.sum())
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


@dataclass(slots=True)
class Trace:
    """Per label: when, what each model said, what happened, what random content would get."""

    ms: list[int] = field(default_factory=list)
    online: list[float] = field(default_factory=list)
    frozen: list[float] = field(default_factory=list)
    popularity: list[float] = field(default_factory=list)
    label: list[bool] = field(default_factory=list)
    uniform: list[float] = field(default_factory=list)
    chosen: list[float] = field(default_factory=list)
    score_s: list[float] = field(default_factory=list)
    curve_day: list[float] = field(default_factory=list)
    curve: dict[str, list[float]] = field(default_factory=dict)
    #: Per label: what each way of sharing the model among workers scored.
    shared: dict[str, list[float]] = field(default_factory=dict)


#: Workers sharing the model, the product's way and the release before's (``Fleet``).
SHARING = {"one_worker": (1, False), "two_workers": (2, False), "split_workers": (2, True)}


def snapshot_lag_ms(args: argparse.Namespace) -> tuple[int, int]:
    """The product's publish and refresh intervals in simulated ms: as many labels as
    ``--labels-per-s`` would bring in that time."""
    model = ModelSettings()
    ms_per_label = HOUR_MS / args.candidates_per_hour
    return tuple(  # type: ignore[return-value]
        max(1, round(interval * args.labels_per_s * ms_per_label))
        for interval in (model.checkpoint_interval_s, model.refresh_interval_s)
    )


def fleets(args: argparse.Namespace, model: AdaptiveEngagement) -> dict[str, Fleet]:
    publish_ms, refresh_ms = snapshot_lag_ms(args)
    return {
        name: Fleet(
            model,
            workers=workers,
            publish_ms=publish_ms,
            refresh_ms=refresh_ms,
            start_ms=to_ms(START),
            split=split,
        )
        for name, (workers, split) in SHARING.items()
    }


def run(args: argparse.Namespace) -> tuple[Trace, AdaptiveEngagement, int, dict[str, Fleet]]:
    rng = random.Random(f"learning:{args.seed}")
    population = make_population(args.customers, args.seed)
    shift_at = START + timedelta(days=args.shift_day)
    shift = TasteShift(
        at=shift_at, share=args.share, seed=args.seed, fashion_boost=args.fashion_boost
    )
    shoppers = []
    for c in population:
        offset = ZoneInfo(c.timezone).utcoffset(START) or timedelta(0)
        profile = SimulatedProfile(c.customer_id, c.timezone)
        shopper = Shopper(c, c, int(offset.total_seconds() // 3600), [], profile)
        shopper.become(c)
        shoppers.append(shopper)
    online = AdaptiveEngagement(compare_window=args.compare_window)
    frozen: AdaptiveEngagement | None = None
    sharing = fleets(args, online)
    bandit = ContentBandit(discount=args.bandit_discount, seed=args.seed)
    sends = dict.fromkeys(CATEGORY_NAMES, 0)
    clicks = dict.fromkeys(CATEGORY_NAMES, 0)
    trace = Trace()
    trace.shared.update({name: [] for name in sharing})
    rolling = {
        name: ProgressiveValidation(args.window) for name in ("online", "frozen", "popularity")
    }
    reward = RollingRate(args.window)
    uniform = RollingRate(args.window)
    for name in (*rolling, "bandit_reward", "uniform_reward"):
        trace.curve[name] = []
    weather: dict[str, str] = {}
    start_ms = to_ms(START)
    shift_ms = to_ms(shift_at)
    for hour in range(-args.history_days * 24, args.days * 24):
        ms = start_ms + hour * HOUR_MS
        if ms == shift_ms:
            for shopper in shoppers:
                if shift.affects(shopper.base):
                    shopper.become(shift.shifted(shopper.base))
        if hour % 24 == 0:
            weather = {s.base.customer_id: rng.choice(WEATHER) for s in shoppers}
        for shopper in shoppers:
            browse(shopper, ms, rng)
        if hour < 0:
            continue
        for k, shopper in enumerate(rng.sample(shoppers, args.candidates_per_hour)):
            send_ms = ms + HOUR_MS + rng.randrange(HOUR_MS)  # after this hour's visits
            decided_ms = ms + k * HOUR_MS // args.candidates_per_hour  # in order: the fleets' clock
            cid = shopper.base.customer_id
            now = START + timedelta(milliseconds=send_ms - start_ms)
            shopper.profile.fields["weather"] = weather[shopper.base.customer_id]
            view = derive(shopper.profile.stored(), now, RULES)
            top = view.top_categories[0] if view.top_categories else "none"
            context = f"{view.tier}|{top}"
            category, _ = bandit.choose(context, CATEGORY_NAMES)
            candidate = Candidate(
                "learning", rng.choice(("push", "email")), category, rng.choice(OFFERS), now
            )
            started = time.perf_counter()
            x = featurize(view, candidate)
            p_online = online.score(x)
            trace.score_s.append(time.perf_counter() - started)
            for name, fleet in sharing.items():
                trace.shared[name].append(fleet.score(cid, x, decided_ms))
            p_frozen = frozen.score(x) if frozen is not None else p_online
            p_pop = (clicks[category] + 1) / (sends[category] + 2)
            local_hour = shopper.local_hour(send_ms)
            truth = p_engage(
                shopper.now, category, candidate.offer, local_hour, shift.appeal(category, now)
            )
            y = rng.random() < truth
            mean_truth = sum(
                p_engage(shopper.now, name, candidate.offer, local_hour, shift.appeal(name, now))
                for name in CATEGORY_NAMES
            ) / len(CATEGORY_NAMES)
            online.learn(x, y)
            for fleet in sharing.values():
                fleet.learn(cid, x, y, decided_ms)
            shopper.profile.delivered += 1
            shopper.profile.clicked += int(y)
            bandit.update(context, category, float(y))
            sends[category] += 1
            clicks[category] += int(y)
            if y:
                shopper.profile.taste(send_ms, category, 1.0)
                shopper.profile.touch(send_ms, 1)
            for name, p in (("online", p_online), ("frozen", p_frozen), ("popularity", p_pop)):
                rolling[name].update(p, y)
            reward.update(truth)
            uniform.update(mean_truth)
            trace.ms.append(send_ms)
            trace.online.append(p_online)
            trace.frozen.append(p_frozen)
            trace.popularity.append(p_pop)
            trace.label.append(y)
            trace.uniform.append(mean_truth)
            trace.chosen.append(truth)
            if len(trace.label) % args.curve_every == 0:
                trace.curve_day.append((send_ms - start_ms) / DAY_MS)
                for name, pv in rolling.items():
                    trace.curve[name].append(pv.auc)
                trace.curve["bandit_reward"].append(reward.value)
                trace.curve["uniform_reward"].append(uniform.value)
        if ms + HOUR_MS == shift_ms:
            frozen = AdaptiveEngagement.from_bytes(online.to_bytes())
    return trace, online, shift_ms, sharing


def after_shift_curve(
    scores: np.ndarray, labels: np.ndarray, after: int, window: int
) -> list[float]:
    """Rolling AUC over the last ``window`` labels, all of them after the shift: item ``i``
    covers post-shift labels ``i .. i + window - 1`` (so the first needs ``window`` labels)."""
    pv = ProgressiveValidation(window)
    curve = []
    for k in range(after, len(labels)):
        pv.update(float(scores[k]), bool(labels[k]))
        if k + 1 - after >= window:
            curve.append(pv.auc)
    return curve


def recovery(curve: list[float], target: float, window: int) -> int | None:
    """Feedback events after the shift until the rolling AUC is back at ``target`` (None:
    never). Counted from the shift, so it includes the ``window`` labels the first
    post-shift AUC needs: a model cannot be judged on less."""
    for index, value in enumerate(curve):
        if value >= target:
            return index + window
    return None


def summarize(
    trace: Trace, online: AdaptiveEngagement, shift_ms: int, args: argparse.Namespace
) -> dict[str, float | int | str | None]:
    ms = np.array(trace.ms)
    y = np.array(trace.label, dtype=bool)
    models = {name: np.array(getattr(trace, name)) for name in ("online", "frozen", "popularity")}
    after = int(np.searchsorted(ms, shift_ms))
    last_day = ms >= shift_ms - DAY_MS
    before_mask = last_day & (ms < shift_ms)
    after_mask = ms >= shift_ms
    final_day = ms >= ms[-1] - DAY_MS
    out: dict[str, float | int | str | None] = {}
    for name, scores in models.items():
        out[f"learning.{name}_auc_before"] = round(auc(scores[before_mask], y[before_mask]), 4)
        out[f"learning.{name}_auc_after"] = round(auc(scores[after_mask], y[after_mask]), 4)
        out[f"learning.{name}_auc_final_day"] = round(auc(scores[final_day], y[final_day]), 4)
    pre = float(out["learning.online_auc_before"] or 0.0)
    target = 0.9 * pre
    for name in ("online", "frozen"):
        curve = after_shift_curve(models[name], y, after, args.window)
        key = "recovery_feedback_events" if name == "online" else "frozen_recovery_feedback_events"
        out[f"learning.{key}"] = recovery(curve, target, args.window)
        out[f"learning.{name}_auc_after_worst"] = round(min(curve), 4)
        out[f"learning.{name}_auc_after_best"] = round(max(curve), 4)
    chosen = np.array(trace.chosen)
    uniform = np.array(trace.uniform)
    out.update(
        {
            "learning.recovery_target_auc": round(target, 4),
            "learning.bandit_reward_rate_before": round(float(chosen[:after].mean()), 4),
            "learning.bandit_reward_rate_after": round(float(chosen[after:].mean()), 4),
            "learning.uniform_reward_rate_before": round(float(uniform[:after].mean()), 4),
            "learning.uniform_reward_rate_after": round(float(uniform[after:].mean()), 4),
            "learning.drift_detections": online.drifts,
            "learning.challenger_swaps": online.swaps,
            "learning.challengers_dropped": online.dropped,
            "learning.labels": len(y),
            "learning.labels_after_shift": len(y) - after,
            "learning.positive_rate": round(float(y.mean()), 4),
            "learning.score_p50_ms": round(percentile(trace.score_s, 50) * 1000, 4),
            "learning.score_p99_ms": round(percentile(trace.score_s, 99) * 1000, 4),
            "learning.customers": args.customers,
            "learning.days": args.days,
            "learning.shift_day": args.shift_day,
            "learning.shift_share": args.share,
            "learning.model_version": online.version,
        }
    )
    return out


def shared_figures(
    trace: Trace, sharing: dict[str, Fleet], shift_ms: int, args: argparse.Namespace
) -> dict[str, float | int | str | None]:
    """Post-shift AUC of each way of sharing the model, and one worker's minus two's."""
    after = np.array(trace.ms) >= shift_ms
    y = np.array(trace.label, dtype=bool)[after]
    aucs = {name: auc(np.array(scores)[after], y) for name, scores in trace.shared.items()}
    out: dict[str, float | int | str | None] = {
        f"learning.{name}_auc_after": round(value, 4) for name, value in aucs.items()
    }
    gap = abs(aucs["one_worker"] - aucs["two_workers"])
    publish_ms, refresh_ms = snapshot_lag_ms(args)
    out.update(
        {
            "learning.two_workers_auc_gap": round(gap, 4),
            "learning.sharing_labels_per_s": args.labels_per_s,
            "learning.snapshot_lag_labels": round(
                (publish_ms + refresh_ms) * args.candidates_per_hour / HOUR_MS
            ),
            "learning.two_workers_snapshot_loads": sharing["two_workers"].loads,
            "learning.two_workers_model_version": sharing["two_workers"].trainers[0].version,
        }
    )
    return out


def plot(trace: Trace, target: float, args: argparse.Namespace) -> None:
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name, style in (("online", "-"), ("frozen", "--"), ("popularity", ":")):
        top.plot(trace.curve_day, trace.curve[name], style, label=name)
    top.axhline(target, color="tab:green", linewidth=1, linestyle="-.", label="90% of before")
    top.set_ylabel(f"rolling ROC AUC ({args.window} labels)")
    top.legend(loc="lower left")
    bottom.plot(trace.curve_day, trace.curve["bandit_reward"], label="bandit (expected reward)")
    bottom.plot(
        trace.curve_day, trace.curve["uniform_reward"], "--", label="uniform random content"
    )
    bottom.set_ylabel(f"reward rate ({args.window} sends)")
    bottom.set_xlabel("simulated day")
    bottom.legend(loc="lower left")
    for axis in (top, bottom):
        axis.axvline(args.shift_day, color="grey", linewidth=1)
        axis.grid(alpha=0.3)
    share = f"{args.share:.0%}"
    top.set_title(f"day {args.shift_day}: fashion moves; {share} of customers change tastes, hours")
    save_figure(fig, "learning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=14, help="browsing before day 0")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--shift-day", type=int, default=7)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument(
        "--fashion-boost", type=float, default=2.5, help="appeal of categories in fashion"
    )
    parser.add_argument("--candidates-per-hour", type=int, default=200)
    parser.add_argument("--window", type=int, default=2000, help="rolling AUC / reward, labels")
    parser.add_argument("--compare-window", type=int, default=500, help="challenger vs champion")
    parser.add_argument("--bandit-discount", type=float, default=0.999)
    parser.add_argument("--curve-every", type=int, default=200, help="labels per plot point")
    parser.add_argument(
        "--labels-per-s",
        type=float,
        default=100.0,
        help="production label rate the snapshot intervals are scaled to (workers sharing)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    trace, online, shift_ms, sharing = run(args)
    figures = summarize(trace, online, shift_ms, args)
    figures.update(shared_figures(trace, sharing, shift_ms, args))
    figures["learning.run_s"] = round(time.perf_counter() - started, 1)
    for key, value in figures.items():
        print(f"{key:48s} {value}")
    if not args.no_write:
        merge_results(figures)
        plot(trace, float(figures["learning.recovery_target_auc"] or 0.0), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
