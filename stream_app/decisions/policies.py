"""Contact policies: whether one more message may reach a customer, and why not.

Checked twice with the same function: when deciding (``at`` = the planned send
time, against the history of sent *and* scheduled messages) and again just
before sending (``at`` = now), because consent, goals and history may have
changed in between. Every suppression carries a reason from a closed
vocabulary, so suppressions can be counted by reason.

Rolling caps. "At most N in any rolling window W" is a property of the whole
timeline, scheduled messages included, so placing a message at ``t`` must
keep *every* window that contains ``t`` within the cap, not only the one
ending at ``t``. Any window (s, s + W] that contains ``t`` holds no more
messages than the window ending at its last message at or after ``t`` (or at
``t``), so it is enough to check the windows (R - W, R] for R = ``t`` and R =
each message in [t, t + W). With only past messages in the history (the
usual case at send time) this is the plain count over (t - W, t]: a message
exactly W ago no longer counts. Counting everything in (t - W, t + W) would be
simpler but over-suppresses: with a cap of 2 a day, messages 20 h before and
20 h after ``t`` never share a window with each other, so ``t`` fits.

Cooldown is the minimum gap between two messages of a campaign to a customer,
so it too looks both ways: a message of the campaign less than ``cooldown``
before or after ``at`` suppresses; exactly ``cooldown`` apart is allowed.

Duplicates: a history entry with the proposal's own decision id means the
decision was already sent or scheduled. When the scheduler records its own
reservation in the history, the send-time check must be given the history
without that one entry (or every scheduled message would be a duplicate of
itself).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from stream_app.clock import zone
from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.text import ordinal

Reason = Literal[
    "expired",
    "no_consent",
    "goal_reached",
    "service_recovery",
    "duplicate",
    "quiet_hours",
    "cooldown",
    "cap_day",
    "cap_week",
    "global_cap",
    "returned",
]
#: Every reason, in the order ``check`` tries them (the first failure wins); ``returned``
#: only at send time, by ``streaming.checks.recheck``, for replenishment and cross-sell.
REASONS: Final[tuple[Reason, ...]] = get_args(Reason)
#: The policies a decision that passes ``check`` has passed (its record lists them).
CHECKED: Final = (
    "not_expired",
    "consent",
    "goal_not_reached",
    "no_recent_complaint",
    "not_duplicate",
    "quiet_hours",
    "cooldown",
    "cap_day",
    "cap_week",
    "global_cap",
)

DAY: Final = timedelta(days=1)
WEEK: Final = timedelta(days=7)
_UTC: Final = ZoneInfo("UTC")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


@dataclass(frozen=True, slots=True)
class Sent:
    """One message in the customer's contact history: sent, or scheduled and counted."""

    decision_id: str
    campaign_id: str
    channel: str
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.at, "Sent.at")


@dataclass(frozen=True, slots=True)
class Caps:
    """Frequency caps; a channel missing from a mapping (or a None global cap) is uncapped."""

    per_day: Mapping[str, int]
    per_week: Mapping[str, int]
    global_per_day: int | None

    def __post_init__(self) -> None:
        limits = [*self.per_day.values(), *self.per_week.values()]
        if self.global_per_day is not None:
            limits.append(self.global_per_day)
        if any(limit < 0 for limit in limits):
            raise ValueError("caps must be >= 0")


@dataclass(frozen=True, slots=True)
class Proposal:
    """A message a campaign would like to send; higher priority wins, then expected value."""

    decision_id: str
    customer_id: str
    campaign_id: str
    channel: str
    priority: int
    expected_value: float
    send_at: datetime
    expires_at: datetime
    trigger_at: datetime
    cooldown: timedelta
    #: ``service`` (customer care): not held by caps, quiet hours nor a complaint's cool-down.
    kind: str = "marketing"

    def __post_init__(self) -> None:
        for name in ("send_at", "expires_at", "trigger_at"):
            _require_aware(getattr(self, name), f"Proposal.{name}")
        if self.cooldown < timedelta(0):
            raise ValueError("cooldown must be >= 0")
        if not math.isfinite(self.expected_value):
            raise ValueError("expected_value must be finite")


@dataclass(frozen=True, slots=True)
class Allowed:
    """Why the message may go, for the decision's explanation (the tightest cap)."""

    note: str


