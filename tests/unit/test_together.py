"""Sampled co-purchases: bounded per item, symmetric, repeatable, uniform over pairs."""

from __future__ import annotations

from collections import Counter

from stream_app.decisions.together import SAMPLED, pairs


def test_small_orders_are_counted_exactly() -> None:
    items = [f"i{n}" for n in range(SAMPLED + 1)] + ["i0"]  # a repeated line counts once
    drawn = pairs("o-1", items)
    assert len(drawn) == SAMPLED + 1
    assert all(sorted(p) == sorted(set(items) - {a}) for a, p in drawn.items())
    assert pairs("o-1", ["solo"]) == {"solo": []}


def test_large_orders_draw_a_bounded_symmetric_repeatable_sample() -> None:
    items = [f"i{n}" for n in range(500)]
    drawn = pairs("o-big", items)
    assert drawn == pairs("o-big", list(reversed(items))), "the same whatever the line order"
    assert {len(set(p)) for p in drawn.values()} == {SAMPLED}
    edges = {(a, b) for a, p in drawn.items() for b in p}
    assert all((b, a) in edges for a, b in edges), "a counts b exactly when b counts a"
    assert all(a != b for a, b in edges)
    assert pairs("o-other", items) != drawn, "each order draws its own sample"


def test_every_pair_is_drawn_with_the_same_probability() -> None:
    """Over many orders holding the same 200 items, each pair is drawn 32/199 of the time."""
    items = [f"i{n}" for n in range(200)]
    orders = 400
    drawn: Counter[tuple[str, str]] = Counter()
    for order in range(orders):
        for a, partners in pairs(f"o-{order}", items).items():
            drawn.update((a, b) for b in partners)
    rates = [drawn[a, b] / orders for a in items[:20] for b in items if a != b]
    # Each rate has a standard deviation of sqrt(p (1 - p) / 400) ~ 0.018 around p ~ 0.16.
    assert abs(sum(rates) / len(rates) - SAMPLED / 199) < 1e-9
    assert max(abs(r - SAMPLED / 199) for r in rates) < 0.1
