"""Purchase events: completed orders with line items."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import (
    Category,
    Country,
    Currency,
    CustomerEvent,
    Identifier,
    ItemId,
    Locale,
    Money,
    Quantity,
    Region,
    StrictContract,
)


class LineItem(StrictContract):
    item_id: ItemId
    category: Category
    quantity: Quantity
    unit_price: Money
    brand: Category | None = None


class Purchase(CustomerEvent):
    type: Literal["purchase"]
    order_id: Identifier
    #: At most ``ContractLimits.max_order_lines`` lines (a setting).
    items: Annotated[list[LineItem], Field(min_length=1)]
    total: Money
    currency: Currency
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. GB.")
    region: Region | None = Field(default=None, description="Free text: state, county, city.")
    locale: Locale | None = Field(default=None, description="BCP 47 tag, e.g. en-GB.")
