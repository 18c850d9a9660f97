"""Segment rules: CEL expressions (Common Expression Language, never ``eval``).

Each rule is compiled once at start-up and checked against a sample profile, so
a typo fails the worker's start, not the stream. An expression sees the
``VARIABLES`` and the ``FUNCTIONS`` (``taste``, ``brand``, ``searched``,
``viewed``). A rule is given only what it reads (``segments.inputs``), and with a
``SegmentMemo`` a rule whose inputs did not change keeps its last answer.
"""

from __future__ import annotations

import re
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import cel

from stream_app.profiles.derive import ProfileView
from stream_app.segments.inputs import Inputs, inputs_of

DAY_S = 86_400.0
DAY_MS = 86_400_000
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


#: The variables an expression can use, and how each is read from a view (unknown
#: values are -1 or empty).
VARIABLES: dict[str, Callable[[ProfileView], Any]] = {
    "now": lambda v: v.now,
    "events": lambda v: v.events,
    "sessions": lambda v: v.count_of("session_start"),
    "days_since_seen": lambda v: _days(v.now, v.last_seen),
    "orders": lambda v: v.orders,
    "recency_days": lambda v: -1.0 if v.recency_days is None else v.recency_days,
    "monetary": lambda v: v.monetary,
    "aov": lambda v: -1.0 if v.aov is None else v.aov,
    "return_rate": lambda v: -1.0 if v.wallet.return_rate is None else v.wallet.return_rate,
    "price_band": lambda v: v.price_band or "",
    "r": lambda v: v.r,
    "f": lambda v: v.f,
    "m": lambda v: v.m,
    "tier": lambda v: v.tier,
    "lifecycle": lambda v: v.lifecycle,
    "interval_days": lambda v: v.interval_days,
    "age": lambda v: -1 if v.age is None else v.age,
    "gender": lambda v: v.gender or "",
    "timezone": lambda v: v.timezone or "",
    "locale": lambda v: v.locale or "",
    "country": lambda v: v.place.get("country", ""),
    "region": lambda v: v.place.get("region", ""),
    "consent": lambda v: dict(v.consent),
    "top_category": lambda v: (v.top_categories or [""])[0],
    "cart_items": lambda v: sum(line.quantity for line in v.cart),
    "cart_value": lambda v: v.cart_value,
    "near_store": lambda v: v.context.get("near_store", ""),
    "weather": lambda v: v.context.get("weather", ""),
    "geo": lambda v: v.context.get("geo", ""),
    "sentiment": lambda v: 0.0 if v.sentiment is None else v.sentiment,
    "complaints": lambda v: len(v.complaints),
}


def activation(view: ProfileView) -> dict[str, Any]:
    """Every variable an expression can use, as of ``view``."""
    return {name: read(view) for name, read in VARIABLES.items()}


def _taste(view: ProfileView, category: str) -> float:
    return view.taste_of(f"c:{category}")


def _brand(view: ProfileView, name: str) -> float:
    return view.taste_of(f"b:{name}")


def _searched(view: ProfileView, term: str, days: float) -> bool:
    """A query within ``days`` containing ``term`` as a word ("suv" matches "rc suv")."""
    since = view.now_ms - float(days) * DAY_MS
    words = str(term).lower().split()
    return any(
        ms >= since and _has_words(query.split(), words) for query, ms in view.searches_ms.items()
    )


def _viewed(view: ProfileView, item: str, days: float) -> bool:
    ms = view.viewed_ms.get(str(item))
    return ms is not None and ms >= view.now_ms - float(days) * DAY_MS


#: The functions an expression can call, each given the view first.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "taste": _taste,
    "brand": _brand,
    "searched": _searched,
    "viewed": _viewed,
}


#: One customer's last evaluation: per rule, a hash of its inputs' values (None: not
#: kept) and its answer.
Answers = tuple[tuple[int | None, bool], ...]


class SegmentMemo:
    """Customers' last answers, so a rule whose inputs did not change is not evaluated
    again. Bounded: the customer evaluated longest ago is forgotten first."""

    def __init__(self, customers: int) -> None:
        self._size = customers
        self._entries: OrderedDict[str, Answers] = OrderedDict()

    def get(self, customer_id: str) -> Answers | None:
        found = self._entries.get(customer_id)
        if found is not None:
            self._entries.move_to_end(customer_id)
        return found

    def put(self, customer_id: str, answers: Answers) -> None:
        self._entries[customer_id] = answers
        self._entries.move_to_end(customer_id)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


