"""The stats hash's field grammar (``Keys.stats``; docs/redis-keys.md, "Stats counters"):
what each count adds to, and back. Beside ``layout``, which holds the keys."""

from __future__ import annotations

from collections import Counter

from stream_app.counts import (
    Conversion,
    Counts,
    DecisionCount,
    DecisionOutcome,
    EventsIn,
    Key,
    Labelled,
    Plain,
)


def stat_names(key: Key) -> tuple[str, ...]:
    """The stats hash fields (``Keys.stats``) a count adds to (docs/redis-keys.md, "Stats
    counters"): ``<name>`` and ``<name>:<label>...``.

    >>> stat_names(DecisionCount("cart", "suppressed", "cap_day"))
    ('decisions_suppressed:cap_day', 'decisions_suppressed:cart:cap_day')
    >>> stat_names(DecisionCount("cart", "emitted", "push"))
    ('decisions_emitted', 'decisions_emitted:cart', 'decisions_emitted:cart:push')
    >>> [parse_stat_name(n) for n in stat_names(Labelled("dead_letters", "oversized"))]
    [('dead_letters', ('oversized',))]
    """
    match key:
        case Plain(name):
            return (name,)
        case Labelled(name, label):
            return (stat_name(name, label),)
        case EventsIn(stream, kind):
            return (stat_name("events_in", stream), stat_name("events_type", stream, kind))
        case Conversion(campaign, arm):
            return (stat_name("conversions", campaign, arm),)
        case DecisionCount(campaign, outcome, detail):
            return _decided_names(campaign, outcome, detail)
    raise TypeError(f"not a count key: {key!r}")


def stat_name(name: str, *labels: str) -> str:
    """One stats hash field: a counter's name and its labels, colon-joined.

    >>> stat_name("decisions_emitted", "cart", "push")
    'decisions_emitted:cart:push'
    >>> parse_stat_name(stat_name("decisions_emitted", "cart", "push"))
    ('decisions_emitted', ('cart', 'push'))
    """
    return ":".join((name, *labels))


def parse_stat_name(field: str) -> tuple[str, tuple[str, ...]]:
    """(name, labels) of a stats hash field."""
    name, *labels = field.split(":")
    return name, tuple(labels)


def _decided_names(campaign: str, outcome: DecisionOutcome, detail: str) -> tuple[str, ...]:
    name = f"decisions_{outcome}"
    if outcome in ("suppressed", "cancelled"):
        return (stat_name(name, detail), stat_name(name, campaign, detail))
    if outcome == "emitted":
        return (name, stat_name(name, campaign), stat_name(name, campaign, detail))
    if outcome in ("skipped_audience",):
        return (stat_name(name, campaign),)
    if outcome == "holdout_planned":
        return (name,)
    return (name, stat_name(name, campaign))


def as_stats(counts: Counts) -> Counter[str]:
    """``counts`` as stats hash increments."""
    out: Counter[str] = Counter()
    for key, n in counts.items():
        if n:
            for name in stat_names(key):
                out[name] += n
    return out
