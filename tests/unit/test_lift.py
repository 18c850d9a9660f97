from __future__ import annotations

import json
import math
import random

import pytest

from stream_app.decisions.lift import (
    Arm,
    Estimate,
    Stratum,
    campaign_lift,
    difference,
    render,
    strata_of,
    stratified,
    wilson,
)

# Newcombe RG (1998), "Interval estimation for the difference between independent
# proportions: comparison of eleven methods", Stat Med 17:873-890, Table II, method 10
# (hybrid score interval, no continuity correction). The paper uses z = 1.959964;
# bounds are given to 4 decimals. Example (c), 6/7 - 2/7, is left out: its upper
# bound sits on a rounding edge between z = 1.96 and z = 1.959964.
NEWCOMBE_METHOD_10 = [
    ((56, 70), (48, 80), 0.0524, 0.3339),
    ((9, 10), (3, 10), 0.1705, 0.8090),
    ((5, 56), (0, 29), -0.0381, 0.1926),
    ((0, 10), (0, 20), -0.1611, 0.2775),
    ((0, 10), (0, 10), -0.2775, 0.2775),
    ((10, 10), (0, 20), 0.6791, 1.0000),
    ((10, 10), (0, 10), 0.6075, 1.0000),
]


@pytest.mark.parametrize(("treated", "holdout", "low", "high"), NEWCOMBE_METHOD_10)
def test_newcombe_1998_table_ii_method_10(
    treated: tuple[int, int], holdout: tuple[int, int], low: float, high: float
) -> None:
    t, h = Arm(treated[1], treated[0]), Arm(holdout[1], holdout[0])
    est = difference(t, h, z=1.959964)
    assert est.difference == pytest.approx(t.rate - h.rate)
    assert est.low == pytest.approx(low, abs=5e-5)
    assert est.high == pytest.approx(high, abs=5e-5)


def test_wilson_interval_known_values() -> None:
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion",
    # Stat Med 17:857-872, Table I, method 3: 0/10 -> (0, 0.2775); 81/263 ->
    # (0.2553, 0.3662).
    low, high = wilson(Arm(10, 0), z=1.959964)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=5e-5)
    low, high = wilson(Arm(263, 81), z=1.959964)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_difference_fields() -> None:
    est = difference(Arm(70, 56), Arm(80, 48))
    assert (est.treated_rate, est.holdout_rate) == (0.8, 0.6)
    assert est.difference == pytest.approx(0.2)
    assert est.relative == pytest.approx(0.2 / 0.6)
    assert est.low < est.difference < est.high


def test_zero_conversions_give_a_real_interval_and_no_relative_lift() -> None:
    est = difference(Arm(1000, 0), Arm(1000, 0))
    assert est.difference == 0.0
    assert est.relative is None
    assert est.low < -0.003
    assert est.high > 0.003


def test_empty_arm_means_an_unknown_rate_not_a_crash() -> None:
    est = difference(Arm(100, 30), Arm(0, 0))
    assert est.holdout_rate == 0.0
    assert est.relative is None
    # The holdout rate could be anything in [0, 1]: the lift could be as low as 0.3 - 1.
    assert est.low < -0.65
    assert 0.3 < est.high < 0.45
    both_empty = difference(Arm(0, 0), Arm(0, 0))
    assert (both_empty.low, both_empty.high) == (-1.0, 1.0)


@pytest.mark.parametrize(("n", "conversions"), [(-1, 0), (5, 6), (5, -1)])
def test_arm_counts_are_validated(n: int, conversions: int) -> None:
    with pytest.raises(ValueError, match="conversions"):
        Arm(n, conversions)


def test_z_is_validated() -> None:
    with pytest.raises(ValueError, match="z"):
        difference(Arm(10, 1), Arm(10, 2), z=0.0)
    with pytest.raises(ValueError, match="z"):
        stratified([Stratum("a", Arm(10, 1), Arm(10, 2))], z=float("nan"))


# --- stratified (Mantel-Haenszel, Sato variance) -------------------------------


def test_single_balanced_stratum_reduces_to_the_wald_interval() -> None:
    # With n_t = n_h, Sato's variance equals p_t(1-p_t)/n_t + p_h(1-p_h)/n_h.
    est = stratified([Stratum("all", Arm(400, 100), Arm(400, 60))])
    wald = 1.96 * math.sqrt(0.25 * 0.75 / 400 + 0.15 * 0.85 / 400)
    assert est.difference == pytest.approx(0.10)
    assert (est.low, est.high) == pytest.approx((0.10 - wald, 0.10 + wald))


