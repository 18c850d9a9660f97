"""Redis key layout (spec: docs/redis-keys.md). Pure; every key is built here.

Per-customer keys carry the customer id as a ``{hash tag}``, so on a Redis
Cluster all of one customer's keys live in one slot. A builder given ``"%s"`` for
its arguments is a ``string.format`` template of its keys: the scripts build keys
from those, so the grammar is spelled here only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment (``prefix`` isolates deployments and tests).

    >>> k = Keys("sa")
    >>> k.profile("c-1"), k.seen("c-1"), k.sent("c-1")
    ('sa:{c-1}:p', 'sa:{c-1}:seen', 'sa:{c-1}:sent')
    >>> k.device("device:ab12")
    'sa:dev:{device:ab12}'
    >>> k.due(), k.inflight()
    ('sa:{sched}:due', 'sa:{sched}:inflight')
    >>> k.basket_item("sku-1"), k.segment("vip")
    ('sa:{basket}:i:sku-1', 'sa:segment:{vip}')
    """

    prefix: str

    def profile(self, customer_id: str) -> str:
        """String: the profile document, JSON starting with its version (docs/redis-keys.md)."""
        return f"{self.prefix}:{{{customer_id}}}:p"

    def seen(self, customer_id: str) -> str:
        """Sorted set: 8-byte hashes of applied event ids (score = event time, ms)."""
        return f"{self.prefix}:{{{customer_id}}}:seen"

    def memberships(self, customer_id: str) -> str:
        """String: comma-joined names of the segments the customer is in."""
        return f"{self.prefix}:{{{customer_id}}}:seg"

    def erased(self, customer_id: str) -> str:
        """String: set when the customer was forgotten (right to erasure); no expiry."""
        return f"{self.prefix}:{{{customer_id}}}:erased"

    def erasures(self) -> str:
        """Set: customer ids forgotten (the suppression list, for audits)."""
        return f"{self.prefix}:erased"

    def sent(self, customer_id: str) -> str:
        """Hash: decision id -> emit time (ms); a decision is emitted at most once."""
        return f"{self.prefix}:{{{customer_id}}}:sent"

    def pending(self, customer_id: str) -> str:
        """Hash: decision id -> JSON of a planned decision waiting for its send time."""
        return f"{self.prefix}:{{{customer_id}}}:pending"

    def contacts(self, customer_id: str) -> str:
        """Sorted set: ``<decision>|<campaign>|<channel>`` of messages sent (score = ms)."""
        return f"{self.prefix}:{{{customer_id}}}:contacts"

    def attribution(self, customer_id: str) -> str:
        """Hash: decision id -> JSON of an open conversion window (treated or holdout)."""
        return f"{self.prefix}:{{{customer_id}}}:attr"

    def lift(self, campaign_id: str) -> str:
        """Hash: ``<arm>|<stratum>|n`` and ``<arm>|<stratum>|conv`` counts of one campaign."""
        return f"{self.prefix}:lift:{{{campaign_id}}}"

    def campaigns(self) -> str:
        """Set: campaign ids with lift counts."""
        return f"{self.prefix}:lift:campaigns"

    def prior(self, name: str) -> str:
        """Hash: local hour of day -> decayed activity share sum (send-time prior)."""
        return f"{self.prefix}:prior:{{{name}}}"

    def item(self, item_id: str) -> str:
        """Hash: the catalog's latest ``price``, ``in_stock``, ``category``, ``at`` of an item."""
        return f"{self.prefix}:item:{{{item_id}}}"

    def viewers(self, item_id: str) -> str:
        """Sorted set: customers who viewed an item (score = last view, ms), recent only."""
        return f"{self.prefix}:viewers:{{{item_id}}}"

    def scored(self, customer_id: str, decision_id: str) -> str:
        """String: what a decision was scored on (features, model version), until labelled."""
        return f"{self.prefix}:{{{customer_id}}}:x:{decision_id}"

    def model(self, name: str) -> str:
        """String: the latest checkpoint of a learned model."""
        return f"{self.prefix}:model:{{{name}}}"

    def device(self, device_token: str) -> str:
        """String: pseudonymized device token -> customer id."""
        return f"{self.prefix}:dev:{{{device_token}}}"

    def segment(self, name: str) -> str:
        """Set: customer ids in one segment."""
        return f"{self.prefix}:segment:{{{name}}}"

    def basket_item(self, item_id: str) -> str:
        """Sorted set: items bought together with ``item_id`` -> orders with both."""
        return f"{self.prefix}:{{basket}}:i:{item_id}"

    def basket_category(self, category: str) -> str:
        """Sorted set: categories bought together with ``category`` -> orders with both."""
        return f"{self.prefix}:{{basket}}:c:{category}"

    def basket_orders(self) -> str:
        """Sorted set: order ids already counted (score = event time, ms)."""
        return f"{self.prefix}:{{basket}}:orders"

    def due(self) -> str:
        """Sorted set: scheduled checks ``cart:<cid>``, ``seg:<cid>`` (score = due ms)."""
        return f"{self.prefix}:{{sched}}:due"

    def inflight(self) -> str:
        """Sorted set: claimed checks (score = lease expiry ms); same slot as ``due``."""
        return f"{self.prefix}:{{sched}}:inflight"

    def stats(self) -> str:
        """Hash: engine-wide counters (events applied, dead letters by reason, ...)."""
        return f"{self.prefix}:stats"

    def api_key(self, key_id: str) -> str:
        """Hash: one API key's HMAC of its secret, name, scopes, rate, created / revoked ms."""
        return f"{self.prefix}:apikey:{{{key_id}}}"

    def api_keys(self) -> str:
        """Set: ids of every API key ever created (``stream-app api-key list``)."""
        return f"{self.prefix}:apikeys"

    def rate_limits(self) -> str:
        """Prefix of the API's rate-limit counters (written by the ``limits`` library)."""
        return f"{self.prefix}:ratelimit"
