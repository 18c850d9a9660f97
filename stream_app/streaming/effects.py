"""What one customer's pass writes, as commands for the pass's single commit.

The profile over the version it was read at and its id index, device links,
the cart and segment timers at their exact due times, membership changes,
conversions, and decisions: recorded as sent when due now (they were published
before the commit), else scheduled for their send check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from stream_app.clock import to_ms
from stream_app.counts import Counts
from stream_app.decisions.attribution import Window
from stream_app.decisions.evaluation import Evaluation
from stream_app.decisions.funnel import FunnelRules, FunnelView, cells, delta
from stream_app.decisions.timeline import Entry, Kind, Why, decided, not_sent
from stream_app.decisions.triggers import Hit
from stream_app.events.deadletter import DeadLetter
from stream_app.events.decision import Decision
from stream_app.events.late import LateEvent
from stream_app.profiles.derive import ProfileView
from stream_app.profiles.ops import Order
from stream_app.storage.bundle import Stores
from stream_app.storage.commit import Writes
from stream_app.storage.customers import Loaded
from stream_app.storage.decisions import PendingDecision
from stream_app.storage.layout import Check, check_member
from stream_app.storage.scoring import Scored
from stream_app.storage.scripts import ScriptCall

if TYPE_CHECKING:
    from stream_app.streaming.audit import Auditor

#: Profile field: event ids at or after this event time (ms) are all in the customer's
#: index. Set by history passes, which trim nothing (a customer known only from history
#: keeps every id, so history is never late for them); dropped by a live write, which
#: trims to the allowed lateness behind the newest event (docs/profile.md).
IDS_FLOOR = "@ids_floor"


@dataclass(slots=True)
class Passed:
    """What a pass made of one customer (replaced wholesale when passed again)."""

    loaded: Loaded
    view: ProfileView | None = None
    evaluation: Evaluation | None = None
    #: Id index entries to add: (event id hash, event ms) of the events applied.
    applied: list[tuple[str, int]] = field(default_factory=list)
    #: Those of them kept as long as the profile (orders'), in the order index instead.
    kept: list[str] = field(default_factory=list)
    #: The first live write after history: the id index shrinks from all of history to
    #: the allowed lateness, and is rebuilt to get Redis' compact encoding back.
    compact_ids: bool = False
    dead: list[DeadLetter] = field(default_factory=list)
    #: Events beyond the allowed lateness, for the late topic.
    late: list[LateEvent] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    #: Anonymous profiles linked by the events applied (their links are renewed).
    links: list[str] = field(default_factory=list)
    cart_due_ms: int | None = None
    #: A customer's history, applied without evaluation: the cut-over arms their checks.
    backfilled: bool = False
    #: Items viewed (item, ms), for the catalog's audiences.
    views: list[tuple[str, int]] = field(default_factory=list)
    #: Wishers index entries to set: item -> when wished, or None (not wished).
    wishes: dict[str, int | None] = field(default_factory=dict)
    conversions: list[Window] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    #: What the funnel counted the customer in before the pass (None: nothing applied).
    funnel: FunnelView | None = None
    #: Hits, each with the moment it began (its triggering event, in ms).
    hits: list[tuple[Hit, int]] = field(default_factory=list)
    winners: list[PendingDecision] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    #: Occurrences answered without a message: decision id -> why.
    settled: dict[str, Why] = field(default_factory=dict)
    #: Planned decisions whose send check ran: to send (or hold out), or dropped (why).
    due_sent: list[PendingDecision] = field(default_factory=list)
    due_dropped: dict[str, Why] = field(default_factory=dict)
    #: When to check the cart again (an add too recent for some campaign).
    cart_again_ms: int | None = None
    counters: Counts = field(default_factory=Counter)

    def to_send(self, now: datetime) -> list[PendingDecision]:
        """Decisions this pass sends (or holds out): new ones due now, and due ones."""
        return [*(w for w in self.winners if w.decision.send_at <= now), *self.due_sent]

    @property
    def customer_id(self) -> str:
        return self.loaded.customer_id


@dataclass(frozen=True, slots=True)
class EffectRules:
    allowed_lateness_ms: int
    segment_refresh: timedelta
    attribution_window: timedelta
    sent_ttl: timedelta
    pending_ttl: timedelta
    scored_ttl_s: int
    funnel: FunnelRules


@dataclass(frozen=True, slots=True, kw_only=True)
class Effects:
    """Adds a customer's writes to a pass's ``Writes``; tells the earliest timer armed."""

    rules: EffectRules
    #: The stores written to: profiles, segments, decisions, schedule, scoring, basket.
    stores: Stores
    #: Checks a sample of the profiles written for broken invariants (None: off).
    audit: Auditor | None = None

    def add(
        self, writes: Writes, passed: Passed, now: datetime
    ) -> tuple[list[ScriptCall], int | None]:
        """Queue ``passed``'s writes; returns the script calls that ride beside them
        (basket counts) and the earliest due time of a timer armed, if any."""
        if self.audit is not None:
            self.audit.check(passed, now)
        now_ms = to_ms(now)
        state = passed.loaded.state
        cid = state.customer_id
        armed: list[int] = []
        profiles = self.stores.profiles
        loaded = passed.loaded
        merged = [] if loaded.erased else loaded.merged  # nothing joins them
        for other in merged:  # before the profile's write, which trims and renews the ids
            profiles.merge_in(writes, cid, other, loaded.carried.get(other.customer_id))
        for aid, carried in loaded.carried.items():
            if carried.done:  # a cluster's fold written before, its clean-up not
                profiles.fold(writes, cid, aid, carried)
        if passed.applied or merged:
            newest = int(state.fields.get("last_seen", now_ms))
            floor = state.fields.get(IDS_FLOOR, newest - self.rules.allowed_lateness_ms)
            assert isinstance(floor, int)
            profiles.write(
                writes, state, passed.applied, passed.kept, floor, compact=passed.compact_ids
            )
        if passed.funnel is not None:  # cells before and after: exact (docs/reports.md)
            changes = delta(*(cells(v, self.rules.funnel) for v in (passed.funnel, state)))
            self.stores.funnel.count(writes, cid, changes)
        if passed.links:
            done = {*passed.loaded.refused, *(other.customer_id for other in merged)}
            if links := [aid for aid in passed.links if aid not in done]:
                profiles.renew_links(writes, cid, links)
        for token in passed.devices:
            profiles.link_device(writes, token, cid)
        if passed.wishes:
            self.stores.catalog.wished(writes, cid, passed.wishes)
        for cart_due in (passed.cart_due_ms, passed.cart_again_ms):
            if cart_due is not None:
                self.stores.schedule.arm(writes, {check_member(Check("cart", cid)): cart_due}, "GT")
                armed.append(cart_due)
        if passed.backfilled and passed.applied:
            self.stores.schedule.backfilled(writes, [cid], now_ms)
        if passed.evaluation is not None:
            armed.append(self._evaluated(writes, passed.evaluation, cid, now))
        self.stores.decisions.convert(writes, [(cid, w) for w in passed.conversions])
        armed += self._decided(writes, passed, now)
        calls = self.stores.basket.count(passed.orders) if passed.orders else []
        if loaded.erased and loaded.fresh:
            calls += self.stores.customers.stitcher.release(cid, loaded.fresh)
        return calls, min(armed, default=None)

    def _evaluated(self, writes: Writes, evaluation: Evaluation, cid: str, now: datetime) -> int:
        """Membership changes, and the segment check at the first moment time alone may
        change something (never later than a refresh period)."""
        if evaluation.change is not None:
            self.stores.segments.record(writes, [evaluation.change])
        due = min([now + self.rules.segment_refresh, *evaluation.waits])
        due_ms = max(to_ms(due), to_ms(now))
        self.stores.schedule.arm(writes, {check_member(Check("seg", cid)): due_ms}, "LT")
        return due_ms

    def _decided(self, writes: Writes, passed: Passed, now: datetime) -> list[int]:
        """Decisions sent now are recorded as sent (published already), dropped ones
        forgotten; the others wait for their send check. Returns those checks' due times."""
        rules = self.rules
        sent = passed.to_send(now)
        later = [w for w in passed.winners if w.decision.send_at > now]
        dropped = [(passed.customer_id, did) for did in passed.due_dropped]
        self.stores.decisions.finish(writes, sent, dropped, now, rules.sent_ttl)
        settled = {did: why.reason for did, why in passed.settled.items()}
        self.stores.decisions.settle(writes, passed.customer_id, settled, rules.sent_ttl)
        self.stores.decisions.schedule(writes, later, rules.pending_ttl)
        self.stores.decision_log.append(writes, passed.customer_id, _logged(passed, later, now))
        if passed.scored:
            self.stores.scoring.remember(writes, passed.scored, rules.scored_ttl_s)
        self._labels(writes, [w.decision for w in sent], now)
        return [to_ms(w.decision.send_at) for w in later]

    def _labels(self, writes: Writes, sent: Sequence[Decision], now: datetime) -> None:
        """A scored message sent now gets a negative label unless engaged with in time."""
        window_ms = int(self.rules.attribution_window.total_seconds() * 1000)
        due = to_ms(now) + window_ms
        checks = {
            check_member(Check("label", d.customer_id, d.decision_id)): due
            for d in sent
            if d.score is not None and not d.holdout
        }
        self.stores.schedule.arm(writes, checks, "NX")


def _logged(passed: Passed, later: Sequence[PendingDecision], now: datetime) -> list[Entry]:
    """The customer's log entries of this pass: planned, sent or held out, and answered
    without a message (suppressed now, or cancelled or suppressed at the send check)."""
    return [
        *(decided("planned", w.decision, now) for w in later),
        *(decided(_sent_kind(w.decision), w.decision, now) for w in passed.to_send(now)),
        *(not_sent(did, why, now) for did, why in {**passed.settled, **passed.due_dropped}.items()),
    ]


def _sent_kind(decision: Decision) -> Kind:
    return "held_out" if decision.holdout else "sent"