# Treated customers are mostly new (low base rate), holdout ones mostly loyal (high
# base rate). Inside each stratum the campaign helps; pooled, it seems to hurt.
SIMPSON = [
    Stratum("new", Arm(900, 90), Arm(100, 8)),
    Stratum("loyal", Arm(100, 50), Arm(900, 405)),
]


def test_mantel_haenszel_by_hand() -> None:
    # Weights 900*100/1000 = 90 each, so RD = (0.02 + 0.05) / 2 = 0.035.
    # Sato: P = -30.42 + -0.45, Q = 7.38 + 22.5, W = 180;
    # var = (0.035 * -30.87 + 29.88) / 180^2 = 0.000888875, half-width 0.0584355.
    est = stratified(SIMPSON)
    assert est.difference == pytest.approx(0.035)
    assert (est.treated_rate, est.holdout_rate) == pytest.approx((0.30, 0.265))
    assert est.low == pytest.approx(0.035 - 0.0584355, abs=1e-6)
    assert est.high == pytest.approx(0.035 + 0.0584355, abs=1e-6)
    assert est.relative == pytest.approx(0.035 / 0.265)


def test_duplicating_every_stratum_keeps_the_lift_and_shrinks_the_interval() -> None:
    once = stratified(SIMPSON)
    twice = stratified([*SIMPSON, *SIMPSON])
    assert twice.difference == pytest.approx(once.difference)
    half_once = once.high - once.difference
    assert twice.high - twice.difference == pytest.approx(half_once / math.sqrt(2))


def test_strata_with_an_empty_arm_are_skipped() -> None:
    with_empty = [*SIMPSON, Stratum("vip", Arm(50, 40), Arm(0, 0))]
    assert stratified(with_empty) == stratified(SIMPSON)
    with pytest.raises(ValueError, match="no stratum"):
        stratified([Stratum("vip", Arm(50, 40), Arm(0, 0))])
    with pytest.raises(ValueError, match="no stratum"):
        stratified([])


def test_all_zero_conversions_stratified_is_a_point() -> None:
    # Documented limitation of the Wald-type interval: no variation, no width.
    est = stratified([Stratum("a", Arm(100, 0), Arm(100, 0)), Stratum("b", Arm(50, 0), Arm(9, 0))])
    assert (est.difference, est.low, est.high, est.relative) == (0.0, 0.0, 0.0, None)


def test_stratified_interval_covers_the_true_lift_about_95_percent_of_the_time() -> None:
    rng = random.Random(20260601)
    true_lift = 0.05
    design = [(300, 50, 0.10), (60, 240, 0.40), (150, 150, 0.20)]  # n_t, n_h, holdout rate

    def draw(n: int, p: float) -> int:
        return sum(rng.random() < p for _ in range(n))

    runs = 1000
    covered = 0
    for _ in range(runs):
        strata = [
            Stratum(str(i), Arm(n_t, draw(n_t, p + true_lift)), Arm(n_h, draw(n_h, p)))
            for i, (n_t, n_h, p) in enumerate(design)
        ]
        est = stratified(strata)
        covered += est.low <= true_lift <= est.high
    assert 0.93 <= covered / runs <= 0.97


def test_strata_of_cells_match_counting_each_decision() -> None:
    """Counts per (arm, stratum) give the strata counting every decision gives."""
    rng = random.Random(5)
    rows = [
        (rng.choice(["treated", "holdout"]), rng.choice(["new", "vip", "gold"]), rng.random() < 0.2)
        for _ in range(500)
    ]
    cells: dict[tuple[str, str], Arm] = {}
    for arm, stratum, converted in rows:
        cells[(arm, stratum)] = cells.get((arm, stratum), Arm(0, 0)) + Arm(1, int(converted))

    def arm_of(name: str, stratum: str) -> Arm:
        mine = [c for a, s, c in rows if (a, s) == (name, stratum)]
        return Arm(len(mine), sum(mine))

    assert strata_of(cells) == [
        Stratum(s, arm_of("treated", s), arm_of("holdout", s)) for s in ("gold", "new", "vip")
    ]
    assert strata_of({}) == []
    assert strata_of({("holdout", "new"): Arm(4, 1)}) == [Stratum("new", Arm(0, 0), Arm(4, 1))]


# --- campaign lift, Simpson guard, JSON and rendering ------------------------------


def test_simpsons_paradox_is_flagged() -> None:
    lift = campaign_lift("winback", SIMPSON)
    assert lift.treated == Arm(1000, 140)
    assert lift.holdout == Arm(1000, 413)
    assert lift.pooled.difference == pytest.approx(-0.273)
    assert lift.pooled.high < 0  # pooled: "significantly harmful"
    assert lift.stratified is not None
    assert lift.stratified.difference > 0
    assert lift.simpson is True
    assert [name for name, _ in lift.strata] == ["new", "loyal"]
    assert [round(e.difference, 4) for _, e in lift.strata] == [0.02, 0.05]


