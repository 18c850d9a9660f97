"""Money as profiles keep it: exact integers in each currency's minor unit (ISO 4217
exponents), per currency; base-currency figures are derived at read time from dated
rates, never stored as sums (docs/profile.md, "Money").

Floats add up wrongly (0.1 + 0.2) and a rate fixed into a stored sum can never be
corrected; integers per currency are exact, commutative, and stay right when the
rates change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

#: Currencies whose minor unit is not the hundredth (ISO 4217); every other has 2.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
#: Minor units per major unit, by currency (the common case precomputed: per event).
_SCALES: dict[str, int] = {currency: 10**e for currency, e in _EXPONENTS.items()}


def exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (ISO 4217).

    >>> exponent("EUR"), exponent("JPY"), exponent("KWD")
    (2, 0, 3)
    """
    return _EXPONENTS.get(currency, 2)


def minor_scale(currency: str) -> int:
    """Minor units per major unit of ``currency`` (100 for most).

    >>> minor_scale("EUR"), minor_scale("JPY")
    (100, 1)
    """
    return _SCALES.get(currency, 100)


def to_minor(amount: float, currency: str) -> int:
    """``amount`` in minor units of ``currency``, rounded to the nearest one (half to even).

    >>> to_minor(12.34, "EUR"), to_minor(0.1 + 0.2, "EUR"), to_minor(1500, "JPY")
    (1234, 30, 1500)
    >>> to_minor(1.2345, "KWD")
    1234
    """
    return round(amount * _SCALES.get(currency, 100))


def to_major(minor: int, currency: str) -> Decimal:
    """Exact major units of ``minor`` (for display: ``str`` gives ``"12.34"``).

    >>> str(to_major(1234, "EUR")), str(to_major(-5, "EUR")), str(to_major(1500, "JPY"))
    ('12.34', '-0.05', '1500')
    """
    return Decimal(minor).scaleb(-exponent(currency))


#: Rates of early 2026 (EUR base), the default: a deployment sets its own, with their date.
_EXAMPLE_RATES = {
    "EUR": 1.0,
    "GBP": 1 / 0.85,
    "USD": 1 / 1.08,
    "CAD": 1 / 1.47,
    "BRL": 1 / 5.4,
    "JPY": 1 / 160.0,
    "SGD": 1 / 1.45,
    "INR": 1 / 90.0,
    "AUD": 1 / 1.62,
}


@dataclass(frozen=True, slots=True)
class FxRates:
    """Units of the base currency per unit of each currency, as of ``as_of`` (a setting).

    A currency without a rate is kept exactly per currency but adds nothing to base
    figures.
    """

    base: str = "EUR"
    rates: Mapping[str, float] = field(default_factory=lambda: dict(_EXAMPLE_RATES))
    as_of: date = date(2026, 1, 1)

    def to_base(self, minor: Mapping[str, int]) -> float:
        """The base-currency value of per-currency minor-unit amounts (unrated: nothing).

        >>> FxRates("EUR", {"EUR": 1.0, "USD": 0.5}).to_base({"EUR": 1000, "USD": 400, "XYZ": 9})
        12.0
        """
        rates, base = self.rates, self.base
        total = 0.0
        for currency, units in minor.items():
            rate = rates.get(currency, 1.0 if currency == base else None)
            if rate is not None:
                total += units * rate / _SCALES.get(currency, 100)
        return total

    def amount(self, value: float) -> dict[str, str]:
        """A base-currency figure as the API shows money: text to the minor unit, and
        which currency.

        >>> FxRates("JPY", {}).amount(1234.5)
        {'amount': '1234', 'currency': 'JPY'}
        """
        return {"amount": f"{value:.{exponent(self.base)}f}", "currency": self.base}


#: Profile field prefixes of the per-currency money figures (docs/profile.md).
_MONEY_PREFIXES = ("spend:", "returned:", "units:", "units_value:")


