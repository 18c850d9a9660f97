"""Purchase events: completed orders with line items."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import (
    Category,
    Contract,
    Currency,
    CustomerEvent,
    Identifier,
    ItemId,
    Money,
)


class LineItem(Contract):
    item_id: ItemId
    category: Category
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    unit_price: Money
    brand: Category | None = None


class Purchase(CustomerEvent):
    type: Literal["purchase"]
    order_id: Identifier
    items: Annotated[list[LineItem], Field(min_length=1, max_length=500)]
    total: Money
    currency: Currency


PurchaseEvent = Annotated[Purchase, Field(discriminator="type")]
