"""Features of one (customer, message, send time) candidate for the engagement model.

Only facts the profile view already holds at decision time, so scoring needs no
extra read; every feature is a float, categorical values are one-hots named
``"<kind>=<value>"`` (river's linear models take sparse dicts as they come).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from stream_app.clock import zone
from stream_app.profiles.derive import ProfileView

_TAU = 2.0 * math.pi
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Message:
    """One message the engine could send: what, and through which channel."""

    campaign_id: str
    channel: str
    category: str | None
    offer: str


@dataclass(frozen=True, slots=True)
class Candidate(Message):
    """A message and when it would be sent."""

    send_at: datetime


def featurize(view: ProfileView, candidate: Candidate) -> dict[str, float]:
    """Numeric features of ``candidate`` for the customer of ``view``.

    >>> from datetime import UTC, timedelta
    >>> from stream_app.profiles.derive import ValueRules, derive
    >>> from stream_app.profiles.state import Decayed, ProfileState
    >>> now = datetime(2026, 6, 1, 12, tzinfo=UTC)  # a Monday; Berlin is UTC+2 then
    >>> stored = ProfileState(
    ...     "c-1",
    ...     {"n": "3", "first_seen": "1780000000000", "timezone": "Europe/Berlin"},
    ...     tastes=Decayed(1780315200000, {"c:shoes": 3.0, "c:books": 1.0}),
    ...     rhythm=Decayed(1780315200000, {"20": 1.0, "21": 3.0}),  # local hours
    ... )
    >>> x = featurize(derive(stored, now, ValueRules()),
    ...               Candidate("spring", "push", "shoes", "discount", now + timedelta(hours=7)))
    >>> # 19:00 UTC is 21:00 in Berlin, where 3 of the 4 rhythm units fall
    >>> x["taste_share"], x["rhythm_share"], round(x["local_hour_cos"], 3), x["recency_never"]
    (0.75, 0.75, 0.707, 1.0)
    >>> sorted(k for k in x if "=" in k)[:3]
    ['campaign=spring', 'category=shoes', 'channel=push']
    """
    return message_features(view, candidate) | moment_features(view, candidate.send_at)


def message_features(view: ProfileView, message: Message) -> dict[str, float]:
    """The features that do not depend on the send time: the send-time search scores one
    message at about ten moments, and builds these once."""
    x: dict[str, float] = {
        "frequency": float(view.orders),
        "log_monetary": math.log1p(max(view.monetary, 0.0)),
        "r_score": float(view.r),
        "f_score": float(view.f),
        "m_score": float(view.m),
        f"lifecycle={view.lifecycle}": 1.0,
        f"tier={view.tier}": 1.0,
        f"campaign={message.campaign_id}": 1.0,
        f"channel={message.channel}": 1.0,
        f"offer={message.offer}": 1.0,
        f"category={message.category or 'none'}": 1.0,
        f"weather={view.context.get('weather', 'unknown')}": 1.0,
    }
    if view.recency_days is None:
        x["recency_never"] = 1.0
    else:
        x["log_recency_days"] = math.log1p(max(view.recency_days, 0.0))
    # The customer's own record with our messages: how responsive they are is the
    # strongest single signal; the prior (1 in 10) keeps newcomers from extremes.
    delivered = view.counts.get("delivered", 0)
    engaged = view.counts.get("clicked", 0)
    x["engagement_rate"] = (engaged + 1.0) / (delivered + 10.0)
    x["log_messages"] = math.log1p(delivered)
    x["taste_share"] = _taste_share(view.tastes, message.category)
    return x


def moment_features(view: ProfileView, at: datetime) -> dict[str, float]:
    """The features of sending at ``at``: the customer's local hour, and how long ago
    they were last seen."""
    local = at.astimezone(zone(view.local_zone))
    angle = _TAU * (local.hour + local.minute / 60.0) / 24.0
    x = {
        "rhythm_share": _hour_share(view.rhythm_local, local.hour),
        "local_hour_sin": math.sin(angle),
        "local_hour_cos": math.cos(angle),
        "weekend": 1.0 if local.weekday() >= 5 else 0.0,
    }
    # Seen minutes ago means in a session now, whatever the long-run rhythm says:
    # the first sign of a customer whose hours have moved.
    if view.last_seen is not None:
        hours = (at - view.last_seen).total_seconds() / 3600.0
        x["log_hours_since_seen"] = math.log1p(max(hours, 0.0))
    return x


def _taste_share(tastes: Mapping[str, float], category: str | None) -> float:
    """The category's share of the customer's current category interest (0 without any)."""
    if category is None:
        return 0.0
    total = 0.0
    mine = 0.0
    key = f"c:{category}"
    for name, value in tastes.items():
        if name.startswith("c:"):
            total += value
            if name == key:
                mine = value
    return mine / total if total > 0 else 0.0


def _hour_share(week: tuple[float, ...], hour: int) -> float:
    """Share of the customer's activity that falls in this local hour of day (any weekday).

    Hour of day rather than hour of week: a week of decayed history is too thin
    to say much about one Tuesday 19:00, but seven of them are informative.
    """
    total = sum(week)
    if total <= 0:
        return 0.0
    return sum(week[hour::24]) / total
