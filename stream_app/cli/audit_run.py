"""What ``stream-app audit`` does (docs/audit.md): fold sampled customers' retained
events again with the pure fold, read them from Redis, compare field by field."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from stream_app.clock import to_ms
from stream_app.events.eventlog import parse_line
from stream_app.events.registry import Event
from stream_app.kafka_retained import retained_events
from stream_app.logs import customer_ref
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.invariants import sampled
from stream_app.profiles.recompute import (
    Mismatch,
    Recomputed,
    Report,
    compare,
    memberships,
    skip_reason,
)
from stream_app.profiles.state import ProfileState
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.audit import AuditReader, StoredCustomer, document
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client


def logged_events(path: Path) -> Iterable[Event]:
    """The valid events of a replay file (``stream-app replay``'s format), in its order."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip() and isinstance(parsed := parse_line(line), tuple):
                yield parsed[1]


async def run_audit(
    settings: Settings, *, rate: float, now: datetime, replay: Path | None = None
) -> Report:
    """Recompute the customers sampled at ``rate`` from the retained topics (or
    ``replay``) and compare them with Redis; the totals go to the stats hash."""
    started = time.perf_counter()
    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    limits = settings.profiles.state_limits()
    recomputed = Recomputed(
        limits, settings.profiles.fold_config(secret, None), lambda cid: sampled(cid, rate)
    )
    if replay is not None:
        events: Iterable[Event] = logged_events(replay)
    else:
        events = await retained_events(settings, lambda e: _wanted(e, recomputed))
    for event in events:
        recomputed.add(event)
    read_s = time.perf_counter() - started
    client = redis_client(settings)
    try:
        reader = AuditReader(client, keys_of(settings))
        erased = [c for c in await reader.erased() if sampled(c, rate)]
        ids = sorted({*recomputed.states, *erased})
        stored = await reader.read(ids)
        judge = _Judge(SegmentRules(load_segments(settings.segments.file)), settings, now)
        report = Report(sampled=len(ids), events=recomputed.events, read_s=read_s)
        for cid in ids:
            expected = recomputed.states.get(cid, ProfileState(cid))
            found = judge(cid, expected, stored[cid], cid in recomputed.linked)
            if isinstance(found, str):
                report.skipped[found] += 1
                continue
            report.compared += 1
            ref = customer_ref(cid, secret)
            report.mismatches += [Mismatch(ref, m.field, m.expected, m.stored) for m in found]
        report.elapsed_s = time.perf_counter() - started
        await reader.publish(report.compared, len(report.mismatches), to_ms(now))
        return report
    finally:
        await client.aclose()


def _wanted(event: Event, recomputed: Recomputed) -> bool:
    """A sampled customer's event, or a reading naming only a device (maybe theirs)."""
    cid = getattr(event, "customer_id", None)
    return recomputed.sampled(cid) if cid is not None else hasattr(event, "device_id")


class _Judge:
    """One customer: skipped (why), or the fields that differ."""

    def __init__(self, rules: SegmentRules, settings: Settings, now: datetime) -> None:
        self._rules = rules
        self._value_rules: ValueRules = settings.profiles.value_rules()
        self._limits = settings.profiles.state_limits()
        self._now = now

    def __call__(
        self, cid: str, expected: ProfileState, stored: StoredCustomer, linked: bool
    ) -> list[Mismatch] | str:
        if stored.erased:  # nothing may remain of an erased customer
            left = [Mismatch(cid, "erased_profile", None, "present")] * (
                stored.document is not None
            )
            left += [Mismatch(cid, "erased_schedule", 0, stored.scheduled)] * (stored.scheduled > 0)
            return left or "erased"
        if linked or stored.linked:
            return "linked"
        why = skip_reason(expected, stored.state, stored.erased)
        if why is not None:
            return why.value
        assert stored.document is not None
        found = compare(cid, document(expected), stored.document, self._limits)
        verdict, failed = self._rules.evaluate(derive(stored.state, self._now, self._value_rules))
        return found + memberships(cid, verdict, stored.memberships - set(failed))
