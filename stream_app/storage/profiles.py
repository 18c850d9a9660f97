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
from typing import Any

import orjson
from redis.asyncio import Redis

from stream_app.profiles.money import upgrade_legacy
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys

#: Members per ZADD or SADD: the commit script passes a command's words through unpack().
_ZADD_CHUNK = 1000


def encode_state(state: ProfileState, version: int) -> bytes:
    """The stored document of ``state`` at ``version`` (the version comes first).

    >>> encode_state(ProfileState("c-1", {"n": 1}), 3)
    b'{"v":3,"f":{"n":1},"t":[null,{}],"r":[null,{}],"c":{},"w":{},"s":{},"o":{}}'
    """
    return orjson.dumps(
        {
            "v": version,
            "f": state.fields,
            "t": [state.tastes.ref_ms, state.tastes.sums],
            "r": [state.rhythm.ref_ms, state.rhythm.sums],
            "c": state.cart,
            "w": state.viewed,
            "s": state.searches,
            "o": state.orders,
        }
    )


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
        int(doc["v"]),
    )


class ProfileStore:
    """Reads profiles, and adds a batch's profile writes to its ``Writes``."""

    def __init__(self, client: Redis, keys: Keys, *, profile_ttl_s: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = profile_ttl_s

    def write(
        self,
        writes: Writes,
        state: ProfileState,
        applied: Sequence[tuple[str, int]],
        kept: Sequence[str],
        floor_ms: int,
    ) -> None:
        """Write ``state`` over the version it was read at, and index the event ids
        ``applied`` (hash, event ms): the ``kept`` ones (orders') as long as the profile
        lives, the others until they fall below ``floor_ms`` (too late now)."""
        keys, cid = self._keys, state.customer_id
        profile = keys.profile(cid)
        writes.guard(profile, state.version, cid)
        writes.guard_absent(keys.erased(cid), cid)
        writes.add("SET", profile, encode_state(state, state.version + 1), "EX", self._ttl_s)
        orders = keys.orders(cid)
        for start in range(0, len(kept), _ZADD_CHUNK):
            writes.add("SADD", orders, *kept[start : start + _ZADD_CHUNK])
        writes.add("EXPIRE", orders, self._ttl_s)  # lives as long as the profile
        if kept:
            skip = set(kept)
            applied = [entry for entry in applied if entry[0] not in skip]
        if applied:
            seen = keys.seen(cid)
            for start in range(0, len(applied), _ZADD_CHUNK):
                chunk = applied[start : start + _ZADD_CHUNK]
                writes.add("ZADD", seen, *(part for key, ms in chunk for part in (ms, key)))
            writes.add("ZREMRANGEBYSCORE", seen, "-inf", f"({floor_ms}")
            writes.add("EXPIRE", seen, self._ttl_s)

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
