"""Campaigns as configuration: what triggers a message, to whom, how, when, how often.

A campaign file (TOML, ``[[campaigns]]`` tables) is validated by pydantic at
start-up, so a typo stops the worker before the stream, never in it. Audience
expressions are CEL over the profile, exactly like segments.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stream_app.events.base import Channel, Identifier
from stream_app.segments.rules import SegmentConfigError, SegmentDefinition, SegmentRules

#: A duration that may be zero ("at once") / must be positive (a window). Negative ones
#: would load and then never (or always) fire, so they fail at start-up instead.
Delay = Annotated[timedelta, Field(ge=timedelta(0))]
Span = Annotated[timedelta, Field(gt=timedelta(0))]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CartAbandonment(_Config):
    """A cart idle for ``idle`` with no checkout or order since."""

    type: Literal["cart_abandonment"] = "cart_abandonment"
    idle: Delay = timedelta(minutes=30)


class BrowseAbandonment(_Config):
    """At least ``min_views`` viewed items of one category within ``within``, idle for
    ``idle`` since the last view, nothing added to the cart or bought since the first."""

    type: Literal["browse_abandonment"] = "browse_abandonment"
    min_views: Annotated[int, Field(ge=2)] = 3
    within: Span = timedelta(hours=24)
    idle: Delay = timedelta(hours=1)


class Replenishment(_Config):
    """The customer's own purchase interval says the next order is due within ``lead``."""

    type: Literal["replenishment"] = "replenishment"
    lead: Delay = timedelta(days=1)


class WinBack(_Config):
    """The life cycle turned ``at_risk`` (later than the customer's own rhythm)."""

    type: Literal["win_back"] = "win_back"


class Geofence(_Config):
    """Near one of our stores (sensor events), optionally only in some weather."""

    type: Literal["geofence"] = "geofence"
    weather: tuple[str, ...] = ()
    within: Span = timedelta(minutes=15)


class SegmentEntry(_Config):
    """The customer entered ``segment``."""

    type: Literal["segment_entry"] = "segment_entry"
    segment: Identifier


class PriceDrop(_Config):
    """An item on the customer's wishlist, or viewed within ``viewed_within``, got at least
    ``min_drop`` cheaper."""

    type: Literal["price_drop"] = "price_drop"
    min_drop: Annotated[float, Field(gt=0, lt=1)] = 0.1
    viewed_within: Span = timedelta(days=14)


class BackInStock(_Config):
    """An item on the customer's wishlist, or viewed within ``viewed_within``, is available
    again."""

    type: Literal["back_in_stock"] = "back_in_stock"
    viewed_within: Span = timedelta(days=14)


class NegativeRemark(_Config):
    """A review or comment at or below the negative threshold (a complaint) within
    ``within``: older ones (history, a late event) are not answered."""

    type: Literal["negative_remark"] = "negative_remark"
    within: Span = timedelta(days=1)


Trigger = Annotated[
    CartAbandonment
    | BrowseAbandonment
    | Replenishment
    | WinBack
    | Geofence
    | SegmentEntry
    | PriceDrop
    | BackInStock
    | NegativeRemark,
    Field(discriminator="type"),
]
TriggerType = Literal[
    "cart_abandonment",
    "browse_abandonment",
    "replenishment",
    "win_back",
    "geofence",
    "segment_entry",
    "price_drop",
    "back_in_stock",
    "negative_remark",
]


class Urgency(_Config):
    """The send window after the trigger: not before ``earliest``, not after ``latest``;
    ``half_life``: how fast the message loses value after the trigger (a price drop
    within hours, a win-back within days), which the planner trades against waiting
    for a moment the customer is likelier to read it."""

    earliest: Delay = timedelta(0)
    latest: Delay = timedelta(hours=12)
    half_life: Delay = Field(default=timedelta(days=1), gt=timedelta(0))

    @model_validator(mode="after")
    def _ordered(self) -> Urgency:
        if not timedelta(0) <= self.earliest <= self.latest:
            raise ValueError("need 0 <= earliest <= latest")
        return self


class Campaign(_Config):
    """One campaign. ``holdout``: share of triggered customers deliberately not messaged,
    so lift can be measured; ``goal``: what counts as conversion (and cancels a pending
    message when it happens first); ``kind``: ``service`` (customer care) is not held by
    the marketing caps and quiet hours nor by the cool-down after a complaint."""

    id: Identifier
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    audience: str | None = Field(default=None, description="CEL over the profile; all if unset.")
    channels: tuple[Channel, ...] = Field(default=("push",), min_length=1)
    content: Literal["fixed", "bandit", "cross_sell"] = "fixed"
    template: Identifier | None = None
    offer: Identifier | None = None
    urgency: Urgency = Urgency()
    send_time: Literal["optimize", "earliest"] = "optimize"
    cooldown: Delay = timedelta(days=1)
    priority: int = 0
    value: Annotated[float, Field(ge=0)] = 1.0
    holdout: Annotated[float, Field(ge=0, le=1)] = 0.1
    goal: Literal["purchase", "visit"] = "purchase"
    goal_window: Span = timedelta(days=3)
    kind: Literal["marketing", "service"] = "marketing"

    @property
    def template_name(self) -> str:
        return self.template or self.id


class CampaignFile(_Config):
    campaigns: tuple[Campaign, ...] = ()


class CampaignConfigError(ValueError):
    """A campaign file that cannot be used."""


class CampaignBook:
    """The enabled campaigns, by trigger type, with their audiences compiled."""

    def __init__(self, campaigns: Sequence[Campaign]) -> None:
        ids = Counter(c.id for c in campaigns)
        twice = sorted(name for name, n in ids.items() if n > 1)
        if twice:
            raise CampaignConfigError(f"duplicate campaign ids: {twice}")
        self.campaigns = tuple(c for c in campaigns if c.enabled)
        try:
            self.audiences = SegmentRules(
                [
                    SegmentDefinition(name=c.id, expression=c.audience)
                    for c in self.campaigns
                    if c.audience
                ],
                kind="campaign audience",
            )
        except SegmentConfigError as exc:
            raise CampaignConfigError(str(exc)) from exc

    def for_trigger(self, trigger: TriggerType) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns if c.trigger.type == trigger)

    def get(self, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    @property
    def trigger_types(self) -> frozenset[str]:
        return frozenset(c.trigger.type for c in self.campaigns)


def load_campaigns(path: Path | None) -> CampaignBook:
    """Campaigns from a TOML file; none without one. Durations are ISO 8601 or seconds.

    >>> book = CampaignBook([Campaign(id="cart", trigger=CartAbandonment())])
    >>> [c.id for c in book.for_trigger("cart_abandonment")], book.for_trigger("win_back")
    (['cart'], ())
    """
    if path is None or not path.is_file():
        return CampaignBook([])
    try:
        parsed = CampaignFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CampaignConfigError(f"{path}: {exc}") from exc
    try:
        return CampaignBook(parsed.campaigns)
    except CampaignConfigError as exc:
        raise CampaignConfigError(f"{path}: {exc}") from exc
