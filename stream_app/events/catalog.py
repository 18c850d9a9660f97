"""Catalog events: an item's price and stock as the shop changes them (price drops, restocks)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import Category, Currency, EventBase, ItemId, Money


class ItemUpdate(EventBase):
    """The item as it is now; fields left out are unchanged."""

    type: Literal["item_update"]
    item_id: ItemId
    category: Category | None = None
    price: Money | None = None
    currency: Currency | None = None
    in_stock: bool | None = None

    @property
    def customer_id(self) -> None:
        """Catalog events concern every customer who looked at the item, not one."""
        return None


CatalogEvent = Annotated[ItemUpdate, Field(discriminator="type")]
