"""Segment rules: CEL expressions (Common Expression Language, never ``eval``).

Each rule is compiled once at start-up and checked against a sample profile, so
a typo fails the worker's start, not the stream. An expression sees the
variables listed in ``activation`` and the functions ``taste``, ``brand``,
``searched`` and ``viewed``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cel

from stream_app.profiles.derive import ProfileView

DAY_S = 86_400.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    name: str
    expression: str
    description: str = ""


class SegmentConfigError(ValueError):
    """A segment file or expression that cannot be used."""


def load_segments(path: Path | None) -> list[SegmentDefinition]:
    """Segment definitions from a TOML file (``[[segments]]`` tables); none without a file."""
    if path is None or not path.is_file():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    definitions = [SegmentDefinition(**entry) for entry in data.get("segments", [])]
    names = [d.name for d in definitions]
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad:
        raise SegmentConfigError(f"segment names must be identifiers like 'vip_at_risk': {bad}")
    if len(set(names)) != len(names):
        raise SegmentConfigError(f"duplicate segment names in {path}")
    return definitions


def activation(view: ProfileView) -> dict[str, Any]:
    """The variables an expression can use (unknown values are -1 or empty)."""
    now = view.now
    return {
        "now": now,
        "events": view.events,
        "sessions": view.counts.get("session_start", 0),
        "days_since_seen": _days(now, view.last_seen),
        "orders": view.orders,
        "recency_days": -1.0 if view.recency_days is None else view.recency_days,
        "monetary": view.monetary,
        "aov": -1.0 if view.aov is None else view.aov,
        "price_band": view.price_band or "",
        "r": view.r,
        "f": view.f,
        "m": view.m,
        "tier": view.tier,
        "lifecycle": view.lifecycle,
        "interval_days": view.interval_days,
        "age": -1 if view.age is None else view.age,
        "gender": view.gender or "",
        "timezone": view.timezone or "",
        "locale": view.locale or "",
        "consent": dict(view.consent),
        "top_category": (view.top_categories or [""])[0],
        "cart_items": sum(line.quantity for line in view.cart),
        "cart_value": view.cart_value,
        "near_store": view.context.get("near_store", ""),
        "weather": view.context.get("weather", ""),
        "geo": view.context.get("geo", ""),
    }


class SegmentRules:
    """Compiled segment expressions, evaluated per profile view."""

    def __init__(self, definitions: Sequence[SegmentDefinition], kind: str = "segment") -> None:
        """``kind`` names the rules in error messages (segments, campaign audiences)."""
        self.definitions = tuple(definitions)
        self._kind = kind
        self._programs: list[tuple[str, Any]] = []
        for definition in self.definitions:
            try:
                self._programs.append((definition.name, cel.compile(definition.expression)))
            except ValueError as exc:
                raise SegmentConfigError(f"{kind} {definition.name!r}: {exc}") from exc
        self._check_against(_sample_view())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._programs)

    def evaluate(self, view: ProfileView) -> tuple[set[str], list[str]]:
        """Names of the segments ``view`` is in, and the names whose rule failed on it."""
        context = _context(view)
        members: set[str] = set()
        failed: list[str] = []
        for name, program in self._programs:
            try:
                if program.execute(context) is True:
                    members.add(name)
            except (RuntimeError, KeyError, TypeError, ValueError):
                failed.append(name)
        return members, failed

    def _check_against(self, view: ProfileView) -> None:
        context = _context(view)
        for name, program in self._programs:
            try:
                result = program.execute(context)
            except (RuntimeError, KeyError, TypeError, ValueError) as exc:
                raise SegmentConfigError(
                    f"{self._kind} {name!r} fails on a sample profile: {exc}"
                ) from exc
            if not isinstance(result, bool):
                raise SegmentConfigError(f"{self._kind} {name!r} is not a boolean expression")


def _context(view: ProfileView) -> Any:
    context = cel.Context(activation(view))
    for name, function in _functions(view).items():
        context.add_function(name, function)
    return context


def _functions(view: ProfileView) -> Mapping[str, Callable[..., Any]]:
    now = view.now

    def recent(moment: datetime, days: float) -> bool:
        return (now - moment).total_seconds() <= float(days) * DAY_S

    def searched(term: str, days: float) -> bool:
        """A recent query containing ``term`` as a word ("suv" matches "rc suv")."""
        words = str(term).lower().split()
        return any(
            recent(moment, days) and _has_words(query.split(), words)
            for query, moment in view.searches.items()
        )

    def viewed(item: str, days: float) -> bool:
        moment = view.viewed.get(str(item))
        return moment is not None and recent(moment, days)

    return {
        "taste": lambda category: view.tastes.get(f"c:{category}", 0.0),
        "brand": lambda name: view.tastes.get(f"b:{name}", 0.0),
        "searched": searched,
        "viewed": viewed,
    }


def _has_words(query: list[str], words: list[str]) -> bool:
    """Whether ``words`` occur consecutively in ``query``."""
    span = len(words)
    return any(query[i : i + span] == words for i in range(len(query) - span + 1))


def _days(now: datetime, moment: datetime | None) -> float:
    return -1.0 if moment is None else (now - moment).total_seconds() / DAY_S


def _sample_view() -> ProfileView:
    """A fully populated profile, so every variable and function resolves at load time."""
    from stream_app.profiles.derive import DecayedSums, StoredProfile, ValueRules, derive

    now = datetime(2026, 1, 1, tzinfo=UTC)
    stored = StoredProfile(
        customer_id="sample",
        fields={"n": "1", "first_seen": "0", "last_seen": "0"},
        tastes=DecayedSums(0, {"c:sample": 1.0}),
    )
    return derive(stored, now, ValueRules())
