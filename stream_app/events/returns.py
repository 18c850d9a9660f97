"""Returns, refunds and cancellations: money (and goods) going back after an order.

They travel on the purchase topic, keyed like purchases, and name the original order;
they may arrive days later, redelivered, or before the order itself, so their effect
on a profile is a sum over ids (docs/profile.md, "Returns").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import Category, Currency, CustomerEvent, Identifier, Money
from stream_app.events.purchase import LineItem, Purchase


class OrderReversal(CustomerEvent):
    """A return (goods back), a refund (money back, goods kept) or a cancellation (the
    order did not happen), of a whole order (``items`` absent) or of some lines."""

    type: Literal["return", "refund", "cancellation"]
    return_id: Identifier = Field(
        description="Credit note, refund or cancellation id: applied once per profile life."
    )
    order_id: Identifier = Field(description="The original order (it may not be known yet).")
    #: At most ``ContractLimits.max_order_lines`` lines (a setting).
    items: Annotated[list[LineItem], Field(min_length=1)] | None = Field(
        default=None, description="The lines concerned; absent: the whole order."
    )
    amount: Money = Field(description="Money credited back, in `currency` (0 allowed).")
    currency: Currency
    reason: Category | None = Field(default=None, description="Free text, e.g. too_small.")


PurchaseEvent = Annotated[Purchase | OrderReversal, Field(discriminator="type")]
