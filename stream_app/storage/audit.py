"""What ``stream-app audit`` reads of sampled customers, and where it leaves its result
(docs/audit.md).

One pipeline per chunk of customers: the profile document, the memberships, the
erasure mark, the planned decisions, the segment and cart checks armed in the schedule
and the anonymous profiles merged in. The run's
totals go to the stats hash (``audit_last_*``), which the API and dashboard read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream_app.profiles.state import ProfileState
from stream_app.storage.client import RedisClient
from stream_app.storage.layout import Check, Keys, check_member, parse_memberships
from stream_app.storage.profiles import decode_state, encode_state

#: Customers per pipeline.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredCustomer:
    """One customer as stored: the document (parsed; None: no profile), its state, the
    recorded segments, whether erased, their planned decisions and scheduled checks,
    whether visitors were merged into them."""

    document: dict[str, Any] | None
    state: ProfileState
    memberships: set[str]
    erased: bool
    scheduled: int
    linked: bool


def document(state: ProfileState) -> dict[str, Any]:
    """The stored document of ``state`` as parsed JSON (what the audit compares)."""
    parsed: dict[str, Any] = orjson.loads(encode_state(state, state.version))
    return parsed


class AuditReader:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def read(self, customer_ids: Sequence[str]) -> dict[str, StoredCustomer]:
        """Each customer as stored, a pipeline per chunk."""
        found: dict[str, StoredCustomer] = {}
        keys = self._keys
        for start in range(0, len(customer_ids), _CHUNK):
            chunk = customer_ids[start : start + _CHUNK]
            pipe = self._client.pipeline(transaction=False)
            for cid in chunk:
                pipe.get(keys.profile(cid))
                pipe.get(keys.memberships(cid))
                pipe.exists(keys.erased(cid))
                pipe.hlen(keys.pending(cid))
                pipe.exists(keys.anonymous(cid))
                due = keys.due(keys.shard(cid))
                pipe.zmscore(due, [check_member(Check(kind, cid)) for kind in ("seg", "cart")])
            answers = await pipe.execute()
            for i, cid in enumerate(chunk):
                raw, segments, erased, pending, anonymous, armed = answers[6 * i : 6 * i + 6]
                state = decode_state(cid, raw)
                found[cid] = StoredCustomer(
                    document(state) if raw else None,
                    state,
                    parse_memberships(segments.decode()) if segments else set(),
                    bool(erased),
                    int(pending) + sum(score is not None for score in armed),
                    bool(anonymous),
                )
        return found

    async def erased(self) -> list[str]:
        """Every customer erased (the suppression list)."""
        members = await self._client.smembers(self._keys.erasures())
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def publish(self, compared: int, mismatches: int, at_ms: int) -> None:
        """The last run's totals, in the stats hash."""
        await self._client.hset(
            self._keys.stats(),
            mapping={
                "audit_last_compared": compared,
                "audit_last_mismatches": mismatches,
                "audit_last_ms": at_ms,
            },
        )