@dataclass(frozen=True, slots=True)
class Wallet:
    """A profile's money, per currency (minor units, exact), and its base value."""

    #: Order totals (gross), credited back (returns, refunds, cancellations).
    spend: dict[str, int]
    returned: dict[str, int]
    #: Units bought and their line value (gross), per currency of the order.
    units: dict[str, int]
    units_value: dict[str, int]
    fx: FxRates

    @property
    def net(self) -> dict[str, int]:
        """Spend less what was credited back, per currency (negative while a return is
        known and its order not yet)."""
        spend, returned = self.spend, self.returned
        return {c: spend.get(c, 0) - returned.get(c, 0) for c in sorted(spend.keys() | returned)}

    @property
    def net_base(self) -> float:
        """Net spend in the base currency (currencies without a rate add nothing)."""
        return self.fx.to_base(self.net)

    @property
    def return_rate(self) -> float | None:
        """Share of the gross base-currency spend credited back, 4 decimals (null without
        spend)."""
        gross = self.fx.to_base(self.spend)
        return round((gross - self.net_base) / gross, 4) if gross > 0 else None

    @property
    def avg_unit_price(self) -> float | None:
        """Base-currency value per unit bought (gross: what the customer picks), over
        the currencies with a rate."""
        rates, base = self.fx.rates, self.fx.base
        units = sum(n for c, n in self.units.items() if c in rates or c == base)
        return self.fx.to_base(self.units_value) / units if units else None

    def summary(self, aov: float | None) -> dict[str, object]:
        """The API's money fields: base figures with their currency and rates' date, and
        the exact per-currency ones."""
        fx = self.fx
        return {
            "units": sum(self.units.values()),
            "monetary": fx.amount(self.net_base),
            "aov": None if aov is None else fx.amount(aov),
            "return_rate": self.return_rate,
            "spend": self.by_currency(),
            "base_currency": fx.base,
            "fx_rates_date": fx.as_of.isoformat(),
        }

    def by_currency(self) -> dict[str, dict[str, str]]:
        """Gross, returned and net per currency as exact decimal text (the API's)."""
        net = self.net
        return {
            c: {
                "gross": str(to_major(self.spend.get(c, 0), c)),
                "returned": str(to_major(self.returned.get(c, 0), c)),
                "net": str(to_major(net[c], c)),
            }
            for c in net
        }


def wallet_of(fields: Mapping[str, object], fx: FxRates) -> Wallet:
    """The money figures of a profile's fields (one pass over them).

    >>> w = wallet_of({"spend:EUR": 1250, "returned:EUR": 250, "n": 3}, FxRates())
    >>> w.net, w.fx.to_base(w.net)
    ({'EUR': 1000}, 10.0)
    """
    found: dict[str, dict[str, int]] = {prefix: {} for prefix in _MONEY_PREFIXES}
    for name, value in fields.items():
        # str.startswith first: a profile has hundreds of fields, a few of them money.
        if name.startswith(_MONEY_PREFIXES):
            prefix, _, currency = name.partition(":")
            found[prefix + ":"][currency] = int(value)  # type: ignore[call-overload]
    return Wallet(found["spend:"], found["returned:"], found["units:"], found["units_value:"], fx)


def upgrade_legacy(fields: dict[str, object]) -> None:
    """Fields of a document written before money was exact (it has no order ledger), in
    place: each ``spend:<CUR>`` float to minor units; the base-currency ``value``,
    ``units`` and ``units_value`` sums dropped (the view derives value now; the price
    band returns with the next purchase; orders bought before have no ledger entry, so
    an itemless return of one counts its money but not its units or order).

    >>> f = {"value": 12.5, "spend:EUR": 12.5, "units": 1, "units_value": 12.5, "n": 2}
    >>> upgrade_legacy(f); f
    {'spend:EUR': 1250, 'n': 2}
    """
    for name in ("value", "units", "units_value"):
        fields.pop(name, None)
    for name, amount in list(fields.items()):
        if name.startswith("spend:") and isinstance(amount, float):
            fields[name] = to_minor(amount, name[6:])
