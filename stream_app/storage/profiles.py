"""Profiles in Redis: one pipeline per batch, each event applied atomically once.

The apply script (``lua/apply_event.lua``) checks the event id and the
customer's lateness bound and applies the ops in the same atomic step, so a
redelivered event (Kafka is at-least-once) changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from stream_app.decisions.cart_abandonment import CartSnapshot
from stream_app.profiles.cart import CartLine
from stream_app.profiles.derive import DecayedSums, StoredProfile
from stream_app.profiles.ops import (
    Order,
    ProfileOp,
    ProfileUpdate,
)
from stream_app.storage.keys import Keys
from stream_app.storage.scripts import LuaScript, execute

#: Basket analysis counts at most this many distinct items of one order.
BASKET_MAX_ITEMS = 50


class Outcome(IntEnum):
    """What the apply script did with one event."""

    DUPLICATE = 0
    APPLIED = 1
    CREATED = 2
    TOO_LATE = 3
    ERASED = 4


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """Parameters of the apply script (from settings; docs/profile.md)."""

    allowed_lateness_ms: int
    profile_ttl_s: int
    taste_half_life_ms: int
    rhythm_half_life_ms: int
    recent_views: int
    recent_searches: int
    order_memory_ms: int


def event_key(event_id: str) -> bytes:
    """The 8-byte id the dedupe index stores (collisions: 2^-64 per pair of one customer)."""
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


def encode_ops(ops: Sequence[ProfileOp]) -> bytes:
    """The JSON op list the apply script reads.

    >>> from stream_app.profiles.ops import CartClear, Incr, LastWrite
    >>> encode_ops([Incr("n"), LastWrite("gender", "female", 5), CartClear(7)])
    b'[["i","n",1],["lww","gender","female",5],["cc",7]]'
    """
    return orjson.dumps([op.wire() for op in ops])


def decode_cart_line(item_id: str, raw: bytes | str) -> CartLine | None:
    """A stored cart entry ``[added, category, price, quantity, event id, removed]`` (0 =
    none) as a domain object; None for a bare removal tombstone."""
    added, category, price, quantity, event_id, removed = orjson.loads(raw)
    if not added:
        return None
    return CartLine(
        item_id,
        category,
        float(price),
        int(quantity),
        event_id,
        int(added),
        int(removed) or None,
    )


class ProfileStore:
    """Reads and writes profiles; every write path is one pipeline per batch."""

    def __init__(self, client: Redis, keys: Keys, limits: ProfileLimits) -> None:
        self._client = client
        self._keys = keys
        self._limits = limits
        self._apply = LuaScript("apply_event")
        self._basket = LuaScript("basket")

    async def apply(
        self, updates: Sequence[ProfileUpdate], now_ms: int, segment_due_ms: int | None = None
    ) -> list[Outcome]:
        """Apply a batch; one ``Outcome`` per update, in order.

        One script call per customer applies that customer's events in batch
        order. Device links, cart checks and segment checks are idempotent on
        their own (SET of the same value, ZADD GT / LT), so they ride in the
        same pipeline outside the script, which stays within one customer's hash
        slot. Basket counts follow in a second pipeline for orders that were not
        too late; they are idempotent by order id, so redelivered orders are safe.
        """
        keys, limits = self._keys, self._limits
        by_customer: dict[str, list[int]] = {}
        for index, update in enumerate(updates):
            by_customer.setdefault(update.customer_id, []).append(index)
        head = [
            now_ms,
            limits.allowed_lateness_ms,
            limits.profile_ttl_s,
            limits.taste_half_life_ms,
            limits.rhythm_half_life_ms,
            limits.recent_views,
            limits.recent_searches,
        ]

        def build(pipe: Pipeline) -> None:
            for cid, indexes in by_customer.items():
                events: list[Any] = []
                for index in indexes:
                    update = updates[index]
                    events += (event_key(update.event_id), update.event_ms, encode_ops(update.ops))
                self._apply.queue(pipe, keys.customer_keys(cid), [*head, *events])
            for update in updates:
                cid = update.customer_id
                for token in update.device_tokens:
                    pipe.set(keys.device(token), cid, ex=limits.profile_ttl_s)
                if update.cart_check_due_ms is not None:
                    pipe.zadd(keys.due(), {f"cart:{cid}": update.cart_check_due_ms}, gt=True)
            if segment_due_ms is not None:
                pipe.zadd(
                    keys.due(), {f"seg:{cid}": segment_due_ms for cid in by_customer}, lt=True
                )

        results = await execute(self._client, build, [self._apply])
        outcomes: list[Outcome] = [Outcome.DUPLICATE] * len(updates)
        for indexes, codes in zip(by_customer.values(), results, strict=False):
            for index, code in zip(indexes, codes, strict=True):
                outcomes[index] = Outcome(int(code))
        orders = [
            u.order
            for u, outcome in zip(updates, outcomes, strict=True)
            if u.order is not None and outcome not in (Outcome.TOO_LATE, Outcome.ERASED)
        ]
        if orders:
            await self._count_baskets(orders, now_ms)
        return outcomes

    async def _count_baskets(self, orders: Sequence[Order], now_ms: int) -> None:
        keys = self._keys

        def build(pipe: Pipeline) -> None:
            for order in orders:
                items = order.items[:BASKET_MAX_ITEMS]
                self._basket.queue(
                    pipe,
                    [
                        keys.basket_orders(),
                        *(keys.basket_item(item) for item in items),
                        *(keys.basket_category(c) for c in order.categories),
                    ],
                    [
                        order.order_id,
                        order.ms,
                        now_ms - self._limits.order_memory_ms,
                        len(items),
                        *items,
                        *order.categories,
                    ],
                )

        await execute(self._client, build, [self._basket])

    async def resolve_devices(self, tokens: Sequence[str]) -> dict[str, str]:
        """Customer id per known device token (unknown tokens are absent)."""
        if not tokens:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for token in tokens:
            pipe.get(self._keys.device(token))
        found = await pipe.execute()
        return {token: _text(cid) for token, cid in zip(tokens, found, strict=True) if cid}

    async def stored(self, customer_ids: Sequence[str]) -> list[StoredProfile]:
        """Everything stored for each customer, in one pipeline."""
        keys = self._keys
        pipe = self._client.pipeline(transaction=False)
        for cid in customer_ids:
            pipe.hgetall(keys.profile(cid))
            pipe.hgetall(keys.tastes(cid))
            pipe.hgetall(keys.rhythm(cid))
            pipe.hgetall(keys.cart(cid))
            pipe.zrange(keys.viewed(cid), 0, -1, withscores=True)
            pipe.zrange(keys.searches(cid), 0, -1, withscores=True)
        raw = await pipe.execute()
        profiles = []
        for index, cid in enumerate(customer_ids):
            fields, tastes, rhythm, cart, viewed, searches = raw[6 * index : 6 * index + 6]
            profiles.append(
                StoredProfile(
                    customer_id=cid,
                    fields={_text(k): _text(v) for k, v in fields.items()},
                    tastes=_decayed(tastes),
                    rhythm=_decayed(rhythm),
                    cart=_cart(cart),
                    viewed={_text(m): int(s) for m, s in viewed},
                    searches={_text(m): int(s) for m, s in searches},
                )
            )
        return profiles

    async def cart_snapshots(self, customer_ids: Sequence[str]) -> list[CartSnapshot]:
        """What the cart check needs for each customer, in one pipeline."""
        pipe = self._client.pipeline(transaction=False)
        fields = ["last:checkout_start", "last:purchase"]
        for cid in customer_ids:
            pipe.hgetall(self._keys.cart(cid))
            pipe.hmget(self._keys.profile(cid), fields)
        raw = await pipe.execute()
        snapshots = []
        for index, cid in enumerate(customer_ids):
            cart, (checkout, purchase) = raw[2 * index], raw[2 * index + 1]
            snapshots.append(
                CartSnapshot(
                    customer_id=cid,
                    lines=_cart(cart),
                    last_checkout_ms=_opt_int(checkout),
                    last_purchase_ms=_opt_int(purchase),
                )
            )
        return snapshots


def _decayed(raw: dict[Any, Any]) -> DecayedSums:
    values = {_text(k): float(v) for k, v in raw.items()}
    ref = values.pop("_ref", None)
    return DecayedSums(None if ref is None else int(ref), values)


def _cart(raw: dict[Any, Any]) -> tuple[CartLine, ...]:
    lines = (decode_cart_line(_text(item), line) for item, line in raw.items())
    return tuple(line for line in lines if line is not None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _opt_int(value: bytes | str | None) -> int | None:
    return None if value is None else int(_text(value))
