"""What customers say: rated reviews and free comments (app stores, support chats, social).

The text is read by the sentiment model in the worker's pass and never stored as
such (only its polarity and the tokens a rated text teaches the model). English
first: ``language`` says what the text is written in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from stream_app.events.base import CustomerEvent, Identifier, ItemId
from stream_app.events.jsontypes import JsonInteger

#: Where a remark was made.
Source = Literal["app_review", "shop_review", "support_chat", "email", "social", "survey"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class Remark(CustomerEvent):
    """Base of what a customer writes: the text, and what it is about."""

    text: Text = Field(description="What the customer wrote (not stored; scored in the pass).")
    source: Source | None = Field(default=None, description="Where it was written.")
    item_id: ItemId | None = Field(default=None, description="The item it is about, if any.")
    order_id: Identifier | None = Field(default=None, description="The order it is about, if any.")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = Field(
        default="en", description="ISO 639-1 language of the text (models are English first)."
    )


class Review(Remark):
    """A review, with its star rating when the customer gave one (rated reviews teach the model)."""

    type: Literal["review"]
    rating: Annotated[int, JsonInteger(ge=1, le=5)] | None = Field(
        default=None, description="Stars, 1 (worst) to 5 (best)."
    )


class Comment(Remark):
    """A free remark with no rating (a chat line, a social mention): scored by the model."""

    type: Literal["comment"]


ReviewEvent = Annotated[Review | Comment, Field(discriminator="type")]
