"""Field-by-field differences between the oracle's expectation and what Redis holds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Set

from stream_app.profiles.mood import NEGATIVE_FIELD
from stream_app.profiles.presence import PRESENCE_FIELDS
from tests.oracle.recompute import Basket, CartLine, ExpectedProfile, Scalar, is_additive

#: Plain floats (sums, prices): equal within a relative 1e-6 or an absolute 1e-9.
REL_TOL = 1e-6
ABS_TOL = 1e-9
#: Decayed sums: relative 1e-6 (the absolute floor only matters for values near 0).
DECAY_REL_TOL = 1e-6
DECAY_ABS_TOL = 1e-12
#: Fields set from the polarity the worker's sentiment model gave a remark (its snapshot
#: learns as it goes): the oracle recomputes events, not a model (tests/unit/test_mood.py
#: checks the sentiment's own order independence).
MODEL_SCORED = frozenset({NEGATIVE_FIELD})


def close(a: float, b: float, *, rel: float = REL_TOL, abs_: float = ABS_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _as_float(value: Scalar | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _scalar_equal(expected: Scalar, actual: Scalar) -> bool:
    """Numbers compare by value (ints exactly, floats within tolerance); strings exactly."""
    if isinstance(expected, str):
        return str(actual) == expected
    number = _as_float(actual)
    if number is None:
        return False
    if isinstance(expected, int):
        return number == expected
    return close(expected, number)


def _show(value: object) -> str:
    return "<absent>" if value is None else repr(value)


def diff_fields(
    customer: str,
    expected: Mapping[str, Scalar],
    actual: Mapping[str, Scalar],
    ties: Mapping[str, tuple[Scalar, ...]],
) -> list[str]:
    out: list[str] = []
    for name in sorted((set(expected) | set(actual)) - PRESENCE_FIELDS - MODEL_SCORED):
        want, got = expected.get(name), actual.get(name)
        if want is None and got is None:
            continue
        if is_additive(name):  # a sum or count that is absent is 0
            want = 0 if want is None else want
            got = 0 if got is None else got
        if want is None or got is None:
            out.append(f"{customer} p.{name}: expected {_show(want)}, stored {_show(got)}")
            continue
        options = ties.get(name, (want,))
        if not any(_scalar_equal(option, got) for option in options):
            shown = " or ".join(repr(o) for o in options)
            out.append(f"{customer} p.{name}: expected {shown}, stored {got!r}")
    return out


def diff_decayed(
    customer: str, what: str, expected: Mapping[str, float], actual: Mapping[str, float]
) -> list[str]:
    out: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            out.append(f"{customer} {what}.{name}: expected {_show(want)}, stored {_show(got)}")
        elif not close(want, got, rel=DECAY_REL_TOL, abs_=DECAY_ABS_TOL):
            out.append(
                f"{customer} {what}.{name}: expected {want!r}, stored {got!r}"
                f" (ratio {got / want if want else math.inf:.9g})"
            )
    return out


def _line_equal(expected: CartLine, actual: CartLine) -> bool:
    return (
        expected.t == actual.t
        and expected.c == actual.c
        and expected.q == actual.q
        and expected.e == actual.e
        and expected.p is not None
        and actual.p is not None
        and close(expected.p, actual.p)
    )


def diff_cart(
    customer: str,
    expected: Mapping[str, CartLine],
    actual: Mapping[str, CartLine],
    ties: Mapping[str, tuple[CartLine, ...]],
) -> list[str]:
    out: list[str] = []
    for item in sorted(set(expected) | set(actual)):
        want, got = expected.get(item), actual.get(item)
        if want is None or got is None:
            out.append(f"{customer} cart[{item}]: expected {_show(want)}, visible {_show(got)}")
            continue
        options = ties.get(item, (want,))
        if not any(_line_equal(option, got) for option in options):
            out.append(f"{customer} cart[{item}]: expected {want}, visible {got}")
    return out


def diff_top(
    customer: str,
    what: str,
    expected: Mapping[str, int],
    actual: Mapping[str, int],
    cap: int | None,
) -> list[str]:
    """Top-N by time: the stored members must be ``min(cap, candidates)`` of the expected
    ones (more than ``cap`` only when tied at the cut), each with its expected time."""
    out: list[str] = []
    size = len(expected) if cap is None else min(cap, len(expected))
    if len(actual) != size:
        out.append(f"{customer} {what}: expected {size} members, stored {len(actual)}")
    for member in sorted(set(expected) | set(actual)):
        want, got = expected.get(member), actual.get(member)
        if got is None:
            # with more candidates than the cap, only those tied at the cut may be missing
            tied_at_cut = cap is not None and len(expected) > cap and want == min(expected.values())
            if not tied_at_cut:
                out.append(f"{customer} {what}[{member!r}]: expected {want}, stored <absent>")
        elif want is None:
            out.append(f"{customer} {what}[{member!r}]: expected <absent>, stored {got}")
        elif want != got:
            out.append(f"{customer} {what}[{member!r}]: expected {want}, stored {got}")
    return out


def diff_wished(
    customer: str, expected: Set[str], actual: Set[str], kept: Mapping[str, int]
) -> list[str]:
    """The items on the wishlist, among those kept (a tie at the cap may keep any)."""
    want = expected & kept.keys()
    if want == actual:
        return []
    return [f"{customer} wished: expected {sorted(want)}, stored {sorted(actual)}"]


def diff(expected: ExpectedProfile | None, actual: ExpectedProfile | None) -> list[str]:
    """Human-readable mismatches between one customer's expected and stored profile."""
    if expected is None and actual is None:
        return []
    if expected is None:
        assert actual is not None
        return [f"{actual.customer_id}: stored a profile the log does not explain"]
    if actual is None:
        return [f"{expected.customer_id}: no profile stored (expected n={expected.fields['n']})"]
    who = expected.customer_id
    return [
        *diff_fields(who, expected.fields, actual.fields, expected.ties),
        *diff_decayed(who, "tastes", expected.tastes, actual.tastes),
        *diff_decayed(who, "rhythm", expected.rhythm, actual.rhythm),
        *diff_cart(who, expected.cart, actual.cart, expected.cart_ties),
        *diff_top(who, "viewed", expected.recent_views, actual.recent_views,
                  expected.recent_views_cap),
        *diff_top(who, "searches", expected.recent_searches, actual.recent_searches,
                  expected.recent_searches_cap),
        *diff_top(who, "wishlist", expected.wishlist, actual.wishlist, expected.wishlist_cap),
        *diff_wished(who, expected.wished, actual.wished, actual.wishlist),
    ]  # fmt: skip


