"""Decayed sums: tastes and sentiment that fade with a half-life, stored exactly enough.

A sum is kept relative to a reference time, so adding a weight is one multiply
and reading it at any time is another (docs/profile.md, "Stored sums").
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Rebase a decayed sum before ``2 ** x`` grows past this exponent.
_REBASE_AT = 512.0


def round10(value: float) -> float:
    """Ten significant digits, as stored (a third less memory than 17, error 5e-11).

    >>> round10(1 / 3)
    0.3333333333
    """
    return float(f"{value:.10g}")


@dataclass(slots=True)
class Decayed:
    """Decayed sums stored relative to ``ref_ms``: ``S(T) = stored * 2^(-(T - ref) / H)``."""

    ref_ms: int | None = None
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, weight: float, at_ms: int, half_life_ms: float) -> None:
        """Add ``weight`` at time ``at_ms`` (rescaling every sum when the exponent grows)."""
        if self.ref_ms is None:
            self.ref_ms = at_ms
        x = (at_ms - self.ref_ms) / half_life_ms
        if x > _REBASE_AT:
            scale = 2.0 ** (-x)
            self.sums = {k: round10(v * scale) for k, v in self.sums.items()}
            self.ref_ms, x = at_ms, 0.0
        self.sums[name] = round10(self.sums.get(name, 0.0) + weight * 2.0**x)

    def at(self, when_ms: int, half_life_ms: float) -> dict[str, float]:
        """Every sum evaluated at ``when_ms``.

        >>> Decayed(0, {"c:shoes": 4.0}).at(7 * 86_400_000, 7 * 86_400_000)
        {'c:shoes': 2.0}
        """
        if self.ref_ms is None:
            return {}
        scale = 2.0 ** (-(when_ms - self.ref_ms) / half_life_ms)
        return {name: value * scale for name, value in self.sums.items()}
