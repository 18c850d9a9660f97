from __future__ import annotations

from pathlib import Path

import pytest

from stream_app.clock import to_ms
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.segments.rules import (
    SegmentConfigError,
    SegmentDefinition,
    SegmentRules,
    load_segments,
)
from tests.unit.fixtures import NOW

DAY = 86_400_000
REPO = Path(__file__).resolve().parents[2]


def view(searches: dict[str, int] | None = None, **fields: str):  # type: ignore[no-untyped-def]
    base = {"n": "5", "first_seen": str(to_ms(NOW) - 300 * DAY), "last_seen": str(to_ms(NOW))}
    stored = ProfileState(
        "c-1",
        base | fields,
        tastes=Decayed(to_ms(NOW), {"c:shoes": 4.0}),
        searches=searches or {},
    )
    return derive(stored, NOW, ValueRules())


def rules(**expressions: str) -> SegmentRules:
    return SegmentRules([SegmentDefinition(name, expr) for name, expr in expressions.items()])


def test_time_window_predicate_on_searches() -> None:
    segment = rules(suv='age >= 25 && age <= 35 && gender == "female" && searched("suv", 60)')
    recent = {"red rc suv": to_ms(NOW) - 10 * DAY}
    old = {"red rc suv": to_ms(NOW) - 61 * DAY}
    assert segment.evaluate(view(recent, birth_year="1996", gender="female"))[0] == {"suv"}
    assert segment.evaluate(view(old, birth_year="1996", gender="female"))[0] == set()
    assert segment.evaluate(view(recent, birth_year="1980", gender="female"))[0] == set()
    assert (
        segment.evaluate(view({"suvs": to_ms(NOW)}, birth_year="1996", gender="female"))[0] == set()
    )


def test_tastes_and_value_fields_are_usable() -> None:
    segment = rules(shoes='taste("shoes") >= 3.0', toys='taste("toys") > 0.0', vip='tier == "vip"')
    assert segment.evaluate(view())[0] == {"shoes"}


def test_bad_expressions_fail_at_load_not_in_the_stream() -> None:
    with pytest.raises(SegmentConfigError, match="broken"):
        rules(broken="tier == ")
    with pytest.raises(SegmentConfigError, match="unknown_field"):
        rules(unknown_field="no_such_variable > 1")
    with pytest.raises(SegmentConfigError, match="boolean"):
        rules(number="orders + 1")


def test_no_code_execution_through_expressions() -> None:
    with pytest.raises(SegmentConfigError):
        rules(evil='__import__("os").system("true")')


def test_shipped_segment_file_loads_and_compiles() -> None:
    definitions = load_segments(REPO / "config" / "segments.toml")
    assert {"vip_at_risk", "young_women_suv_search"} <= {d.name for d in definitions}
    assert SegmentRules(definitions).names


def test_missing_file_means_no_segments(tmp_path: Path) -> None:
    assert load_segments(tmp_path / "absent.toml") == []
    assert load_segments(None) == []
