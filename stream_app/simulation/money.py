"""Money as the simulated world keeps its books: exact integers in minor units.

The truth a messy-retail run is judged by must not inherit float rounding, so
the simulator counts cents (yen, fils) and only the wire carries decimals.
Its exponent table is its own, not ``profiles.money``'s: the truth must not share the
engine's tables, or a wrong exponent there would be wrong on both sides and unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: ISO 4217 exponents that are not 2 (of the currencies the simulator uses).
_DIGITS: Mapping[str, int] = MappingProxyType({"JPY": 0, "KWD": 3, "BHD": 3})


def minor_digits(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (ISO 4217; 2 unless listed)."""
    return _DIGITS.get(currency, 2)


def scale(currency: str) -> int:
    """Minor units in one unit of ``currency`` (100 for EUR, 1 for JPY)."""
    return int(10 ** minor_digits(currency))


def to_minor(amount: float, currency: str) -> int:
    """``amount`` (a decimal on the wire) in minor units.

    >>> to_minor(12.34, "EUR"), to_minor(1200.0, "JPY"), to_minor(1.005, "KWD")
    (1234, 1200, 1005)
    """
    return round(amount * scale(currency))


def from_minor(minor: int, currency: str) -> float:
    """The wire amount of ``minor`` units: the float nearest the decimal, whose shortest
    text (what JSON writes) is that decimal.

    >>> from_minor(1234, "EUR"), from_minor(1200, "JPY"), from_minor(1005, "KWD")
    (12.34, 1200.0, 1.005)
    """
    return minor / scale(currency)
