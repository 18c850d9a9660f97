"""The funnel (AARRR) and retention cells a customer's profile counts in (pure).

A customer belongs to one acquisition cohort (the period they were first seen in) and
one first-touch source (the referrer of their earliest page view), and in that cohort
and source counts once in every stage they reached: ``acquisition`` (always),
``activation`` (enough of the activation events), ``revenue`` (an order not wholly
returned or cancelled), ``referral`` (an invite or share), ``retention`` (active
again in a later period, within N), and ``r<k>`` for each period ``k`` (1 <= k < N)
after the cohort's they were active in again (the retention curve).

``cells`` is a function of the stored profile alone, so the worker keeps the report
exact by adding, per customer and batch, ``cells(after) - cells(before)`` and
taking away ``cells(before) - cells(after)``: a redelivered event changes no state
and so nothing; a backfilled older one that moves first seen moves the customer to
their new cohort (docs/reports.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from stream_app.profiles.cohorts import (
    ACTIVE_PERIODS,
    PERIOD,
    SOURCE_FIELD,
    Period,
    period_label,
    period_of,
    retained,
)
from stream_app.profiles.identity import is_anonymous
from stream_app.profiles.state import LedgerEntry, ProfileState, Value

#: The funnel's stages, in order.
STAGES = ("acquisition", "activation", "retention", "revenue", "referral")
Stage = Literal["acquisition", "activation", "retention", "revenue", "referral"]
#: Sources of customers with no page view, with one without a referrer, with another.
UNKNOWN, DIRECT, OTHER = "unknown", "direct", "other"


@dataclass(frozen=True, slots=True)
class FunnelRules:
    """What each stage means (the ``funnel`` settings; docs/reports.md)."""

    period: Period = PERIOD
    #: Periods of retention kept per customer (k = 1 .. retention_periods - 1).
    retention_periods: int = ACTIVE_PERIODS
    #: Activated: at least ``activation_min`` of these events, all counted together.
    activation_events: tuple[str, ...] = ("add_to_cart", "purchase")
    activation_min: int = 1
    #: Named first-touch sources (a referrer host with this label: ``www.google.com`` is
    #: ``google``); any other referrer is ``other``: the split stays bounded.
    sources: tuple[str, ...] = field(
        default=("google", "bing", "facebook", "instagram", "tiktok", "youtube", "newsletter")
    )


def source_of(host: object, sources: Sequence[str]) -> str:
    """The split a stored referrer host falls in.

    >>> source_of("www.google.co.uk", ("google",)), source_of("", ()), source_of(None, ())
    ('google', 'direct', 'unknown')
    >>> source_of("example.org", ("google",))
    'other'
    """
    if not isinstance(host, str):
        return UNKNOWN
    if not host:
        return DIRECT
    labels = host.split(".")
    return next((name for name in sources if name in labels), OTHER)


def cell(cohort: str, source: str, stage: str) -> str:
    """A counter's field: ``<cohort>|<source>|<stage>`` (stage ``r<k>``: retained in k).

    >>> parse_cell(cell("2026-W02", "google", "r3"))
    ('2026-W02', 'google', 'r3')
    """
    return f"{cohort}|{source}|{stage}"


def parse_cell(name: str) -> tuple[str, str, str]:
    """(cohort, source, stage) of a counter's field."""
    cohort, source, stage = name.split("|", 2)
    return cohort, source, stage


@dataclass(frozen=True, slots=True)
class FunnelView:
    """What ``cells`` reads of a profile, copied (the pass changes the state in place)."""

    customer_id: str
    fields: dict[str, Value]
    #: Whether an order was bought and not wholly returned or cancelled.
    revenue: bool

    @classmethod
    def of(cls, state: ProfileState) -> FunnelView:
        kept = any(_kept(entry) for entry in state.orders.values())
        return cls(state.customer_id, dict(state.fields), kept)