def diff_all(
    expected: Mapping[str, ExpectedProfile], actual: Mapping[str, ExpectedProfile]
) -> list[str]:
    """Mismatches over every customer of either side, in customer order."""
    out: list[str] = []
    for customer in sorted(set(expected) | set(actual)):
        out.extend(diff(expected.get(customer), actual.get(customer)))
    return out


def diff_basket(expected: Basket, actual: Basket) -> list[str]:
    """Each stored row's total is exact (``Basket.drawn``: sampled or not, Space-Saving or
    not); its counts are exact unless a large order was sampled into it or it is full
    (docs/redis-keys.md bounds those: compared by total only)."""
    out: list[str] = []
    for what, want_rows, got_rows in (
        ("items", expected.items, actual.items),
        ("categories", expected.categories, actual.categories),
    ):
        for a in sorted(set(want_rows) | set(got_rows)):
            row = f"{what}/{a}"
            want, got = want_rows.get(a, {}), got_rows.get(a, {})
            total = sum(got.values())
            if not close(expected.drawn[row], total):
                out.append(f"{row} total: expected {expected.drawn[row]:g}, stored {total:g}")
            if row in expected.sampled or a in actual.full:
                continue
            for b in sorted(set(want) | set(got)):
                if not close(want.get(b, 0), got.get(b, 0)):
                    out.append(f"{row}/{b}: expected {want.get(b, 0):g}, stored {got.get(b, 0):g}")
    return out