def test_no_simpson_when_pooled_and_stratified_agree() -> None:
    lift = campaign_lift(
        "cart", [Stratum("a", Arm(500, 60), Arm(500, 40)), Stratum("b", Arm(300, 90), Arm(300, 75))]
    )
    assert lift.stratified is not None
    assert lift.pooled.difference > 0
    assert lift.stratified.difference > 0
    assert lift.simpson is False


def test_opposite_signs_inside_the_noise_are_no_paradox() -> None:
    # From a demo run: -0.2 pp pooled, +3.6 pp stratified, both intervals ~ +-30 pp.
    lift = campaign_lift(
        "store",
        [Stratum("new", Arm(30, 21), Arm(8, 5)), Stratum("regular", Arm(10, 8), Arm(3, 3))],
    )
    assert lift.stratified is not None
    assert lift.pooled.difference * lift.stratified.difference < 0
    assert lift.pooled.low < 0 < lift.pooled.high
    assert lift.stratified.low < 0 < lift.stratified.high
    assert lift.simpson is False


def test_campaign_without_a_usable_stratum() -> None:
    lift = campaign_lift("new", [Stratum("all", Arm(120, 12), Arm(0, 0))])
    assert lift.stratified is None
    assert lift.simpson is False
    assert lift.pooled.relative is None
    empty = campaign_lift("none", [])
    assert (empty.treated, empty.holdout) == (Arm(0, 0), Arm(0, 0))
    assert empty.stratified is None


def test_as_dict_is_json_ready_and_rounded() -> None:
    data = campaign_lift("winback", SIMPSON).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["simpson"] is True
    assert data["treated"] == {"n": 1000, "conversions": 140}
    assert data["pooled"] == {
        "treated_rate": 0.14,
        "holdout_rate": 0.413,
        "difference": -0.273,
        "low": -0.3098,
        "high": -0.2352,
        "relative": -0.661,
    }
    stratified_ = data["stratified"]
    assert isinstance(stratified_, dict)
    assert (stratified_["low"], stratified_["high"]) == (-0.0234, 0.0934)
    strata = data["strata"]
    assert isinstance(strata, list)
    assert strata[0]["name"] == "new"
    assert strata[0]["difference"] == 0.02
    none = campaign_lift("x", [Stratum("a", Arm(10, 1), Arm(0, 0))]).as_dict()
    assert none["stratified"] is None
    assert isinstance(none["pooled"], dict)
    assert none["pooled"]["relative"] is None


def test_render_shows_counts_rates_lifts_and_the_simpson_warning() -> None:
    text = render(
        [
            campaign_lift("winback", SIMPSON),
            campaign_lift("cart", [Stratum("all", Arm(500, 40), Arm(0, 0))]),
        ]
    )
    header, winback, cart, legend = text.splitlines()
    assert header.split()[:3] == ["campaign", "treated", "n"]
    assert "stratified pp [95% CI]" in header
    assert winback.split()[:7] == ["winback", "1000", "140", "14.00%", "1000", "413", "41.30%"]
    assert "-27.30 [-30.98, -23.52]" in winback
    assert "-66.1%" in winback
    assert "+3.50 [-2.34, +9.34]" in winback
    assert winback.endswith("!")
    assert cart.split()[:7] == ["cart", "500", "40", "8.00%", "0", "0", "0.00%"]
    assert cart.split()[-2:] == ["n/a", "n/a"]
    assert not cart.endswith("!")
    assert legend.startswith("! ")
    assert "Simpson" in legend
    # Columns line up: every row starts its lift cell at the same offset.
    # No holdout, no lift: the treated rate is not a lift over an unknown 0 %.
    assert "n/a (no holdout)" in cart
    assert "+8.00" not in cart
    assert winback.index("-27.30") == cart.index("n/a (no holdout)")


def test_render_without_paradox_has_no_legend() -> None:
    text = render([campaign_lift("cart", [Stratum("a", Arm(100, 12), Arm(100, 10))])])
    assert len(text.splitlines()) == 2
    assert "Simpson" not in text
    assert render([]).splitlines()[0].startswith("campaign")


def test_estimate_as_dict_rounds() -> None:
    est = Estimate(0.123456, 0.1, 0.023456, -0.01, 0.05, None)
    assert est.as_dict() == {
        "treated_rate": 0.1235,
        "holdout_rate": 0.1,
        "difference": 0.0235,
        "low": -0.01,
        "high": 0.05,
        "relative": None,
    }
