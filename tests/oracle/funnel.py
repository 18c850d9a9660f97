"""The funnel and cohort report, recomputed from raw events in plain Python (docs/reports.md):
what ``storage.funnel``'s counters must hold, computed without the fold, the profile or
``decisions.funnel``; and the profile fields the funnel reads (``src``, ``ap``, ``ab``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from stream_app.events.clickstream import ClickEvent, PageView
from stream_app.events.feedback import Clicked, Opened
from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event
from stream_app.events.returns import OrderReversal
from stream_app.settings import Settings

#: A Monday: ISO weeks are counted from it (1969-12-29, the Monday before the epoch).
_MONDAY = date(1969, 12, 29)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def period_index(ms: int, period: str) -> int:
    """Days, weeks (from Monday) or months since the epoch, by the calendar."""
    day = _day(ms)
    if period == "day":
        return (day - date(1970, 1, 1)).days
    if period == "week":
        return (day - _MONDAY).days // 7
    return (day.year - 1970) * 12 + day.month - 1


def period_name(ms: int, period: str) -> str:
    day = _day(ms)
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def host(referrer: str | None) -> str:
    return (urlsplit(referrer).hostname or "") if referrer else ""


def active_fields(periods: Iterable[int], keep: int) -> dict[str, int]:
    """``ap`` and ``ab`` for a customer active in ``periods``."""
    periods = set(periods)
    if not periods:
        return {}
    start = min(periods)
    return {"ap": start, "ab": sum(1 << (p - start) for p in periods if p - start < keep)}


def first_touch(pages: Iterable[tuple[int, str]]) -> dict[str, int | str]:
    """``src`` from (time, host) of page views: the earliest, then the greatest (its ``@src``
    stamp is not compared)."""
    pages = list(pages)
    if not pages:
        return {}
    _, name = max(pages, key=lambda page: (-page[0], page[1]))
    return {"src": name}


def is_active(event: Event) -> bool:
    return isinstance(event, ClickEvent | Purchase | Opened | Clicked)


@dataclass(slots=True)
class _Customer:
    first: int | None = None
    pages: list[tuple[int, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bought: set[str] = field(default_factory=set)
    undone: set[str] = field(default_factory=set)
    active: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Definitions:
    """The stages as configured (``STREAM_APP_FUNNEL__*``)."""

    period: str
    periods: int
    activation_events: tuple[str, ...]
    activation_min: int
    sources: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Definitions:
        f = settings.funnel
        return cls(f.period, f.retention_periods, f.activation_events, f.activation_min, f.sources)


def expected_counts(events: Iterable[tuple[str, Event]], rules: Definitions) -> dict[str, int]:
    """The counters for (customer, event) pairs, each event once (ids deduplicated here)."""
    customers: dict[str, _Customer] = defaultdict(_Customer)
    seen: set[str] = set()
    for customer, event in events:
        key = f"return/{event.return_id}" if isinstance(event, OrderReversal) else event.event_id
        if key in seen:
            continue
        seen.add(key)
        ms = int(event.event_time.timestamp() * 1000)
        c = customers[customer]
        c.first = ms if c.first is None else min(c.first, ms)
        c.counts[event.type] += 1
        if isinstance(event, PageView):
            c.pages.append((ms, host(event.referrer)))
        if isinstance(event, Purchase):
            c.bought.add(event.order_id)
        if isinstance(event, OrderReversal) and (
            event.type == "cancellation" or (event.type != "refund" and event.items is None)
        ):
            c.undone.add(event.order_id)
        if is_active(event):
            c.active.add(period_index(ms, rules.period))
    out: dict[str, int] = defaultdict(int)
    for c in customers.values():
        for stage in _stages(c, rules):
            out[stage] += 1
    return dict(out)


def _stages(c: _Customer, rules: Definitions) -> list[str]:
    assert c.first is not None
    touch = first_touch(c.pages)
    source = _source(str(touch["src"]) if touch else None, rules.sources)
    prefix = f"{period_name(c.first, rules.period)}|{source}|"
    stages = ["acquisition"]
    if sum(c.counts[kind] for kind in rules.activation_events) >= rules.activation_min:
        stages.append("activation")
    if c.bought - c.undone:
        stages.append("revenue")
    if c.counts["referral"]:
        stages.append("referral")
    start = period_index(c.first, rules.period)
    again = [k for k in range(1, rules.periods) if start + k in c.active]
    if again:
        stages.append("retention")
    stages += [f"r{k}" for k in again]
    return [prefix + stage for stage in stages]


def _source(name: str | None, sources: tuple[str, ...]) -> str:
    if name is None:
        return "unknown"
    if not name:
        return "direct"
    for source in sources:
        if source in name.split("."):
            return source
    return "other"


def exact_fraction(want: Mapping[str, int], got: Mapping[str, int]) -> float:
    """The fraction of cells (non-zero on either side) whose counts are equal."""
    names = {n for n, v in want.items() if v} | {n for n, v in got.items() if v}
    if not names:
        return 1.0
    return sum(want.get(n, 0) == got.get(n, 0) for n in names) / len(names)