@dataclass(frozen=True, slots=True)
class Suppressed:
    reason: Reason
    detail: str = ""


Verdict = Allowed | Suppressed


def busiest(times: Iterable[datetime], at: datetime, window: timedelta) -> int:
    """Most messages already in one rolling ``window`` that would also contain ``at``.

    Windows are half-open, (end - window, end]; see the module docstring for
    why checking the windows ending at ``at`` and at each later message suffices.

    >>> from datetime import UTC
    >>> t = datetime(2026, 6, 1, 12, tzinfo=UTC)
    >>> h = timedelta(hours=1)
    >>> busiest([t - 20 * h, t + 20 * h], t, DAY)  # never in one window together
    1
    >>> busiest([t - 24 * h, t - 23 * h, t + h / 2], t, DAY)  # 24 h ago no longer counts
    2
    """
    ordered = sorted(times)
    ends = [at, *ordered[bisect_left(ordered, at) : bisect_left(ordered, at + window)]]
    return max(bisect_right(ordered, end) - bisect_right(ordered, end - window) for end in ends)


def goal_reached(goal_at: datetime | None, trigger_at: datetime) -> Suppressed | None:
    """The goal reached at or after the trigger: the message has lost its point."""
    if goal_at is None or goal_at < trigger_at:
        return None
    when, trigger = goal_at.isoformat(), trigger_at.isoformat()
    return Suppressed(
        "goal_reached", f"goal reached at {when}, not before the trigger at {trigger}"
    )


#: Reasons that cancel a planned decision (its point is gone), rather than suppress it.
CANCELLING: Final = frozenset({"goal_reached", "returned"})


def goods_returned(returned_at: datetime | None, trigger_at: datetime) -> Suppressed | None:
    """Goods returned (or an order cancelled) at or after the trigger: a replenishment
    or cross-sell message would push what the customer just sent back."""
    if returned_at is None or returned_at < trigger_at:
        return None
    return Suppressed("returned", f"goods returned at {returned_at.isoformat()}")


def check(
    p: Proposal,
    *,
    at: datetime,
    consent: Mapping[str, bool],
    history: Sequence[Sent],
    caps: Caps,
    quiet: QuietHours | None,
    timezone: str | None,
    goal_at: datetime | None,
    recovering_until: datetime | None = None,
) -> Verdict:
    """Judge one proposal at ``at``; the first failing rule, in ``REASONS`` order, wins.

    ``consent`` maps channel -> opted in (missing or False: no consent);
    ``goal_at`` is when the campaign's goal was last reached (e.g. the cart
    bought): at or after the trigger, the message has lost its point;
    ``recovering_until``: the end of the marketing cool-down after the customer's last
    complaint (``service_recovery``). A service message passes consent, goal, duplicate
    and its own cooldown only: caps and quiet hours are marketing's.

    >>> from datetime import UTC
    >>> t = datetime(2026, 6, 1, 12, tzinfo=UTC)
    >>> p = Proposal("d-1", "c-1", "cart", "push", 1, 0.5, t, t + DAY, t, timedelta(0))
    >>> caps = Caps({"push": 2}, {"push": 5}, None)
    >>> context = dict(consent={"push": True}, caps=caps, quiet=None, timezone=None, goal_at=None)
    >>> check(p, at=t, history=[Sent("d-0", "promo", "push", t - DAY / 2)], **context)
    Allowed(note='2nd push in 24 h of 2 allowed')
    >>> check(p, at=t, history=[], **context | {"consent": {"push": False}})
    Suppressed(reason='no_consent', detail='no opt-in for push')
    """
    _require_aware(at, "at")
    if at > p.expires_at:  # the urgency window includes its end
        return Suppressed("expired", f"expired at {p.expires_at.isoformat()}")
    if consent.get(p.channel) is not True:
        return Suppressed("no_consent", f"no opt-in for {p.channel}")
    reached = goal_reached(goal_at, p.trigger_at)
    if reached is not None:
        return reached
    if p.kind == "marketing" and recovering_until is not None and at < recovering_until:
        return Suppressed(
            "service_recovery",
            f"a recent complaint: no marketing until {recovering_until:%Y-%m-%d %H:%M}",
        )
    if any(sent.decision_id == p.decision_id for sent in history):
        return Suppressed("duplicate", f"decision {p.decision_id} already in the contact history")
    if quiet is not None and p.kind == "marketing":
        local = at.astimezone(zone(timezone))
        if quiet.contains(local):
            return Suppressed(
                "quiet_hours",
                f"{local:%H:%M} in {local.tzinfo} is within {quiet.window(local)}",
            )
    if p.cooldown > timedelta(0):
        close = [
            s.at for s in history if s.campaign_id == p.campaign_id and abs(s.at - at) < p.cooldown
        ]
        if close:
            nearest = min(close, key=lambda moment: abs(moment - at))
            return Suppressed(
                "cooldown",
                f"{p.campaign_id} message at {nearest.isoformat()}, less than "
                f"{p.cooldown} from this one",
            )
    if p.kind != "marketing":
        return Allowed("a service message: marketing caps do not apply")
    return _capped(p, at, history, caps)


