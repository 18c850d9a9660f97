"""The labels topic's record: labelled decisions on their way to the one learner.

Internal to the engine (workers write it, the worker holding its single
partition reads it), but a contract all the same: a worker of the next release
may read what this one wrote.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stream_app.events.base import Contract


class Label(Contract):
    """One decision's label: the features it was scored on and whether the customer engaged."""

    decision_id: str = Field(description="The labelled decision (each is labelled once).")
    features: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        description="What the decision was scored on (finite: JSON has no NaN)."
    )
    engaged: bool = Field(description="Clicked or converted within the attribution window.")
    context: str = Field(default="", description="The bandit's context for the decision.")
    arm: str = Field(default="", description="The bandit's arm; empty: not the bandit's offer.")
    origin: str = Field(default="", description="The worker that took the label.")


class TextLabel(Contract):
    """A rated text (a review with stars) for the sentiment model: its tokens, never raw text."""

    event_id: str = Field(description="The review or comment event (each is learned once).")
    tokens: Annotated[list[str], Field(max_length=400)] = Field(
        description="The text's tokens as the model reads them (personal data dropped)."
    )
    positive: bool = Field(description="What its rating says (neutral ratings are not sent).")
    origin: str = Field(default="", description="The worker that took the label.")


class Labels(Contract):
    """Labels taken in one pass of one worker (one record for many: producer batching)."""

    type: Literal["labels"] = "labels"
    labels: list[Label] = Field(default_factory=list)
    texts: list[TextLabel] = Field(
        default_factory=list, description="Rated texts for the sentiment model."
    )
