"""What a messy-retail run must end with, kept by the simulator as it draws the events.

It is booked from the generator's own decisions (this order was placed by that
customer as a guest, this much of it was credited back), never by folding the
events it emits, so it is independent of the worker and of any event-folding
oracle. Amounts are exact integers in minor units, per currency.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Truth:
    """Per customer and currency: gross spend, amount credited back, and the part of
    gross bought as a guest (before or after logging in, under an anonymous id)."""

    gross: dict[str, Counter[str]] = field(default_factory=dict)
    returned: dict[str, Counter[str]] = field(default_factory=dict)
    guest: dict[str, Counter[str]] = field(default_factory=dict)
    #: Guest spend of visitors who never log in: it belongs to no customer.
    unclaimed: Counter[str] = field(default_factory=Counter)
    #: The true polarity (-1..1) of each review and comment, by event id (what its writer
    #: meant, drawn from their order's experience; the sentiment model is judged by it).
    remarks: dict[str, float] = field(default_factory=dict)

    def order(self, owner: str | None, currency: str, minor: int, *, guest: bool) -> None:
        """An order of ``minor`` units by ``owner`` (None: a guest who never logs in)."""
        if owner is None:
            self.unclaimed[currency] += minor
            return
        self.gross.setdefault(owner, Counter())[currency] += minor
        if guest:
            self.guest.setdefault(owner, Counter())[currency] += minor

    def credit(self, owner: str | None, currency: str, minor: int) -> None:
        """``minor`` units credited back to ``owner`` (a return, refund or cancellation)."""
        if owner is not None:
            self.returned.setdefault(owner, Counter())[currency] += minor

    def customers(self) -> list[str]:
        """Every customer with money booked, sorted."""
        return sorted(self.gross.keys() | self.returned.keys())

    def net(self, customer: str) -> dict[str, int]:
        """Net spend (gross - returned) per currency; currencies with any booking kept,
        even at 0."""
        gross = self.gross.get(customer, Counter())
        returned = self.returned.get(customer, Counter())
        return {cur: gross[cur] - returned[cur] for cur in sorted(gross.keys() | returned.keys())}

    def as_json(self) -> dict[str, Any]:
        """The truth as plain JSON (``stream-app simulate --set retail`` writes it)."""
        return {
            "net_minor": {cid: self.net(cid) for cid in self.customers()},
            "gross_minor": {cid: dict(sorted(c.items())) for cid, c in sorted(self.gross.items())},
            "returned_minor": {
                cid: dict(sorted(c.items())) for cid, c in sorted(self.returned.items())
            },
            "guest_minor": {cid: dict(sorted(c.items())) for cid, c in sorted(self.guest.items())},
            "unclaimed_guest_minor": dict(sorted(self.unclaimed.items())),
            "remark_polarity": {eid: round(p, 4) for eid, p in sorted(self.remarks.items())},
        }
