"""A customer's decisions and the messages they did not get, as one timeline: what
support reads to answer "why did she get this, why did he not?". Pure.

The worker logs an ``Entry`` whenever it plans, sends (or holds out), cancels or
suppresses a message for a customer; the customer view merges that capped log with the
decisions still planned and the contact history (which outlive an entry capped away),
newest first, each (kind, decision) once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from stream_app.decisions.policies import CANCELLING, Sent
from stream_app.events.decision import Decision

Kind = Literal["planned", "sent", "held_out", "cancelled", "suppressed"]


@dataclass(frozen=True, slots=True)
class Why:
    """Why a trigger occurrence got no message: the campaign, the reason (a policy's,
    ``audience`` or ``duplicate``) and what the policy saw."""

    campaign_id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline; ``why`` is a decision's explanation or a suppression's
    reason. Holds no raw personal data: ids, campaign names and the engine's own text."""

    at: datetime
    kind: Kind
    decision_id: str
    campaign_id: str
    why: str = ""
    detail: str = ""
    channel: str | None = None
    send_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.decision_id


def decided(kind: Kind, decision: Decision, at: datetime) -> Entry:
    """A decision planned, sent or held out at ``at``, with its explanation."""
    return Entry(
        at,
        kind,
        decision.decision_id,
        decision.campaign_id,
        decision.explanation,
        channel=decision.channel,
        send_at=decision.send_at,
    )


def not_sent(decision_id: str, why: Why, at: datetime) -> Entry:
    """An occurrence answered without a message: cancelled (the goal was reached, the goods
    returned) or suppressed (audience, consent, caps, quiet hours...).

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> not_sent("dec-1", Why("winback", "goal_reached"), at).kind
    'cancelled'
    >>> not_sent("dec-2", Why("winback", "cap_day", "day cap: 3 of 3 already used"), at).kind
    'suppressed'
    """
    kind: Kind = "cancelled" if why.reason in CANCELLING else "suppressed"
    return Entry(at, kind, decision_id, why.campaign_id, why.reason, why.detail)


def timeline(
    logged: Iterable[Entry], planned: Iterable[Decision], sent: Iterable[Sent], limit: int
) -> list[Entry]:
    """The newest ``limit`` entries, newest first, each (kind, decision) once: the log's,
    then planned decisions and sent messages the log no longer (or never) held.

    >>> from datetime import UTC, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> log = [Entry(t0, "sent", "d1", "cart", "left in cart"), Entry(t0, "sent", "d1", "cart")]
    >>> older = Sent("d0", "cart", "email", t0 - timedelta(days=1))
    >>> [(e.decision_id, e.why) for e in timeline(log, [], [Sent("d1", "cart", "email", t0),
    ...     older], 10)]
    [('d1', 'left in cart'), ('d0', '')]
    """
    entries = list(logged)
    entries += [decided("planned", d, d.decided_at) for d in planned]
    entries += [Entry(s.at, "sent", s.decision_id, s.campaign_id, channel=s.channel) for s in sent]
    seen: set[tuple[str, str]] = set()
    kept: list[Entry] = []
    for entry in entries:  # the log's entry first: it has the explanation
        if entry.key not in seen:
            seen.add(entry.key)
            kept.append(entry)
    kept.sort(key=lambda e: (e.at, _ORDER[e.kind], e.decision_id), reverse=True)
    return kept[:limit]


#: Of one decision at one instant, the later step first once reversed (sent after planned).
_ORDER: dict[Kind, int] = {"planned": 0, "suppressed": 1, "cancelled": 1, "sent": 2, "held_out": 2}
