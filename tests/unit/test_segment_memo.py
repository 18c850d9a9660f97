"""Rules are given only what they read, and a memo keeps answers whose inputs did not
change: the answers must be exactly those of a full evaluation."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.clock import to_ms
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.segments.inputs import inputs_of
from stream_app.segments.rules import (
    FUNCTIONS,
    VARIABLES,
    SegmentDefinition,
    SegmentMemo,
    SegmentRules,
)
from tests.unit.fixtures import NOW

DAY = 86_400_000
RULES = SegmentRules(
    [
        SegmentDefinition("vip", 'tier == "vip"'),
        SegmentDefinition("women", 'gender == "female" && age >= 25'),
        SegmentDefinition("shoes", 'taste("shoes") >= 3.0'),
        SegmentDefinition("suv", 'searched("suv", 30)'),
        SegmentDefinition("push", '"push" in consent && consent["push"]'),
        SegmentDefinition(
            "recent", 'days_since_seen < 2.0 && now > timestamp("2020-01-01T00:00:00Z")'
        ),
    ]
)


def test_inputs_are_the_names_read_and_literal_calls() -> None:
    found = inputs_of('gender == "female" && age >= 25', VARIABLES, FUNCTIONS)
    assert (found.variables, found.calls, found.pinned) == (("age", "gender"), (), True)
    assert inputs_of("'tier' == tier", VARIABLES, FUNCTIONS).variables == ("tier",)
    assert inputs_of('brand("a\\"b") > 1.0', VARIABLES, FUNCTIONS).calls == (("brand", ('a"b',)),)


def test_the_clock_and_unknown_names_make_a_rule_always_evaluated() -> None:
    assert not inputs_of("now > timestamp('2020-01-01T00:00:00Z')", VARIABLES, FUNCTIONS).pinned
    assert not inputs_of("[1, 2].exists(x, x > orders)", VARIABLES, FUNCTIONS).pinned
    assert not inputs_of("taste(top_category) > 1.0", VARIABLES, FUNCTIONS).pinned


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["female", "male", None]),
            st.integers(1950, 2010),
            st.floats(0.0, 8.0),
            st.booleans(),
            st.integers(0, 5),
            st.integers(0, 3 * DAY),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_memoized_answers_equal_full_evaluations(
    steps: list[tuple[str | None, int, float, bool, int, int]],
) -> None:
    memo = SegmentMemo(10)
    for gender, born, shoes, push, orders, ago in steps:
        fields: dict[str, int | float | str] = {
            "n": 5,
            "first_seen": to_ms(NOW) - 400 * DAY,
            "last_seen": to_ms(NOW) - ago,
            "birth_year": str(born),
            "consent:push": "1" if push else "0",
        }
        if gender:
            fields["gender"] = gender
        if orders:
            fields |= {
                "n:purchase": orders,
                "first:purchase": to_ms(NOW) - 60 * DAY,
                "last:purchase": to_ms(NOW) - ago,
                "spend:EUR": 30_000 * orders,
            }
        state = ProfileState(
            "c-1",
            fields,
            tastes=Decayed(to_ms(NOW), {"c:shoes": shoes}),
            searches={"red suv": to_ms(NOW) - ago},
        )
        at = NOW + timedelta(milliseconds=ago)
        memoized = RULES.evaluate(derive(state, at, ValueRules()), memo)
        assert memoized == RULES.evaluate(derive(state, at, ValueRules()))


def test_the_memo_forgets_the_customer_evaluated_longest_ago() -> None:
    memo = SegmentMemo(2)
    for cid in ("a", "b", "c"):
        memo.put(cid, ((1, True),))
    assert (memo.get("a"), memo.get("c")) == (None, ((1, True),))
