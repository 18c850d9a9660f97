"""Segments, campaigns and contact rules, and the models that learn from feedback.

Defaults: ``Rules`` and the models (``EngagementModel``, ``AdaptiveEngagement``,
``ContentBandit``, ``ProgressiveValidation``) own the defaults they have and these
settings take them from there (``default_of``); the others (caps, quiet hours, the
send-time prior, the challenger window) are stated here only.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from stream_app.decisions.moments import PresencePriors
from stream_app.decisions.planner import Rules
from stream_app.decisions.policies import Caps
from stream_app.decisions.quiet import QuietFit, QuietHours
from stream_app.events.base import Channel
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.engagement import EngagementModel
from stream_app.model.quality import ProgressiveValidation
from stream_app.profiles.presence import GAP_FIELDS
from stream_app.settings.base import Section, build, default_of

#: Relative shop activity by local hour of day (evening peak, lunch bump, quiet night).
# fmt: off
TYPICAL_DAY = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.0, 2.0, 2.2, 2.5,
    3.0, 2.8, 2.4, 2.3, 2.4, 2.8, 3.5, 4.2, 4.5, 4.0, 3.0, 2.0,
)
# fmt: on


class SegmentSettings(Section):
    """Segment definitions and how often they are looked at again."""

    file: Path | None = Field(
        default=Path("config/segments.toml"),
        description="TOML file of segment definitions (CEL expressions); none if absent.",
    )
    memo_customers: int = Field(
        default=100_000,
        ge=0,
        description="Customers whose last segment answers a worker keeps, so a rule whose "
        "inputs an event did not change is not evaluated again (about 0.2 KB each).",
    )
    refresh: timedelta = Field(
        default=timedelta(hours=1),
        description="Segments are looked at again at least this often without events (rules "
        "over time); life-cycle turns and waiting triggers are looked at when they fall due.",
    )


class DecisionSettings(Section):
    """Campaigns, caps, quiet hours, send-time choice, holdouts and the due-check timer."""

    campaigns_file: Path | None = Field(
        default=Path("config/campaigns.toml"), description="Campaign definitions (TOML)."
    )
    quiet_hours: tuple[int, int] | None = Field(
        default=(22, 8),
        description="The store's local [start, end) hours in which nothing is sent, unless "
        "a customer's own activity opens an hour at their edges (quiet_fit_*).",
    )
    legal_quiet_hours: tuple[int, int] | None = Field(
        default=None,
        description="Local [start, end) hours in which nothing is sent whatever a customer's "
        "activity (legal limits): on top of quiet_hours, never opened.",
    )
    quiet_fit_channels: tuple[Channel, ...] = Field(
        default=default_of(QuietFit, "channels"),
        description="Channels on which a customer's consistent activity opens hours at the "
        "edges of quiet_hours (not regulated ones such as sms); empty: on none.",
    )
    quiet_fit_min_events: float = Field(
        default=default_of(QuietFit, "min_events"),
        gt=0,
        description="Decayed events an hour of one weekday must hold for that day to count "
        "toward opening it (half-life profiles.rhythm_half_life).",
    )
    quiet_fit_min_days: int = Field(
        default=default_of(QuietFit, "min_days"),
        ge=1,
        le=7,
        description="Distinct weekdays on which an hour must count to open; it must also hold "
        "at least the customer's average hourly activity.",
    )
    caps_per_day: dict[str, int] = Field(
        default={"push": 2, "email": 1, "sms": 1, "in_app": 5},
        description="Per channel: at most this many messages in any rolling 24 h.",
    )
    caps_per_week: dict[str, int] = Field(
        default={"push": 5, "email": 3, "sms": 2, "in_app": 20},
        description="Per channel: at most this many messages in any rolling 7 days.",
    )
    caps_global_per_day: int | None = Field(
        default=3, ge=1, description="All channels and campaigns: at most this many a day."
    )
    timing_prior: tuple[float, ...] = Field(
        default=TYPICAL_DAY,
        min_length=24,
        max_length=24,
        description="Typical activity by local hour of day: the send-time prior.",
    )
    timing_prior_strength: float = Field(
        default=30.0,
        ge=0,
        description="Events of history (~10 visits) that weigh as much as the prior.",
    )
    timing_layer_strength: float = Field(
        default=default_of(Rules, "timing_layer_strength"),
        ge=0,
        description="Customers of evidence a learned prior (everyone's, a segment's) needs.",
    )
    timing_prior_half_life: timedelta = Field(
        default=timedelta(days=14), description="How fast learned send-time priors forget."
    )
    presence_pauses: tuple[float, ...] = Field(
        default=default_of(PresencePriors, "pauses"),
        min_length=len(GAP_FIELDS),
        max_length=len(GAP_FIELDS),
        description="Shares of pauses between activities by length (under 2, 5, 15, 30, 60, "
        "120, 240 min, longer): the prior of how soon a customer comes back, until "
        "everyone's is learned.",
    )
    presence_pause_strength: float = Field(
        default=default_of(PresencePriors, "pause_strength"),
        ge=0,
        description="Pauses of a customer's own history that weigh as much as the prior.",
    )
    presence_visits_per_week: float = Field(
        default=default_of(PresencePriors, "visits_per_week"),
        gt=0,
        description="Sessions a week of a customer without history, until everyone's is learned.",
    )
    presence_visit_strength_weeks: float = Field(
        default=default_of(PresencePriors, "visit_strength_weeks"),
        ge=0,
        description="Weeks of a customer's own history that weigh as much as the session prior.",
    )
    recovery_cooldown: timedelta = Field(
        default=default_of(Rules, "recovery_cooldown"),
        ge=timedelta(0),
        description="After a customer's negative remark, marketing to them is suppressed "
        "this long (reason service_recovery); service campaigns still reach them.",
    )
    holdout_salt: str = Field(
        default=default_of(Rules, "holdout_salt"),
        description="Change to redraw every holdout group.",
    )
    viewers_kept: timedelta = Field(
        default=timedelta(days=14), description="How long item viewers are remembered."
    )
    basket_kept: timedelta = Field(
        default=timedelta(days=90),
        description="How long an item's bought-together partners outlive its last order.",
    )
    dedupe_window: timedelta = Field(
        default=timedelta(days=7), description="How long emitted decision ids are remembered."
    )
    log_length: int = Field(
        default=30,
        ge=1,
        description="Entries kept in each customer's log of decisions and suppressions "
        "(the customer view's timeline); the oldest go first.",
    )
    log_kept: timedelta = Field(
        default=timedelta(days=30),
        description="How long a customer's decision log outlives its latest entry.",
    )
    scheduler_batch: int = Field(default=500, ge=1, description="Due checks run per claim.")
    timer_max_sleep: timedelta = Field(
        default=timedelta(seconds=30),
        description="Longest the timer sleeps without looking at the schedule (a last resort: "
        "it wakes at the next due check, and when this worker arms an earlier one).",
    )
    cutover_per_minute: int = Field(
        default=600,
        ge=1,
        description="At the cut-over from backfill to live (`stream-app cutover`): at most "
        "this many backfilled customers' due checks a minute (segments, time-based campaigns).",
    )
    scheduler_lease: timedelta = Field(
        default=timedelta(seconds=60), description="Claimed but unfinished checks retry after."
    )

    def rules(self) -> Rules:
        """The engine-wide contact rules."""
        quiet = None if self.quiet_hours is None else QuietHours(*self.quiet_hours)
        legal = None if self.legal_quiet_hours is None else QuietHours(*self.legal_quiet_hours)
        return build(
            Rules,
            self,
            caps=build(Caps, self, prefix="caps_"),
            quiet_hours=quiet,
            legal_quiet_hours=legal,
            quiet_fit=build(QuietFit, self, prefix="quiet_fit_"),
            presence=build(PresencePriors, self, prefix="presence_"),
        )


class ModelSettings(Section):
    """Learning from feedback (issue 4): engagement model, drift, challengers, the bandit."""

    offers: tuple[str, ...] = Field(
        default=("none", "free_shipping", "discount"),
        description="Offers the content bandit chooses among for reminders.",
    )
    attribution_window: timedelta = Field(
        default=timedelta(hours=24), description="A click or conversion within it is a positive."
    )
    checkpoint_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the one learner publishes a snapshot of the model and the "
        "bandit to Redis (only when it learned something since the last).",
    )
    refresh_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often every worker looks for a newer snapshot (one HGET; the "
        "snapshot is loaded only when its version changed).",
    )
    validation_window: int = Field(
        default=default_of(ProgressiveValidation, "window"),
        ge=10,
        description="Labels in rolling metrics.",
    )
    learning_rate: float = Field(
        default=default_of(EngagementModel, "learning_rate"), gt=0, description="SGD step size."
    )
    drift_delta: float = Field(
        default=default_of(AdaptiveEngagement, "delta"),
        gt=0,
        lt=1,
        description="ADWIN confidence: smaller, fewer false alarms.",
    )
    drift_compare_window: int = Field(
        default=500, ge=1, description="Labels over which a challenger must beat the champion."
    )
    drift_patience: int = Field(
        default=default_of(AdaptiveEngagement, "patience"),
        ge=1,
        description="Labels after which a challenger that did not win goes.",
    )
    bandit_min_epsilon: float = Field(
        default=default_of(ContentBandit, "min_epsilon"),
        ge=0,
        le=1,
        description="Least exploration of the content bandit.",
    )
    bandit_max_epsilon: float = Field(
        default=default_of(ContentBandit, "max_epsilon"),
        ge=0,
        le=1,
        description="Most (first) exploration of the content bandit.",
    )

    def engagement(self) -> AdaptiveEngagement:
        """A fresh engagement model with its drift detection and challenger rules."""
        return build(
            AdaptiveEngagement, self, prefix="drift_", champion=build(EngagementModel, self)
        )

    def bandit(self) -> ContentBandit:
        """A fresh content bandit."""
        return build(ContentBandit, self, prefix="bandit_")

    def validation(self) -> ProgressiveValidation:
        """Rolling quality metrics of the engagement model."""
        return build(ProgressiveValidation, self, prefix="validation_")
