"""Profiles in Redis: one pipeline per batch, each event applied atomically once.

The apply script checks the event id against the customer's ``seen`` set and
applies the ops in the same atomic step, so a redelivered event (Kafka is
at-least-once) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from stream_app.decisions.cart_abandonment import CartLine, CartSnapshot
from stream_app.profiles.ops import (
    CartAdd,
    CartClear,
    CartRemove,
    Incr,
    IncrFloat,
    LastWrite,
    Max,
    Min,
    ProfileOp,
    ProfileUpdate,
)
from stream_app.storage.keys import Keys
from stream_app.storage.scripts import load_script

DUPLICATE, APPLIED, CREATED = 0, 1, 2


def encode_ops(ops: Sequence[ProfileOp]) -> bytes:
    """The JSON op list the apply script reads.

    >>> encode_ops([Incr("n"), LastWrite("gender", "female", 5), CartClear(7)])
    b'[["i","n",1],["lww","gender","female",5],["cc",7]]'
    """
    wire: list[list[Any]] = []
    for op in ops:
        match op:
            case Incr(field, by):
                wire.append(["i", field, by])
            case IncrFloat(field, by):
                wire.append(["f", field, by])
            case Max(field, ms):
                wire.append(["max", field, ms])
            case Min(field, ms):
                wire.append(["min", field, ms])
            case LastWrite(field, value, ms):
                wire.append(["lww", field, value, ms])
            case CartAdd(item_id, category, price, quantity, event_id, ms):
                line = {"t": ms, "c": category, "p": price, "q": quantity, "e": event_id}
                wire.append(["ca", item_id, ms, orjson.dumps(line).decode()])
            case CartRemove(item_id, ms):
                wire.append(["cr", item_id, ms])
            case CartClear(ms):
                wire.append(["cc", ms])
    return orjson.dumps(wire)


def decode_cart_line(item_id: str, raw: bytes | str) -> CartLine:
    """A stored cart line back as a domain object."""
    line = orjson.loads(raw)
    return CartLine(item_id, line["c"], float(line["p"]), int(line["q"]), line["e"], int(line["t"]))


class ProfileStore:
    """Reads and writes profiles; every write path is one pipeline per batch."""

    def __init__(
        self, client: Redis, keys: Keys, *, dedupe_window_ms: int, profile_ttl_s: int
    ) -> None:
        self._client = client
        self._keys = keys
        self._dedupe_window_ms = dedupe_window_ms
        self._profile_ttl_s = profile_ttl_s
        self._apply = load_script(client, "apply_event")

    async def apply(self, updates: Sequence[ProfileUpdate], now_ms: int) -> list[int]:
        """Apply a batch; per update DUPLICATE, APPLIED or CREATED, in order.

        Device links and cart-check schedules are idempotent on their own
        (SET of the same value, ZADD GT), so they ride in the same pipeline
        outside the script, keeping the script within one hash slot.
        """
        keys = self._keys
        pipe = self._client.pipeline(transaction=False)
        for update in updates:
            cid = update.customer_id
            await self._apply(
                keys=[keys.profile(cid), keys.seen(cid), keys.cart(cid)],
                args=[
                    update.event_id,
                    now_ms,
                    self._dedupe_window_ms,
                    self._profile_ttl_s,
                    encode_ops(update.ops),
                ],
                client=pipe,
            )
        for update in updates:
            for token in update.device_tokens:
                pipe.set(keys.device(token), update.customer_id, ex=self._profile_ttl_s)
            if update.cart_check_due_ms is not None:
                pipe.zadd(
                    keys.due(), {f"cart:{update.customer_id}": update.cart_check_due_ms}, gt=True
                )
        results = await pipe.execute()
        return [int(result) for result in results[: len(updates)]]

    async def resolve_devices(self, tokens: Sequence[str]) -> dict[str, str]:
        """Customer id per known device token (unknown tokens are absent)."""
        if not tokens:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for token in tokens:
            pipe.get(self._keys.device(token))
        found = await pipe.execute()
        return {token: _text(cid) for token, cid in zip(tokens, found, strict=True) if cid}

    async def profile(self, customer_id: str) -> dict[str, str]:
        """The profile hash of one customer (empty when unknown)."""
        raw = await self._client.hgetall(self._keys.profile(customer_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    async def cart_snapshots(self, customer_ids: Sequence[str], channel: str) -> list[CartSnapshot]:
        """What the cart check needs for each customer, in one pipeline."""
        pipe = self._client.pipeline(transaction=False)
        fields = ["last:checkout_start", "last:purchase", f"consent:{channel}"]
        for cid in customer_ids:
            pipe.hgetall(self._keys.cart(cid))
            pipe.hmget(self._keys.profile(cid), fields)
        raw = await pipe.execute()
        snapshots = []
        for index, cid in enumerate(customer_ids):
            cart, (checkout, purchase, consent) = raw[2 * index], raw[2 * index + 1]
            snapshots.append(
                CartSnapshot(
                    customer_id=cid,
                    lines=tuple(decode_cart_line(_text(k), v) for k, v in cart.items()),
                    last_checkout_ms=_int(checkout),
                    last_purchase_ms=_int(purchase),
                    consent=None if consent is None else _text(consent) == "1",
                )
            )
        return snapshots


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _int(value: bytes | str | None) -> int | None:
    return None if value is None else int(_text(value))
