"""The funnel (AARRR) and cohort reports: what each stage means (docs/reports.md).

Defaults are ``FunnelRules``' (``default_of``). The period and the retention periods
also shape what profiles keep (``profiles.cohorts``): a change needs the counters
rebuilt: the counters kept so far counted by the old definitions (docs/reports.md).
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from stream_app.decisions.funnel import FunnelRules
from stream_app.profiles.cohorts import Period
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.state import StateLimits
from stream_app.settings.base import Section, build, default_of


class FunnelSettings(Section):
    """Acquisition cohorts, the stages' definitions and the first-touch split."""

    period: Period = Field(
        default=default_of(FunnelRules, "period"),
        description="Cohort and retention step: UTC day, ISO week or calendar month. A "
        "customer's cohort is the period they were first seen in (any event).",
    )
    retention_periods: int = Field(
        default=default_of(FunnelRules, "retention_periods"),
        ge=2,
        le=60,
        description="Periods of activity kept per customer from their first active one "
        "(a bitmap in the profile): retention is reported for k = 1 .. this - 1.",
    )
    activation_events: tuple[str, ...] = Field(
        default=default_of(FunnelRules, "activation_events"),
        min_length=1,
        description="Event types that count towards activation (e.g. add_to_cart, purchase).",
    )
    activation_min: int = Field(
        default=default_of(FunnelRules, "activation_min"),
        ge=1,
        description="Activated: at least this many of the activation events, together.",
    )
    sources: tuple[str, ...] = Field(
        default=default_of(FunnelRules, "sources"),
        description="First-touch sources named in the split: a referrer host with this "
        "label (www.google.com: google); other referrers are 'other', none 'direct', a "
        "customer with no page view 'unknown'.",
    )

    def rules(self) -> FunnelRules:
        return build(FunnelRules, self)

    def limits(self, limits: StateLimits) -> StateLimits:
        """The profile's limits with the active periods this report keeps."""
        return replace(limits, active_periods=self.retention_periods)

    def fold(self, config: FoldConfig) -> FoldConfig:
        """The fold's configuration with the period activity is marked in."""
        return replace(config, active_period=self.period)
