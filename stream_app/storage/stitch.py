"""Anonymous profiles joining customers on a Redis Cluster: a saga of three steps.

A single Redis merges in one script (``lua/load.lua`` claims, ``lua/commit.lua``
writes; docs/identity.md). On a cluster the anonymous profile A and the customer C
live in different slots, so the join is split, each step idempotent:

1. **claim** (``lua/claim.lua``, A's slot, in a round before the batch's read): the
   link A -> C is set if absent; from then on A takes no anonymous write (theirs guard
   "link absent"), so what is read of A (profile, id indexes, the batch's ids found
   there) stays true. The same round tells the link of each anonymous profile the
   batch names, so its events move to their customer before the read.
2. **fold** (C's slot, in C's guarded commit): A's profile merged into C's, A's ids
   added to C's indexes, and A recorded in C's ``anon`` set: the marker that the fold
   is done (a redelivery or retry reads it and folds nothing again).
3. **clean up** (A's slot, after C's commit): A's keys deleted (``Writes.then``). A
   crash before it leaves A linked and marked: the next pass naming A only cleans up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import msgpack

from stream_app.profiles.identity import is_anonymous
from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.layout import Keys
from stream_app.storage.profiles import decode_state
from stream_app.storage.scripts import LuaScript, ScriptCall, run_scripts

if TYPE_CHECKING:
    from stream_app.storage.customers import Ask, Loaded


@dataclass(frozen=True, slots=True)
class Carried:
    """What of an anonymous profile a customer's fold copies (read in its slot):
    its id index entries (hash, ms) and order ids; ``done``: folded before, only its
    keys are left to delete."""

    seen: Sequence[tuple[str, int]] = ()
    orders: Sequence[str] = ()
    done: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim's answer: the customer A is linked to; when it is the claimant's, whether
    the link was set now, and A as stored."""

    owner: str | None
    fresh: bool = False
    profile: bytes | None = None
    seen: Sequence[tuple[str, int]] = ()
    orders: Sequence[str] = ()
    hits: frozenset[str] = frozenset()


@dataclass(slots=True)
class Stitched:
    """The round's answers: anonymous profiles the batch names that are linked (to
    move their events to the customer), and each customer's claims (id -> A -> claim)."""

    links: dict[str, str] = field(default_factory=dict)
    claims: dict[str, dict[str, Claim]] = field(default_factory=dict)
    #: Customer -> the readings parked for the devices their events link (token, event
    #: id hash, reading), read in the devices' slots.
    waiting: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)

    def asks(self, asks: Iterable[Ask]) -> list[Ask]:
        """``asks`` with the parked readings' ids to look up in the customers' indexes
        (the devices' hashes are read already)."""
        return [
            replace(
                a,
                event_keys=[*a.event_keys, *(k for _, k, _ in self.waiting.get(a.customer_id, ()))],
                device_links=(),
            )
            for a in asks
        ]

    def into(self, loaded: Mapping[str, Loaded]) -> None:
        """Each claimant's merges (A not folded yet: its profile, and the batch's ids
        found in A's indexes count as applied), clean-ups (folded before) and refusals."""
        for cid, readings in self.waiting.items():
            if cid in loaded:
                loaded[cid].waiting = readings
        for cid, claims in self.claims.items():
            found = loaded.get(cid)
            if found is None:
                continue
            for aid, claim in claims.items():
                if claim.owner != cid:
                    found.refused.append(aid)
                elif aid in found.marked:
                    if claim.profile is not None or claim.seen or claim.orders:
                        found.carried[aid] = Carried(done=True)
                else:
                    found.merged.append(decode_state(aid, claim.profile))
                    found.applied |= claim.hits
                    found.carried[aid] = Carried(claim.seen, claim.orders)
                    if claim.fresh:
                        found.fresh.append(aid)


class Stitcher:
    """Step 1 of the saga (and the release of a claim an erased customer made)."""

    def __init__(self, client: RedisClient, keys: Keys, link_ttl_s: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = link_ttl_s
        self._script = LuaScript("claim")

    @property
    def split(self) -> bool:
        """Whether a visitor and its customer may sit in different slots (a cluster)."""
        return is_cluster(self._client)

    def needed(self, asks: Iterable[Ask]) -> bool:
        """Whether ``asks`` name anonymous profiles or link devices on a Redis Cluster
        (a round first)."""
        return self.split and any(
            a.links or a.device_links or is_anonymous(a.customer_id) for a in asks
        )

    async def resolve(self, asks: Sequence[Ask]) -> Stitched:
        """Claim the anonymous profiles the asks' events link (the ids of the batch, the
        claimant's and A's own, looked up in A's indexes) and read the links of the
        anonymous profiles asked, in one round."""
        by_id = {a.customer_id: a for a in asks}
        # Claims first: an anonymous profile claimed here is found linked below.
        wanted = [(aid, a.customer_id) for a in asks for aid in dict.fromkeys(a.links)]
        wanted += [(a.customer_id, "") for a in asks if is_anonymous(a.customer_id)]
        calls = []
        for aid, cid in wanted:
            mine, theirs = by_id.get(cid), by_id.get(aid)
            events = [*(mine.event_keys if mine else ()), *(theirs.event_keys if theirs else ())]
            orders = [*(mine.order_keys if mine else ()), *(theirs.order_keys if theirs else ())]
            calls.append(self._call(aid, cid, self._ttl_s, (events, orders)))
        tokens = [(a.customer_id, t) for a in asks for t in dict.fromkeys(a.device_links)]
        answers, parked = await asyncio.gather(
            run_scripts(self._client, calls), self._parked([t for _, t in tokens])
        )
        stitched = Stitched()
        for (cid, token), found in zip(tokens, parked, strict=True):
            stitched.waiting.setdefault(cid, []).extend(
                (token, _text(k), v) for k, v in sorted(found.items())
            )
        for (aid, cid), answer in zip(wanted, answers, strict=True):
            claim = _claim(answer)
            if not cid:
                if claim.owner is not None:
                    stitched.links[aid] = claim.owner
            else:
                stitched.claims.setdefault(cid, {})[aid] = claim
        return stitched

    async def _parked(self, tokens: Sequence[str]) -> list[dict[bytes, bytes]]:
        """The readings parked for each device (its hash, in its slot)."""
        if not tokens:
            return []
        pipe = self._client.pipeline(transaction=False)
        for token in tokens:
            pipe.hgetall(self._keys.parked(token))
        return list(await pipe.execute())

    def release(self, customer_id: str, anonymous: Iterable[str]) -> list[ScriptCall]:
        """Undo claims ``customer_id`` made in this pass (found erased: nothing joins
        them, the visitor stays anonymous); a link set by anyone else stays."""
        return [self._call(aid, customer_id, -1, ((), ())) for aid in anonymous]

    def _call(self, aid: str, cid: str, ttl_s: int, ids: tuple[Any, Any]) -> ScriptCall:
        k = self._keys
        keys = [k.link(aid), k.profile(aid), k.seen(aid), k.orders(aid)]
        return self._script.call(keys, [cid, ttl_s, msgpack.packb(ids, use_bin_type=False)])


def _claim(answer: Sequence[Any]) -> Claim:
    if len(answer) == 1:
        return Claim(_text(answer[0]) if answer[0] else None)
    owner, fresh, profile, flat, orders, hits = answer
    return Claim(
        _text(owner),
        fresh == 1,
        profile if isinstance(profile, bytes) else None,
        [(_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)],
        [_text(o) for o in orders],
        frozenset(_text(h) for h in hits),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
