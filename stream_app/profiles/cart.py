"""Cart lines as stored per item (docs/profile.md, "Cart")."""

from __future__ import annotations

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
