"""The outbound decision record consumed by notification services."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from stream_app.events.base import (
    SCHEMA_VERSION,
    Category,
    Channel,
    Contract,
    CustomerId,
    Identifier,
    ItemId,
    Money,
)


class ContentItem(Contract):
    item_id: ItemId
    category: Category | None = None
    price: Money | None = None
    quantity: Annotated[int, Field(ge=1)] = 1


class Content(Contract):
    template: Identifier = Field(description="Message template the notification service renders.")
    offer: Identifier | None = Field(default=None, description="Offer featured, if any.")
    category: Category | None = Field(default=None, description="Category featured, if any.")
    items: list[ContentItem] = Field(default_factory=list)


class Decision(Contract):
    """What to send, to whom, on which channel, when, and why."""

    type: Literal["decision"] = "decision"
    schema_version: Literal[1] = SCHEMA_VERSION
    decision_id: Identifier = Field(description="Deterministic: one trigger never yields two ids.")
    customer_id: CustomerId
    campaign_id: Identifier
    channel: Channel
    content: Content
    decided_at: AwareDatetime
    send_at: AwareDatetime
    expires_at: AwareDatetime
    trigger: Identifier | None = Field(
        default=None, description="What triggered it, e.g. cart_abandonment, price_drop."
    )
    trigger_event_id: Identifier | None = None
    holdout: bool = Field(
        default=False,
        description="In the campaign's holdout group: recorded on the audit topic, never sent.",
    )
    policies: list[Identifier] = Field(
        default_factory=list, description="Policies checked and passed, e.g. consent, cap_day."
    )
    score: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="Predicted probability of engagement."
    )
    propensity: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="Probability with which the content was chosen (for off-policy evaluation).",
    )
    model_version: Annotated[str, StringConstraints(max_length=64)] | None = None
    explanation: Annotated[str, StringConstraints(max_length=500)]
