"""Clickstream events: what a customer does in the shop or app."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from stream_app.events.base import (
    Category,
    CustomerEvent,
    Identifier,
    ItemId,
    Money,
    Quantity,
)


class ClickEvent(CustomerEvent):
    """Base of clickstream events: optionally tied to a session."""

    session_id: Identifier | None = None


class PageView(ClickEvent):
    type: Literal["page_view"]
    path: Annotated[str, StringConstraints(max_length=2048)]
    referrer: Annotated[str, StringConstraints(max_length=2048)] | None = None


class ProductView(ClickEvent):
    type: Literal["product_view"]
    item_id: ItemId
    category: Category
    price: Money
    brand: Category | None = None


class Search(ClickEvent):
    type: Literal["search"]
    query: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AddToCart(ClickEvent):
    type: Literal["add_to_cart"]
    item_id: ItemId
    category: Category
    price: Money
    quantity: Quantity = 1
    brand: Category | None = None


class RemoveFromCart(ClickEvent):
    type: Literal["remove_from_cart"]
    item_id: ItemId
    quantity: Quantity = 1


class AddToWishlist(ClickEvent):
    """An item saved as a favourite (Segment's "Product Added to Wishlist")."""

    type: Literal["add_to_wishlist"]
    item_id: ItemId
    category: Category
    price: Money | None = None
    brand: Category | None = None


class RemoveFromWishlist(ClickEvent):
    """An item taken off the wishlist (Segment's "Product Removed from Wishlist")."""

    type: Literal["remove_from_wishlist"]
    item_id: ItemId


class CheckoutStart(ClickEvent):
    type: Literal["checkout_start"]
    cart_value: Money | None = None


class AppOpen(ClickEvent):
    type: Literal["app_open"]
    platform: Literal["ios", "android", "web"] | None = None


class SessionStart(ClickEvent):
    type: Literal["session_start"]
    platform: Literal["ios", "android", "web"] | None = None


class Referral(ClickEvent):
    """The customer invited someone or shared something (AARRR's referral stage). The
    invitee is a reference the worker never stores (only counted, as ``n:referral``)."""

    type: Literal["referral"]
    kind: Literal["invite", "share"]
    channel: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    invitee_id: Identifier | None = Field(
        default=None, repr=False, description="Who was invited; never stored nor logged."
    )


ClickstreamEvent = Annotated[
    PageView
    | ProductView
    | Search
    | AddToCart
    | RemoveFromCart
    | AddToWishlist
    | RemoveFromWishlist
    | CheckoutStart
    | AppOpen
    | SessionStart
    | Referral,
    Field(discriminator="type"),
]
