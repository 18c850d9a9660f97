"""What a profile as it is now says: its segments and the profile triggers it meets.

Run for every customer of every batch, from the state the batch left (and by the
timer when time alone may have changed the answer): segment membership against
what was recorded, the triggers that need no waiting (geofence, segment entry,
replenishment or win-back that are due, browse abandonment that has been idle
long enough), and the moments worth looking again, so nothing waits for a poll.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from stream_app.decisions.campaigns import Campaign
from stream_app.decisions.triggers import Hit, profile_hits
from stream_app.profiles.derive import ProfileView
from stream_app.segments.rules import SegmentMemo, SegmentRules

#: Campaign triggers found in a profile (the others: cart checks, catalog changes).
PROFILE_TRIGGERS = frozenset(
    {
        "browse_abandonment",
        "replenishment",
        "win_back",
        "geofence",
        "segment_entry",
        "negative_remark",
    }
)


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """A customer's segments now, and which they entered and left."""

    customer_id: str
    members: frozenset[str]
    entered: frozenset[str]
    exited: frozenset[str]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One customer's segments and triggers as of ``view.now``."""

    members: frozenset[str]
    change: MembershipChange | None
    hits: list[Hit]
    #: When to look again (earliest first is not promised): triggers waiting for time.
    waits: list[datetime]
    rule_errors: int


def profile_campaigns(campaigns: Sequence[Campaign]) -> list[Campaign]:
    """The campaigns whose trigger is found in a profile."""
    return [c for c in campaigns if c.trigger.type in PROFILE_TRIGGERS]


def evaluate(
    view: ProfileView,
    before: Set[str],
    rules: SegmentRules,
    campaigns: Sequence[Campaign],
    memo: SegmentMemo | None = None,
    changed: Set[str] | None = None,
) -> Evaluation:
    """Segments of ``view`` against ``before`` (what was recorded), and the hits and waits
    of ``campaigns`` (``profile_campaigns``). A segment no longer defined is left.
    ``changed`` (event types just applied) limits the triggers looked at to those they
    can change (``triggers.CHANGED_BY``); None looks at all."""
    members, failed = rules.evaluate(view, memo)
    known = set(rules.names)
    entered = members - before
    exited = (before - members) | (before - known)
    change = None
    if entered or exited:
        change = MembershipChange(
            view.customer_id, frozenset(members), frozenset(entered), frozenset(exited)
        )
    hits, waits = profile_hits(view, sorted(entered), campaigns, changed=changed)
    lifecycle_at = view.lifecycle_changes_at
    if lifecycle_at is not None and rules.names:
        waits.append(lifecycle_at)
    return Evaluation(frozenset(members), change, hits, waits, len(failed))
