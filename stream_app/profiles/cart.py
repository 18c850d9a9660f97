"""Cart lines as stored per item (docs/profile.md, "Cart")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CartLine:
    """The latest add of an item, and its latest removal (a tombstone), if any."""

    item_id: str
    category: str
    price: float
    quantity: int
    event_id: str
    added_ms: int
    removed_ms: int | None = None

    @property
    def removed(self) -> bool:
        """Removed after (or when) it was last added."""
        return self.removed_ms is not None and self.removed_ms >= self.added_ms


def cart_line(item_id: str, entry: Sequence[int | float | str]) -> CartLine | None:
    """A stored cart entry ``[added, category, price, quantity, event id, removed]`` (0 =
    none) as a domain object; None for a bare removal tombstone."""
    added, category, price, quantity, event_id, removed = entry
    if not added:
        return None
    return CartLine(
        item_id, str(category), float(price), int(quantity), str(event_id), int(added),
        int(removed) or None,
    )  # fmt: skip


def visible_cart(lines: tuple[CartLine, ...], last_purchase: int | None) -> tuple[CartLine, ...]:
    """Lines still in the cart: added after their removal and after the last order."""
    floor = last_purchase or 0
    return tuple(
        sorted(
            (line for line in lines if line.added_ms > floor and not line.removed),
            key=lambda line: (line.added_ms, line.item_id),
        )
    )