class _Reads:
    """A view's variables and calls, each read once per evaluation: several rules read
    the same ones, for their memo keys and again for their CEL context."""

    __slots__ = ("_calls", "_keys", "_values", "view")

    def __init__(self, view: ProfileView) -> None:
        self.view = view
        self._values: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}
        self._calls: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def value(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = VARIABLES[name](self.view)
            return value

    def hashable(self, name: str) -> Any:
        try:
            return self._keys[name]
        except KeyError:
            value = self.value(name)
            key = self._keys[name] = frozenset(value.items()) if isinstance(value, dict) else value
            return key

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        try:
            return self._calls[name, args]
        except KeyError:
            value = self._calls[name, args] = FUNCTIONS[name](self.view, *args)
            return value


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    program: Any
    inputs: Inputs

    def key(self, reads: _Reads) -> int | None:
        """A hash of this rule's inputs as of the view read (None: always evaluate)."""
        if not self.inputs.pinned:
            return None
        values = [reads.hashable(name) for name in self.inputs.variables]
        values += [reads.call(name, args) for name, args in self.inputs.calls]
        return hash(tuple(values))


class SegmentRules:
    """Compiled segment expressions, evaluated per profile view."""

    def __init__(self, definitions: Sequence[SegmentDefinition], kind: str = "segment") -> None:
        """``kind`` names the rules in error messages (segments, campaign audiences)."""
        self.definitions = tuple(definitions)
        self._kind = kind
        self._rules: list[_Rule] = []
        for definition in self.definitions:
            try:
                program = cel.compile(definition.expression)
            except ValueError as exc:
                raise SegmentConfigError(f"{kind} {definition.name!r}: {exc}") from exc
            inputs = inputs_of(definition.expression, VARIABLES, FUNCTIONS)
            self._rules.append(_Rule(definition.name, program, inputs))
        self._check_against(_sample_view())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self._rules)

    def evaluate(
        self, view: ProfileView, memo: SegmentMemo | None = None
    ) -> tuple[set[str], list[str]]:
        """Names of the segments ``view`` is in, and the names whose rule failed on it.
        With a ``memo``, rules whose inputs are as they were last time keep their answer."""
        last = memo.get(view.customer_id) if memo is not None else None
        reads = _Reads(view)
        keys = [rule.key(reads) for rule in self._rules] if memo is not None else []
        answers: list[bool] = [False] * len(self._rules)
        todo = []
        for i in range(len(self._rules)):
            if last is not None and keys[i] is not None and last[i][0] == keys[i]:
                answers[i] = last[i][1]
            else:
                todo.append(i)
        failed: list[str] = []
        if todo:
            context = _context(reads, [self._rules[i] for i in todo])
            for i in todo:
                try:
                    answers[i] = self._rules[i].program.execute(context) is True
                except (RuntimeError, KeyError, TypeError, ValueError):
                    failed.append(self._rules[i].name)
                    if keys:
                        keys[i] = None  # a failing rule is tried again next time
        if memo is not None:
            memo.put(view.customer_id, tuple(zip(keys, answers, strict=True)))
        members = {rule.name for rule, yes in zip(self._rules, answers, strict=True) if yes}
        return members, failed

    def _check_against(self, view: ProfileView) -> None:
        context = _context(_Reads(view), self._rules)
        for rule in self._rules:
            try:
                result = rule.program.execute(context)
            except (RuntimeError, KeyError, TypeError, ValueError) as exc:
                raise SegmentConfigError(
                    f"{self._kind} {rule.name!r} fails on a sample profile: {exc}"
                ) from exc
            if not isinstance(result, bool):
                raise SegmentConfigError(f"{self._kind} {rule.name!r} is not a boolean expression")


def _context(reads: _Reads, rules: Sequence[_Rule]) -> Any:
    """What ``rules`` read, and nothing else (converting a value for CEL is most of the
    cost of an evaluation); everything when a rule's inputs are not pinned."""
    if all(rule.inputs.pinned for rule in rules):
        names = {name for rule in rules for name in rule.inputs.variables}
        called = {name for rule in rules for name, _ in rule.inputs.calls}
    else:
        names, called = set(VARIABLES), set(FUNCTIONS)
    context = cel.Context({name: reads.value(name) for name in names})
    for name in called:
        context.add_function(name, partial(FUNCTIONS[name], reads.view))
    return context


def _has_words(query: list[str], words: list[str]) -> bool:
    """Whether ``words`` occur consecutively in ``query``."""
    span = len(words)
    return any(query[i : i + span] == words for i in range(len(query) - span + 1))


def _days(now: datetime, moment: datetime | None) -> float:
    return -1.0 if moment is None else (now - moment).total_seconds() / DAY_S


def _sample_view() -> ProfileView:
    """A fully populated profile, so every variable and function resolves at load time."""
    from stream_app.profiles.derive import ValueRules, derive
    from stream_app.profiles.state import Decayed, ProfileState

    now = datetime(2026, 1, 1, tzinfo=UTC)
    stored = ProfileState(
        customer_id="sample",
        fields={"n": 1, "first_seen": 0, "last_seen": 0},
        tastes=Decayed(0, {"c:sample": 1.0}),
    )
    return derive(stored, now, ValueRules())
