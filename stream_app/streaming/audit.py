"""Invariant checks in the pass (docs/audit.md): a hash-sampled fraction of the
customers a pass writes have the profile about to be written checked
(``profiles.invariants``), with no extra round trip (the pass holds the profile, the
memberships it writes and the view they were evaluated on).

A violation is counted (``audit_mismatches:<check>`` in the stats hash and
``stream_app_audit_mismatches_total{check}``) and logged under the customer's
``customer_ref``, never the id. Counts are set, not added, per customer: a pass
written again after a conflict counts its customers once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from stream_app.clock import to_ms
from stream_app.counts import Labelled, Plain
from stream_app.logs import customer_ref
from stream_app.profiles.invariants import Around, sampled, violations
from stream_app.profiles.state import StateLimits
from stream_app.segments.rules import SegmentRules
from stream_app.streaming.effects import Passed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Auditor:
    """Checks sampled customers' profiles as a pass leaves them."""

    sample_rate: float
    future_skew_ms: int
    limits: StateLimits
    segment_rules: SegmentRules
    #: Keys the customer references the log names.
    secret: bytes

    def check(self, passed: Passed, now: datetime) -> list[str]:
        """The checks ``passed``'s customer fails, counted on ``passed`` (nothing when not
        sampled)."""
        loaded = passed.loaded
        cid = loaded.customer_id
        if not self.sample_rate or not sampled(cid, self.sample_rate):
            return []
        members = verdict = None
        if passed.view is not None and passed.evaluation is not None:
            # The rules alone, without the pass's memo: what the pass wrote must agree.
            verdict, failed = self.segment_rules.evaluate(passed.view)
            members = set(passed.evaluation.members) - set(failed)
        around = Around(
            to_ms(now),
            self.future_skew_ms,
            self.limits,
            members,
            verdict,
            erased=loaded.erased,
            scheduled=len(loaded.pending_raw),
        )
        found = violations(loaded.state, around)
        passed.counters[Plain("audit_checked")] = 1
        for check in found:
            passed.counters[Labelled("audit_mismatches", check)] = 1
        if found:
            ref = customer_ref(cid, self.secret)
            log.warning("profile audit: customer %s fails %s", ref, ", ".join(found))
        return found
