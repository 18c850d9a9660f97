"""Right to erasure: forget a customer everywhere the engine keeps something of them.

The erased flag is set first, in the same slot as the customer's profile: a pass
reads it with the profile and drops every later event of theirs (counted as
``events_dropped:erased``), and a pass that read the profile before cannot write
it back (its write is guarded by the flag's absence), however the deletions below
interleave with a batch. Then everything per customer goes: the profile (tastes,
rhythm, cart, wishlist and recents included, and their places among items' viewers
and wishers), seen and order ids, segment memberships, planned and
sent decisions with their checks, contact history, the log of decisions and
suppressions, conversion windows and the
features kept for the model's labels. What stays is anonymous: lift counts (per
campaign, arm and tier, and the per-decision record by decision id: no customer id; a
report keeps counting the erased customer's decisions), the model's weights and the
bandit's per-tier statistics, and the pseudonymous device links, kept so that a device still
reporting is recognised and its events dropped rather than dead-lettered with
their payload. The id joins the suppression list (``Keys.erasures``) for audits.

Every anonymous profile linked to the customer (``Keys.anonymous``) is erased with
them: flagged, its keys deleted; its link stays (pseudonymous, like a device link), so
a cookie that keeps browsing reaches the erased customer and its events are dropped
(docs/identity.md, "Erasure").
"""

from __future__ import annotations

from datetime import datetime

from stream_app.clock import to_ms
from stream_app.storage.client import RedisClient
from stream_app.storage.layout import Check, Keys, check_member, parse_memberships
from stream_app.storage.profiles import decode_state


class ErasureStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def erase(self, customer_id: str, now: datetime) -> None:
        """Forget ``customer_id`` (idempotent: erasing twice changes nothing more)."""
        keys, cid = self._keys, customer_id
        await self._client.set(keys.erased(cid), str(to_ms(now)))
        pipe = self._client.pipeline(transaction=False)
        pipe.get(keys.memberships(cid))
        pipe.hkeys(keys.pending(cid))
        pipe.hkeys(keys.sent(cid))
        pipe.hkeys(keys.attribution(cid))
        pipe.get(keys.profile(cid))
        pipe.smembers(keys.anonymous(cid))
        memberships, pending, sent, attributed, profile, linked = await pipe.execute()
        anonymous = sorted(_text(a) for a in linked)
        state = decode_state(cid, profile)
        viewed, wished = list(state.viewed), list(state.wishlist)
        segments = sorted(parse_memberships(_text(memberships or b"")))
        planned = [_text(d) for d in pending]
        decisions = {*planned, *(_text(d) for d in sent), *(_text(d) for d in attributed)}
        checks = [check_member(Check("cart", cid)), check_member(Check("seg", cid))]
        checks += [check_member(Check("send", cid, d)) for d in planned]
        checks += [check_member(Check("label", cid, d)) for d in decisions]

        pipe = self._client.pipeline(transaction=False)
        for aid in anonymous:
            pipe.set(keys.erased(aid), str(to_ms(now)))
            pipe.delete(keys.profile(aid), keys.seen(aid), keys.orders(aid))
        pipe.delete(
            keys.anonymous(cid),
            keys.profile(cid),
            keys.seen(cid),
            keys.orders(cid),
            keys.memberships(cid),
            keys.pending(cid),
            keys.sent(cid),
            keys.contacts(cid),
            keys.decision_log(cid),
            keys.attribution(cid),
            *(keys.scored(cid, d) for d in decisions),
        )
        for name in segments:
            pipe.srem(keys.segment(name), cid)
        for item in viewed:
            pipe.zrem(keys.viewers(item), cid)
        for item in wished:
            pipe.zrem(keys.wishers(item), cid)
        shard = keys.shard(cid)
        pipe.zrem(keys.due(shard), *checks)
        pipe.zrem(keys.inflight(shard), *checks)
        pipe.zrem(keys.backfilled(shard), cid)
        pipe.sadd(keys.erasures(), cid)
        await pipe.execute()

    async def is_erased(self, customer_id: str) -> bool:
        return bool(await self._client.exists(self._keys.erased(customer_id)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