def _capped(p: Proposal, at: datetime, history: Sequence[Sent], caps: Caps) -> Verdict:
    """The frequency caps: the first one ``p`` at ``at`` would break, else the tightest."""
    on_channel = [s.at for s in history if s.channel == p.channel]
    all_channels = [s.at for s in history]
    limits: list[tuple[Reason, int, int, str]] = []
    rules: list[tuple[Reason, int | None, list[datetime], timedelta, str]] = [
        ("cap_day", caps.per_day.get(p.channel), on_channel, DAY, f"{p.channel} in 24 h"),
        ("cap_week", caps.per_week.get(p.channel), on_channel, WEEK, f"{p.channel} this week"),
        ("global_cap", caps.global_per_day, all_channels, DAY, "message in 24 h (all channels)"),
    ]
    for reason, limit, times, window, label in rules:
        if limit is None:
            continue
        used = busiest(times, at, window)
        if used >= limit:
            return Suppressed(reason, f"{label}: {used} of {limit} already used")
        limits.append((reason, limit, used + 1, label))
    if not limits:
        return Allowed(f"no cap on {p.channel}")
    _, limit, nth, label = min(limits, key=lambda cap: cap[1] - cap[2])
    return Allowed(f"{ordinal(nth)} {label} of {limit} allowed")


def arbitrate(
    proposals: Sequence[Proposal],
    *,
    history: Sequence[Sent],
    caps: Caps,
    consent: Mapping[str, bool],
    quiet: QuietHours | Mapping[str, QuietHours | None] | None,
    timezone: str | None,
    goal_at: Mapping[str, datetime | None],
    at: datetime | None = None,
    recovering_until: datetime | None = None,
) -> tuple[list[Proposal], list[tuple[Proposal, Suppressed]]]:
    """Resolve competing proposals for ONE customer under shared caps.

    Proposals are judged best first (higher priority, then higher expected
    value, then decision id so the outcome never depends on input order), each
    with ``check``; an accepted one joins the history at its send time, so the
    caps, the cooldown and duplicate ids apply across the proposals too.

    The customer's context is given once: ``consent``, ``quiet`` (the same on every
    channel, or by channel: a customer's fitted hours differ by channel), ``timezone``;
    ``goal_at`` maps campaign id -> when its goal was reached (missing: never).
    ``at`` is the moment judged: by default each proposal's own ``send_at``
    (deciding); pass the current time to arbitrate messages that are due now.

    Returns (accepted, suppressed with why), each best first. Proposals for
    several customers are a ``ValueError``: they share no caps.
    """
    if len({p.customer_id for p in proposals}) > 1:
        raise ValueError("arbitrate resolves the proposals of one customer at a time")
    booked = list(history)
    accepted: list[Proposal] = []
    suppressed: list[tuple[Proposal, Suppressed]] = []
    for p in sorted(proposals, key=lambda q: (-q.priority, -q.expected_value, q.decision_id)):
        moment = p.send_at if at is None else at
        verdict = check(
            p,
            at=moment,
            consent=consent,
            history=booked,
            caps=caps,
            quiet=quiet[p.channel] if isinstance(quiet, Mapping) else quiet,
            timezone=timezone,
            goal_at=goal_at.get(p.campaign_id),
            recovering_until=recovering_until,
        )
        if isinstance(verdict, Suppressed):
            suppressed.append((p, verdict))
            continue
        accepted.append(p)
        booked.append(Sent(p.decision_id, p.campaign_id, p.channel, moment))
    return accepted, suppressed
