"""Request and response bodies of the API (pydantic), so the OpenAPI spec is exact.

Response models forbid unknown fields: if ``ProfileView.as_dict`` or a lift
record gains a field, the tests fail until the API states it, instead of the
spec silently drifting from what is served.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from stream_app.events.base import Channel, CustomerId, Identifier
from stream_app.events.decision import Decision


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(Model):
    """Every non-validation error: a short reason, never input values."""

    detail: str


class Health(Model):
    """``read_only``: Redis is full (maxmemory): reads are served, writes answer 503."""

    status: Literal["ok", "ready", "read_only"]


# --- profiles ----------------------------------------------------------------


class Amount(Model):
    """Money: exact decimal text in the currency's minor unit, and which currency."""

    amount: str = Field(description='Decimal text, e.g. "12.34" (JPY "1500", KWD "1.250").')
    currency: str = Field(description="ISO 4217 code.")


class CurrencySpend(Model):
    gross: str = Field(description="Order totals, exact decimal text.")
    returned: str = Field(description="Credited back by returns, refunds, cancellations.")
    net: str = Field(description="Gross less returned (negative while a return's order is unseen).")


class ProfileValue(Model):
    orders: int = Field(description="Orders net of those returned or cancelled as a whole.")
    orders_gross: int = Field(description="Orders placed.")
    orders_returned: int = Field(description="Orders returned or cancelled as a whole.")
    units: int = Field(description="Units bought.")
    units_returned: int = Field(description="Units returned or cancelled.")
    monetary: Amount = Field(description="Net spend in the base currency (from dated rates).")
    aov: Amount | None = Field(description="Net spend per net order, base currency.")
    return_rate: float | None = Field(description="Share of gross base spend credited back.")
    spend: dict[str, CurrencySpend] = Field(
        description="Per currency, exact; a currency without a rate counts here only."
    )
    base_currency: str = Field(description="Currency of monetary and aov.")
    fx_rates_date: str = Field(description="Date of the rates base figures were derived with.")
    recency_days: float | None = Field(description="Days since the last purchase.")
    rfm: str = Field(description="Recency, frequency and monetary scores (1-5 each).")
    tier: str
    price_band: str | None


class ProfileLifecycle(Model):
    stage: str = Field(description="new, active, at_risk, lapsed or churned.")
    interval_days: float = Field(description="The customer's own inter-purchase interval.")
    next_purchase_due: datetime | None


class ProfileTraits(Model):
    age: int | None
    gender: str | None
    timezone: str | None
    locale: str | None = Field(description="BCP 47 tag: latest traits or purchase.")
    country: str | None = Field(description="ISO 3166-1 alpha-2: latest traits or purchase.")
    region: str | None = Field(description="Free text: latest traits or purchase.")
    consent: dict[str, bool] = Field(description="Channel -> opted in.")


class CartItem(Model):
    item_id: str
    quantity: int
    price: float


class ProfileSession(Model):
    in_session: bool = Field(description="Active within the last 30 minutes: a session is open.")
    session_started: datetime | None = Field(description="When the open session began.")
    last_active: datetime | None = Field(
        description="The latest activity (clickstream, purchase, opened or clicked message)."
    )


class ProfileComplaint(Model):
    at: datetime = Field(description="When the negative remark was made (event time).")
    source: str = Field(description="Where: app_review, support_chat, social... (empty: unknown).")
    about: str = Field(description="order:<id> or item:<id> it is about (empty: neither).")
    polarity: float = Field(description="Its polarity, -1 (worst) to the negative threshold.")


class Profile(Model):
    """A customer's profile as of ``as_of`` (docs/profile.md); pseudonymous, no raw PII."""

    customer_id: str
    as_of: datetime
    events: int
    first_seen: datetime | None
    last_seen: datetime | None
    value: ProfileValue
    lifecycle: ProfileLifecycle
    traits: ProfileTraits
    top_categories: list[str]
    tastes: dict[str, float] = Field(
        description="Current decayed affinities, c:<category> / b:<brand>."
    )
    active_hours_local: list[str]
    session: ProfileSession = Field(description="Present activity, as the send time sees it.")
    cart: list[CartItem]
    recently_viewed: list[str]
    wishlist: list[str] = Field(description="Items on the wishlist now, latest added first.")
    segments: list[str] = Field(
        description="The configured segments whose rules the profile meets as of ``as_of``."
    )
    recent_searches: list[str]
    context: dict[str, str] = Field(description="Latest sensor context (geo, store, weather).")
    sentiment: float | None = Field(
        description="Decayed mean polarity of the customer's reviews and comments, -1 to 1 "
        "(null before any); the texts are never stored."
    )
    complaints: list[ProfileComplaint] = Field(
        description="Recent negative remarks, newest first: when, where, about what (no text)."
    )