def cells(view: FunnelView | ProfileState, rules: FunnelRules) -> frozenset[str]:
    """Every cell the customer counts in; none for a visitor not yet known by name (they
    count from their link, with their history, as their customer).

    >>> view = FunnelView("c1", {"first_seen": 0, "n:purchase": 1, "ap": 0, "ab": 0b101}, True)
    >>> sorted(cells(view, FunnelRules()))  # doctest: +NORMALIZE_WHITESPACE
    ['1970-W01|unknown|acquisition', '1970-W01|unknown|activation',
     '1970-W01|unknown|r2', '1970-W01|unknown|retention', '1970-W01|unknown|revenue']
    """
    if isinstance(view, ProfileState):
        view = FunnelView.of(view)
    fields = view.fields
    first = fields.get("first_seen")
    if not isinstance(first, int) or is_anonymous(view.customer_id):
        return frozenset()
    start = period_of(first, rules.period)
    host = fields.get(SOURCE_FIELD)
    reached = ["acquisition"]
    done = sum(_count(fields.get(name)) for name in _counted(rules.activation_events))
    if done >= rules.activation_min:
        reached.append("activation")
    if view.revenue:
        reached.append("revenue")
    if _count(fields.get("n:referral")):
        reached.append("referral")
    again = [f"r{k}" for k in retained(fields, start, rules.retention_periods)]
    reached += ["retention", *again] if again else []
    prefix = _prefix(start, host if isinstance(host, str) else None, rules)
    return frozenset(prefix + stage for stage in reached)


@lru_cache(maxsize=4096)
def _prefix(start: int, host: str | None, rules: FunnelRules) -> str:
    """``<cohort>|<source>|`` (few distinct ones: cached, ``cells`` runs per customer)."""
    return cell(period_label(start, rules.period), source_of(host, rules.sources), "")


@lru_cache(maxsize=64)
def _counted(kinds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"n:{kind}" for kind in kinds)


def delta(before: frozenset[str], after: frozenset[str]) -> Counter[str]:
    """What the counters gain (+1) and lose (-1) when a profile's cells change.

    >>> sorted(delta(frozenset({"a", "b"}), frozenset({"b", "c"})).items())
    [('a', -1), ('c', 1)]
    """
    out: Counter[str] = Counter(dict.fromkeys(after - before, 1))
    out.subtract(dict.fromkeys(before - after, 1))
    return out


def _kept(entry: LedgerEntry) -> bool:
    """An order bought (its units known) and not wholly returned or cancelled."""
    return entry[0] >= 0 and not entry[1]


def _count(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


@dataclass(frozen=True, slots=True)
class CohortRow:
    """One cohort (and source, or all sources) of the report: its customers per stage
    and, for the heat map, those active again k periods later (k = 1, 2 ...)."""

    cohort: str
    source: str
    stages: dict[str, int]
    retained: list[int]

    def as_dict(self) -> dict[str, object]:
        return {
            "cohort": self.cohort,
            "source": self.source,
            "stages": self.stages,
            "retained": self.retained,
        }


ALL = "all"


def rows(counts: Mapping[str, int], periods: int, by_source: bool = False) -> list[CohortRow]:
    """The report's rows from the counters, cohorts in order (sources summed unless
    ``by_source``); ``retained`` has k = 1 .. ``periods`` - 1.

    >>> counts = {"2026-W02|google|acquisition": 3, "2026-W02|direct|acquisition": 2,
    ...           "2026-W02|google|r2": 1, "2026-W02|google|retention": 1}
    >>> row = rows(counts, 3)[0]
    >>> row.stages, row.retained
    ({'acquisition': 5, 'activation': 0, 'retention': 1, 'revenue': 0, 'referral': 0}, [0, 1])
    """
    table: dict[tuple[str, str], Counter[str]] = {}
    for name, n in counts.items():
        cohort, source, stage = parse_cell(name)
        key = (cohort, source if by_source else ALL)
        table.setdefault(key, Counter())[stage] += n
    out = []
    for (cohort, source), got in sorted(table.items()):
        stages = {stage: got[stage] for stage in STAGES}
        out.append(CohortRow(cohort, source, stages, [got[f"r{k}"] for k in range(1, periods)]))
    return out
