"""Notification feedback: what happened to a decision we sent."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import Channel, Identifier, KnownCustomerEvent, Money


class FeedbackBase(KnownCustomerEvent):
    decision_id: Identifier
    channel: Channel | None = None


class Delivered(FeedbackBase):
    type: Literal["delivered"]


class Opened(FeedbackBase):
    type: Literal["opened"]


class Clicked(FeedbackBase):
    type: Literal["clicked"]


class Converted(FeedbackBase):
    type: Literal["converted"]
    order_id: Identifier | None = None
    value: Money | None = None


class Dismissed(FeedbackBase):
    type: Literal["dismissed"]


class Unsubscribed(FeedbackBase):
    type: Literal["unsubscribed"]


FeedbackEvent = Annotated[
    Delivered | Opened | Clicked | Converted | Dismissed | Unsubscribed,
    Field(discriminator="type"),
]