class ProfileBatchRequest(Model):
    ids: Annotated[list[CustomerId], Field(min_length=1)] = Field(
        description="Customer ids; at most STREAM_APP_API__BATCH_MAX."
    )


class ProfileBatch(Model):
    profiles: list[Profile] = Field(description="Profiles found, in the order asked.")
    not_found: list[str] = Field(description="Ids with no profile.")


# --- segments ----------------------------------------------------------------


class Segment(Model):
    name: str
    description: str
    size: int = Field(description="Customers in the segment now.")


class SegmentList(Model):
    segments: list[Segment]


class SegmentMembers(Model):
    segment: str
    members: list[str] = Field(description="Customer ids of this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


# --- decisions ----------------------------------------------------------------


class SentMessage(Model):
    decision_id: Identifier
    campaign_id: Identifier
    channel: Channel
    sent_at: datetime


class CustomerDecisions(Model):
    customer_id: str
    scheduled: list[Decision] = Field(description="Planned, waiting for their send time.")
    recent: list[SentMessage] = Field(description="Sent in the last 8 days, newest first.")


class TimelineEntry(Model):
    at: datetime = Field(description="When the engine planned, sent or decided against it.")
    kind: Literal["planned", "sent", "held_out", "cancelled", "suppressed"] = Field(
        description="held_out: in the campaign's holdout, recorded, never sent; cancelled: "
        "goal reached or goods returned before the send time."
    )
    decision_id: Identifier
    campaign_id: Identifier
    why: str = Field(description="A decision's explanation, or why no message (the reason).")
    detail: str = Field(description="What the policy saw (e.g. a cap's use), if anything.")
    channel: Channel | None
    send_at: datetime | None


class CustomerView(Model):
    """One customer for operators and support: the profile, the week's rhythm, and what
    the engine decided for them and against them, with its reasons."""

    customer_id: str
    profile: Profile
    rhythm: Annotated[list[float], Field(min_length=168, max_length=168)] = Field(
        description="Decayed activity by local hour of week: Monday 00:00 first, 7 x 24."
    )
    timeline: list[TimelineEntry] = Field(
        description="Decisions (with their explanations) and suppressions (with their "
        "reasons), newest first: the customer's capped log, planned decisions and the "
        "8-day contact history."
    )


# --- reports ------------------------------------------------------------------


class ArmCounts(Model):
    n: int
    conversions: int


class LiftEstimate(Model):
    treated_rate: float
    holdout_rate: float
    difference: float = Field(description="Treated minus holdout conversion rate.")
    low: float = Field(description="Lower bound of the 95 % interval.")
    high: float = Field(description="Upper bound of the 95 % interval.")
    relative: float | None


class StratumLift(LiftEstimate):
    name: str


class CampaignLift(Model):
    campaign_id: str
    treated: ArmCounts
    holdout: ArmCounts
    pooled: LiftEstimate
    stratified: LiftEstimate | None = Field(description="Mantel-Haenszel, by tier.")
    strata: list[StratumLift]
    simpson: bool = Field(description="Pooled and stratified lifts disagree in sign.")


class LiftReport(Model):
    campaigns: list[CampaignLift]


class FunnelRow(Model):
    cohort: str = Field(description="Acquisition cohort (period first seen), or 'all'.")
    source: str = Field(description="First-touch source, or 'all' (sources summed).")
    stages: dict[str, int] = Field(description="Customers who reached each stage.")


class FunnelReport(Model):
    period: Literal["day", "week", "month"]
    total: FunnelRow = Field(description="Every cohort together.")
    cohorts: list[FunnelRow]


class CohortRetention(Model):
    cohort: str
    source: str
    customers: int = Field(description="Customers acquired in the cohort.")
    retained: list[int] = Field(description="Of them, active again k = 1, 2 ... periods later.")


class CohortsReport(Model):
    period: Literal["day", "week", "month"]
    cohorts: list[CohortRetention]


class Accepted(Model):
    status: Literal["accepted"] = "accepted"


#: A customer id in a path, as the event contracts restrict it (safe inside Redis keys).
CustomerIdPath = Annotated[CustomerId, Path(description="Customer id.")]


def _rfc3339(value: object) -> object:
    """Only RFC 3339 text (pydantic alone would also read a number as epoch seconds)."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 date-time")
    return value


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
AsOfQuery = Annotated[
    AwareDatetime | None,
    BeforeValidator(_rfc3339),
    Query(
        description="Read the profile as of this time (RFC 3339 with its offset; default now, "
        "never in the future): life cycle, recency, decayed tastes and rhythm, and segments "
        "are derived then, from what is stored."
    ),
]
