"""Redis key layout (spec: docs/redis-keys.md). Pure; every key is built here.

Per-customer keys carry the customer id as a ``{hash tag}``, so on a Redis
Cluster all of one customer's keys live in one slot and the atomic apply
script may touch them together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment (``prefix`` isolates deployments and tests).

    >>> k = Keys("sa")
    >>> k.profile("c-1"), k.seen("c-1"), k.cart("c-1")
    ('sa:{c-1}:p', 'sa:{c-1}:seen', 'sa:{c-1}:cart')
    >>> k.device("device:ab12")
    'sa:dev:{device:ab12}'
    >>> k.due(), k.inflight()
    ('sa:{sched}:due', 'sa:{sched}:inflight')
    """

    prefix: str

    def profile(self, customer_id: str) -> str:
        """Hash: the profile fields (docs/redis-keys.md lists them)."""
        return f"{self.prefix}:{{{customer_id}}}:p"

    def seen(self, customer_id: str) -> str:
        """Sorted set: event ids applied (score = apply time, ms), for dedupe."""
        return f"{self.prefix}:{{{customer_id}}}:seen"

    def cart(self, customer_id: str) -> str:
        """Hash: item id -> JSON cart line."""
        return f"{self.prefix}:{{{customer_id}}}:cart"

    def sent(self, customer_id: str) -> str:
        """Hash: decision id -> emit time (ms); a decision is emitted at most once."""
        return f"{self.prefix}:{{{customer_id}}}:sent"

    def device(self, device_token: str) -> str:
        """String: pseudonymized device token -> customer id."""
        return f"{self.prefix}:dev:{{{device_token}}}"

    def due(self) -> str:
        """Sorted set: scheduled checks (member ``cart:<customer>``, score = due ms)."""
        return f"{self.prefix}:{{sched}}:due"

    def inflight(self) -> str:
        """Sorted set: claimed checks (score = lease expiry ms); same slot as ``due``."""
        return f"{self.prefix}:{{sched}}:inflight"

    def stats(self) -> str:
        """Hash: engine-wide counters (events applied, dead letters by reason, ...)."""
        return f"{self.prefix}:stats"
