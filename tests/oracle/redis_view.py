"""What the engine stored, read from Redis by the documented key layout (docs/redis-keys.md).

Normalized to the oracle's ``ExpectedProfile``: decayed sums evaluated at a
common time ``at_ms``, the cart filtered by the spec's visibility rule, and
``created_ms``, ``@<field>`` stamps and ``seen`` ignored. Keys and stats field names
come from ``stream_app.storage.layout``, the documented layout's one source (a unit
test holds it to docs/redis-keys.md); what the oracle checks independently is what
the engine stored under them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from stream_app.storage.layout import Keys
from stream_app.storage.statfields import parse_stat_name
from tests.oracle.recompute import BASKET_KEPT, Basket, CartLine, ExpectedProfile, decay

IGNORED_FIELDS = frozenset({"created_ms"})
#: Customers read per pipeline round trip.
CHUNK = 200


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _hash(raw: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _decayed(raw: object, at_ms: int, half_life_ms: int, where: str) -> dict[str, float]:
    """``stored * 2^(-(T - ref)/H)`` per field of a ``[ref, {field: stored}]`` pair."""
    if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[1], dict)):
        return {f"<{where} is not [ref, sums]: {raw!r:.60}>": float("nan")}
    ref, sums = raw
    if not sums:
        return {}
    if ref is None:
        return {f"<{where} has no reference time>": float("nan")}
    return {
        name: decay(float(stored), float(ref), at_ms, half_life_ms) for name, stored in sums.items()
    }


def _opt_int(value: Any) -> int | None:
    return None if value is None else round(float(value))


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _cart(raw: dict[str, object], last_purchase: int | None) -> dict[str, CartLine]:
    """Lines visible by the spec: ``t`` > removal time ``r`` and > ``last:purchase``."""
    out: dict[str, CartLine] = {}
    for item, line in raw.items():
        if not (isinstance(line, list) and len(line) == 6):
            out[item] = CartLine(-1, f"<not a 6-item array: {line!r:.60}>", None, None, None)
            continue
        added = _opt_int(line[0]) or None
        removed = _opt_int(line[5]) or None
        if added is None:
            continue
        if removed is not None and added <= removed:
            continue
        if last_purchase is not None and added <= last_purchase:
            continue
        out[item] = CartLine(
            added,
            _opt_str(line[1]),
            _opt_float(line[2]),
            _opt_int(line[3]),
            _opt_str(line[4]),
        )
    return out


async def read_profiles(
    redis: Redis,
    prefix: str,
    customers: Sequence[str],
    *,
    at_ms: int,
    taste_half_life_ms: int,
    rhythm_half_life_ms: int,
) -> dict[str, ExpectedProfile]:
    """The stored profile of each customer (customers with no profile document are left
    out). The document is a JSON object (docs/redis-keys.md): ``v`` version, ``f`` fields,
    ``t`` / ``r`` tastes and rhythm as ``[ref, sums]``, ``c`` cart lines, ``w`` recently
    viewed ``{item: [ms, category]}``, ``s`` recent searches ``{query: ms}``."""
    out: dict[str, ExpectedProfile] = {}
    for start in range(0, len(customers), CHUNK):
        chunk = customers[start : start + CHUNK]
        pipe = redis.pipeline(transaction=False)
        for customer in chunk:
            pipe.get(Keys(prefix).profile(customer))
        replies = await pipe.execute()
        for customer, raw in zip(chunk, replies, strict=True):
            if raw is None:
                continue
            doc = orjson.loads(raw)
            fields = {
                name: value
                for name, value in doc["f"].items()
                if name not in IGNORED_FIELDS and not name.startswith("@")
            }
            last_purchase = _opt_int(fields.get("last:purchase"))
            out[customer] = ExpectedProfile(
                customer_id=customer,
                at_ms=at_ms,
                fields=dict(fields),
                tastes=_decayed(doc["t"], at_ms, taste_half_life_ms, "tastes"),
                rhythm=_decayed(doc["r"], at_ms, rhythm_half_life_ms, "rhythm"),
                cart=_cart(doc["c"], last_purchase),
                recent_views={item: round(entry[0]) for item, entry in doc["w"].items()},
                recent_searches={query: round(ms) for query, ms in doc["s"].items()},
                wishlist={item: round(entry[0]) for item, entry in doc.get("l", {}).items()},
                wished={item for item, entry in doc.get("l", {}).items() if entry[2]},
            )
    return out


async def read_profile(
    redis: Redis,
    prefix: str,
    customer: str,
    *,
    at_ms: int,
    taste_half_life_ms: int,
    rhythm_half_life_ms: int,
) -> ExpectedProfile | None:
    found = await read_profiles(
        redis,
        prefix,
        [customer],
        at_ms=at_ms,
        taste_half_life_ms=taste_half_life_ms,
        rhythm_half_life_ms=rhythm_half_life_ms,
    )
    return found.get(customer)


async def read_basket(
    redis: Redis, prefix: str, items: Iterable[str], categories: Iterable[str]
) -> Basket:
    """Co-purchase rows of the given items and categories (empty rows left out)."""
    item_list, category_list = sorted(set(items)), sorted(set(categories))
    keys = Keys(prefix)
    pipe = redis.pipeline(transaction=False)
    for item in item_list:
        pipe.zrange(keys.basket_item(item), 0, -1, withscores=True)
    for category in category_list:
        pipe.zrange(keys.basket_category(category), 0, -1, withscores=True)
    replies = await pipe.execute()
    basket = Basket()
    for names, rows, found in (
        (item_list, basket.items, replies[: len(item_list)]),
        (category_list, basket.categories, replies[len(item_list) :]),
    ):
        for name, reply in zip(names, found, strict=True):
            if row := {_text(member): float(score) for member, score in reply}:
                rows[name] = row
            if len(row) >= BASKET_KEPT:
                basket.full.add(name)
    return basket


def subtract(after: Basket, before: Basket) -> Basket:
    """What was counted between two snapshots (other tests share the global basket keys);
    exact while a row is not full (Space-Saving evicts nothing from it)."""
    out = Basket(full=after.full)
    for mine, theirs, target in (
        (after.items, before.items, out.items),
        (after.categories, before.categories, out.categories),
    ):
        for a, row in mine.items():
            old = theirs.get(a, {})
            delta = {b: n - old.get(b, 0) for b, n in row.items() if n - old.get(b, 0)}
            if delta:
                target[a] = delta
    return out


async def processed_total(redis: Redis, prefix: str) -> int:
    """``events_applied + events_duplicate + sum(dead_letters:*)`` of the stats hash."""
    stats = _hash(await redis.hgetall(Keys(prefix).stats()))
    return sum(
        round(float(value))
        for name, value in stats.items()
        if name in ("events_applied", "events_duplicate")
        or parse_stat_name(name)[0] == "dead_letters"
    )


async def stats(redis: Redis, prefix: str) -> dict[str, int]:
    return {k: round(float(v)) for k, v in _hash(await redis.hgetall(Keys(prefix).stats())).items()}
