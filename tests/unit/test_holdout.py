from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from stream_app.decisions.holdout import bucket, in_holdout

IDS = [f"c-{i}" for i in range(20_000)]


def test_assignment_is_pinned_across_processes_and_versions() -> None:
    # Pinned values: a change of hash, encoding or scaling would silently reshuffle
    # every running experiment, so it must fail here first.
    assert bucket("c-1", "cart_abandonment") == 0.6413811564341151
    assert bucket("c-1", "winback") == 0.1999586154792923
    assert bucket("c-1", "cart_abandonment", salt="2026q3") == 0.3013558822955184


def test_same_answer_in_a_fresh_interpreter_with_another_hash_seed() -> None:
    code = (
        "from stream_app.decisions.holdout import in_holdout;"
        "print(sum(in_holdout(f'c-{i}', 'cart', 0.3) for i in range(2000)))"
    )
    here = sum(in_holdout(f"c-{i}", "cart", 0.3) for i in range(2000))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": "."},
    )
    assert int(out.stdout) == here


@pytest.mark.parametrize("share", [0.05, 0.1, 0.5, 0.9])
def test_realized_share_over_20k_customers(share: float) -> None:
    realized = sum(in_holdout(c, "cart", share) for c in IDS) / len(IDS)
    sd = math.sqrt(share * (1 - share) / len(IDS))
    assert abs(realized - share) < 4 * sd  # at most +/- 0.0085, for share 0.5


def test_share_zero_never_one_always() -> None:
    assert not any(in_holdout(c, "cart", 0.0) for c in IDS[:2000])
    assert all(in_holdout(c, "cart", 1.0) for c in IDS[:2000])


def test_growing_the_share_only_adds_customers() -> None:
    small = {c for c in IDS if in_holdout(c, "cart", 0.1)}
    large = {c for c in IDS if in_holdout(c, "cart", 0.2)}
    assert small < large


def test_campaigns_are_not_correlated() -> None:
    a = [in_holdout(c, "cart", 0.5) for c in IDS]
    b = [in_holdout(c, "winback", 0.5) for c in IDS]
    n = len(IDS)
    pa, pb = sum(a) / n, sum(b) / n
    both = sum(x and y for x, y in zip(a, b, strict=True)) / n
    phi = (both - pa * pb) / math.sqrt(pa * (1 - pa) * pb * (1 - pb))
    # Under independence phi ~ N(0, 1/n): sd 0.007; 4 sd.
    assert abs(phi) < 4 / math.sqrt(n)
    # And the same campaign with itself is, of course, perfectly correlated.
    assert a == [in_holdout(c, "cart", 0.5) for c in IDS]


def test_salt_redraws_the_groups() -> None:
    plain = [in_holdout(c, "cart", 0.5) for c in IDS[:5000]]
    salted = [in_holdout(c, "cart", 0.5, salt="2026q3") for c in IDS[:5000]]
    agree = sum(x == y for x, y in zip(plain, salted, strict=True)) / len(plain)
    assert 0.45 < agree < 0.55


@pytest.mark.parametrize("share", [-0.01, 1.01, float("nan"), float("inf")])
def test_share_outside_0_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        in_holdout("c-1", "cart", share)
