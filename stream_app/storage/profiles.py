"""Profiles in Redis: one JSON document per customer (docs/redis-keys.md, "Profile").

The worker reads a customer's document once per batch, applies the batch in
memory (``profiles.state``) and writes it back once, guarded by the version it
read (``storage.commit``): two writers of one customer (a rebalance, a sensor
event keyed by its device) never lose each other's events; the second one reads
again and re-applies. The document starts with its version, ``{"v":<n>,``, so the
guard reads a few bytes, never the whole document.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from stream_app.profiles.identity import is_anonymous
from stream_app.profiles.money import upgrade_legacy
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys

if TYPE_CHECKING:
    from stream_app.storage.stitch import Carried

#: Members per ZADD or SADD: the commit script passes a command's words through unpack().
_ZADD_CHUNK = 1000


def encode_state(state: ProfileState, version: int) -> bytes:
    """The stored document of ``state`` at ``version`` (the version comes first).

    >>> encode_state(ProfileState("c-1", {"n": 1}), 3)
    b'{"v":3,"f":{"n":1},"t":[null,{}],"r":[null,{}],"c":{},"w":{},"s":{},"o":{},"l":{}}'
    """
    doc = {
        "v": version,
        "f": state.fields,
        "t": [state.tastes.ref_ms, state.tastes.sums],
        "r": [state.rhythm.ref_ms, state.rhythm.sums],
        "c": state.cart,
        "w": state.viewed,
        "s": state.searches,
        "o": state.orders,
        "l": state.wishlist,
    }
    if state.assumed:  # only while the customer has no zone
        doc["z"] = state.assumed
    if state.sentiment.ref_ms is not None:  # only once the customer remarked
        doc["m"] = [state.sentiment.ref_ms, state.sentiment.sums]
    if state.complaints:
        doc["k"] = state.complaints
    return orjson.dumps(doc)


def decode_state(customer_id: str, raw: bytes | None) -> ProfileState:
    """The state a stored document holds (an empty one, version 0, when there is none).

    >>> decode_state("c-1", encode_state(ProfileState("c-1", {"n": 1}), 3)).version
    3
    """
    if not raw:
        return ProfileState(customer_id)
    doc: dict[str, Any] = orjson.loads(raw)
    if "o" not in doc:  # written before money was exact
        upgrade_legacy(doc["f"])
    tastes, rhythm = doc["t"], doc["r"]
    return ProfileState(
        customer_id,
        doc["f"],
        Decayed(tastes[0], tastes[1]),
        Decayed(rhythm[0], rhythm[1]),
        doc["c"],
        doc["w"],
        doc["s"],
        doc.get("o", {}),
        doc.get("l", {}),
        int(doc["v"]),
        assumed=doc.get("z", []),
        sentiment=Decayed(*doc.get("m", (None, {}))),
        complaints=doc.get("k", {}),
    )


class ProfileStore:
    """Reads profiles, and adds a batch's profile writes to its ``Writes``."""

    def __init__(
        self, client: RedisClient, keys: Keys, *, profile_ttl_s: int, anonymous_ttl_s: int
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = profile_ttl_s
        self._anonymous_ttl_s = anonymous_ttl_s

    def write(
        self,
        writes: Writes,
        state: ProfileState,
        applied: Sequence[tuple[str, int]],
        kept: Sequence[str],
        floor_ms: int,
        *,
        compact: bool = False,
    ) -> None:
        """Write ``state`` over the version it was read at, and index the event ids
        ``applied`` (hash, event ms): the ``kept`` ones (orders') as long as the profile
        lives, the others until they fall below ``floor_ms`` (too late now). An anonymous
        profile is written only while it is not linked (docs/identity.md, "Why no
        anonymous event is lost"), and lives ``anonymous_ttl_s``. ``compact``: the index
        shrinks from all of history; Redis never gives a sorted set that outgrew its compact
        encoding the encoding back, a copy onto itself (``ZUNIONSTORE``) does (~10x less)."""
        keys, cid = self._keys, state.customer_id
        profile = keys.profile(cid)
        writes.guard(profile, state.version, cid)
        writes.guard_absent(keys.erased(cid), cid)
        ttl_s = self._ttl_s
        if is_anonymous(cid):
            writes.guard_absent(keys.link(cid), cid)
            ttl_s = self._anonymous_ttl_s
        writes.add("SET", profile, encode_state(state, state.version + 1), "EX", ttl_s)
        orders = keys.orders(cid)
        for start in range(0, len(kept), _ZADD_CHUNK):
            writes.add("SADD", orders, *kept[start : start + _ZADD_CHUNK])
        writes.add("EXPIRE", orders, ttl_s)  # lives as long as the profile
        if kept:
            skip = set(kept)
            applied = [entry for entry in applied if entry[0] not in skip]
        if applied:
            seen = keys.seen(cid)
            for start in range(0, len(applied), _ZADD_CHUNK):
                chunk = applied[start : start + _ZADD_CHUNK]
                writes.add("ZADD", seen, *(part for key, ms in chunk for part in (ms, key)))
            writes.add("ZREMRANGEBYSCORE", seen, "-inf", f"({floor_ms}")
            if compact:
                writes.add("ZUNIONSTORE", seen, 1, seen)
            writes.add("EXPIRE", seen, ttl_s)

    def merge_in(
        self,
        writes: Writes,
        customer_id: str,
        anonymous: ProfileState,
        carried: Carried | None = None,
    ) -> None:
        """Link an anonymous profile (as read, merged into the customer's state by the
        pass) to ``customer_id``: only if it is still at the version read and unlinked;
        its id indexes join the customer's, its keys go (docs/identity.md). ``carried``:
        on a Redis Cluster, its indexes as read after its link was claimed (``stitch``)."""
        keys, cid, aid = self._keys, customer_id, anonymous.customer_id
        if carried is not None:
            self.fold(writes, cid, aid, carried)
            return
        writes.guard(keys.profile(aid), anonymous.version, cid)
        writes.guard_absent(keys.link(aid), cid)
        seen, orders = keys.seen(cid), keys.orders(cid)
        writes.add("ZUNIONSTORE", seen, 2, seen, keys.seen(aid), "AGGREGATE", "MAX")
        writes.add("SUNIONSTORE", orders, orders, keys.orders(aid))
        writes.add("EXPIRE", seen, self._ttl_s)
        writes.add("EXPIRE", orders, self._ttl_s)
        writes.add("DEL", keys.profile(aid), keys.seen(aid), keys.orders(aid))
        writes.add("SET", keys.link(aid), cid, "EX", self._ttl_s)
        writes.add("SADD", keys.anonymous(cid), aid)
        writes.add("EXPIRE", keys.anonymous(cid), self._ttl_s)

    def fold(self, writes: Writes, cid: str, aid: str, carried: Carried) -> None:
        """A cluster merge's fold (the customer's slot: its ``anon`` set marks it done)
        and clean-up (the anonymous slot, after the customer's commit)."""
        keys, ttl_s = self._keys, self._ttl_s
        if not carried.done:
            seen, orders = keys.seen(cid), keys.orders(cid)
            for start in range(0, len(carried.seen), _ZADD_CHUNK):
                chunk = carried.seen[start : start + _ZADD_CHUNK]
                writes.add("ZADD", seen, "GT", *(part for key, ms in chunk for part in (ms, key)))
            if carried.orders:
                writes.add("SADD", orders, *carried.orders)
            writes.add("EXPIRE", seen, ttl_s)
            writes.add("EXPIRE", orders, ttl_s)
            writes.add("SADD", keys.anonymous(cid), aid)
            writes.add("EXPIRE", keys.anonymous(cid), ttl_s)
        # Folded before (marked): clean up now; else once the fold is written.
        after = writes.add if carried.done else partial(writes.then, keys.profile(cid))
        after("DEL", keys.profile(aid), keys.seen(aid), keys.orders(aid))
        after("EXPIRE", keys.link(aid), ttl_s)

    def renew_links(self, writes: Writes, customer_id: str, anonymous: Sequence[str]) -> None:
        """Renew the links of ``anonymous`` profiles to ``customer_id`` that the customer's
        events name again: a link lives as long as a profile after the last of them."""
        keys = self._keys
        for aid in anonymous:
            writes.add("EXPIRE", keys.link(aid), self._ttl_s)
        writes.add("EXPIRE", keys.anonymous(customer_id), self._ttl_s)

    def link_device(self, writes: Writes, token: str, customer_id: str) -> None:
        """Remember whose device ``token`` is (as long as a profile lives)."""
        writes.add("SET", self._keys.device(token), customer_id, "EX", self._ttl_s)

    async def stored(self, customer_ids: Sequence[str]) -> list[ProfileState]:
        """Each customer's stored state, in one round trip."""
        if not customer_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for cid in customer_ids:
            pipe.get(self._keys.profile(cid))
        found = await pipe.execute()
        return [decode_state(cid, raw) for cid, raw in zip(customer_ids, found, strict=True)]
