"""Sampled co-purchases: bounded per item, symmetric, repeatable, uniform over pairs."""

from __future__ import annotations

from collections import Counter

from stream_app.decisions.together import DRAWS_PER_ORDER, SAMPLED, drawn_per_member, pairs


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


def test_an_order_draws_at_most_what_a_500_item_order_draws() -> None:
    assert [drawn_per_member(n) for n in (1, 2, 34, 500, 501, 1000, 5000)] == [
        0,
        1,
        32,
        32,
        30,
        16,
        2,
    ]
    drawn = pairs("invoice", [f"b{n}" for n in range(5000)])
    assert len(drawn) == 5000, "every item counts"
    assert sum(len(p) for p in drawn.values()) <= DRAWS_PER_ORDER
