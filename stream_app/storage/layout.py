"""The Redis layout (spec: docs/redis-keys.md): every key, member and field grammar. Pure.

Nothing else formats or parses a key or a member (stores, checks, API, oracle, benches
build them here; the lift hashes' fields in ``lift_fields``); a unit test checks that
every key kind documented has a builder and every builder is documented. Each member
grammar is a builder and its parser, doctested as a round trip. Per-customer keys carry
the customer id as a ``{hash tag}`` (one slot on a Redis Cluster). A builder given
``"%s"`` is a ``string.format`` template of its keys (the scripts build keys from
those), given ``"*"`` a ``SCAN`` pattern.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment (``prefix`` isolates deployments and tests).

    >>> k = Keys("sa")
    >>> k.profile("c-1"), k.seen("c-1"), k.orders("c-1")
    ('sa:{c-1}:p', 'sa:{c-1}:seen', 'sa:{c-1}:orders')
    >>> k.device("device:ab12"), k.parked("device:ab12")
    ('sa:dev:{device:ab12}', 'sa:dev:{device:ab12}:parked')
    >>> k.link("~anon:ab"), k.anonymous("c-1")
    ('sa:{~anon:ab}:link', 'sa:{c-1}:anon')
    >>> k.due(), k.inflight(), k.of_customer("c-1")
    ('sa:{sched}:due', 'sa:{sched}:inflight', 'sa:{c-1}:*')
    >>> k64 = Keys("sa", shards=64)
    >>> k64.shard("c-1"), k64.due(k64.shard("c-1")), k64.inflight(0)
    (62, 'sa:{sched:62}:due', 'sa:{sched}:inflight')
    >>> k.basket_item("sku-1"), k.basket_run(event_key("o-1"), 0), k.segment("vip")
    ('sa:basket:{sku-1}', 'sa:basket:run:{2815173406902266469}:0', 'sa:segment:{vip}')
    >>> k.backfilled(), k.cutover(), k.endpoints()
    ('sa:{sched}:backfilled', 'sa:{sched}:cutover', 'sa:endpoints')
    """

    prefix: str
    #: Schedule shards: a customer's checks sit in shard ``shard(customer)`` (one slot
    #: each on a Redis Cluster, so the timer's load spreads over ``shards`` slots).
    shards: int = 1

    def profile(self, customer_id: str) -> str:
        """String: the profile document, JSON starting with its version (docs/redis-keys.md)."""
        return f"{self.prefix}:{{{customer_id}}}:p"

    def seen(self, customer_id: str) -> str:
        """Sorted set: ``event_key`` of applied event ids but orders' (score = event ms)."""
        return f"{self.prefix}:{{{customer_id}}}:seen"

    def orders(self, customer_id: str) -> str:
        """Set (intset): ``event_key`` of applied orders' event ids, as long as the profile."""
        return f"{self.prefix}:{{{customer_id}}}:orders"

    def memberships(self, customer_id: str) -> str:
        """String: the segments the customer is in (``memberships_value``)."""
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
        """Sorted set: ``contact_member`` of each message sent (score = send time, ms)."""
        return f"{self.prefix}:{{{customer_id}}}:contacts"

    def decision_log(self, customer_id: str) -> str:
        """Sorted set: the customer's capped log of decisions and suppressions (JSON
        members, ``storage.decision_log``; score = when, ms)."""
        return f"{self.prefix}:{{{customer_id}}}:log"

    def attribution(self, customer_id: str) -> str:
        """Hash: decision id -> JSON of an open conversion window (treated or holdout)."""
        return f"{self.prefix}:{{{customer_id}}}:attr"

    def lift(self, campaign_id: str) -> str:
        """Hash: decision id -> ``lift_value`` (arm, stratum, converted) of one campaign."""
        return f"{self.prefix}:lift:{{{campaign_id}}}"

    def lift_cells(self, campaign_id: str) -> str:
        """Hash: ``lift_cell`` (decisions or conversions of an arm and stratum) -> count, and
        ``LIFT_BUILT`` once complete; same slot as ``lift``."""
        return f"{self.prefix}:lift:{{{campaign_id}}}:cells"

    def funnel(self, period: str, tag: str = "") -> str:
        """Hash: funnel and cohort counters of one cohort period (``decisions.funnel.cell``
        -> customers); on a Redis Cluster one per slot, ``tag`` in the slot of the
        customers it counts (``storage.funnel``)."""
        return f"{self.prefix}:funnel:{period}" + (f":{{{tag}}}" if tag else "")

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

    def wishers(self, item_id: str) -> str:
        """Sorted set: customers with an item on their wishlist (score = when added, ms)."""
        return f"{self.prefix}:wishers:{{{item_id}}}"

    def scored(self, customer_id: str, decision_id: str) -> str:
        """String: what a decision was scored on (features, model version), until labelled."""
        return f"{self.prefix}:{{{customer_id}}}:x:{decision_id}"

    def model(self, name: str) -> str:
        """Hash: the published snapshot of a learned model (version, blobs, figures)."""
        return f"{self.prefix}:model:{{{name}}}"

    def device(self, device_token: str) -> str:
        """String: pseudonymized device token -> customer id."""
        return f"{self.prefix}:dev:{{{device_token}}}"

    def parked(self, device_token: str) -> str:
        """Hash: ``event_key`` -> a reading of an unlinked device waiting for its link."""
        return f"{self.prefix}:dev:{{{device_token}}}:parked"

    def link(self, anonymous_id: str) -> str:
        """String: the customer an anonymous profile (``~anon:<hex>``) was merged into."""
        return f"{self.prefix}:{{{anonymous_id}}}:link"

    def anonymous(self, customer_id: str) -> str:
        """Set: the anonymous profile ids merged into a customer (erasure covers them)."""
        return f"{self.prefix}:{{{customer_id}}}:anon"

    def segment(self, name: str) -> str:
        """Set: customer ids in one segment."""
        return f"{self.prefix}:segment:{{{name}}}"

    def basket_item(self, item_id: str) -> str:
        """Sorted set: an item's most bought-with items -> orders with both (per-item tag)."""
        return f"{self.prefix}:basket:{{{item_id}}}"

    def basket_category(self, category: str) -> str:
        """Sorted set: categories bought with ``category`` -> orders with both."""
        return f"{self.prefix}:basket:c:{{{category}}}"

    def basket_run(self, order_key: str, run: int, tag: str = "") -> str:
        """String: run ``run`` of an order's basket rows (``event_key`` of its id) is counted;
        on a Redis Cluster the run of one slot's rows, tagged like its first row's key.

        >>> Keys("sa").basket_run("ab", 0, "sku-1")
        'sa:basket:run:{sku-1}:ab:0'
        """
        if tag:
            return f"{self.prefix}:basket:run:{{{tag}}}:{order_key}:{run}"
        return f"{self.prefix}:basket:run:{{{order_key}}}:{run}"

    def basket_runs(self) -> str:
        """``SCAN`` pattern of every order's basket run markers."""
        return f"{self.prefix}:basket:run:{{*}}:*"

    def shard(self, customer_id: str) -> int:
        """The schedule shard of a customer's checks (``park``: of a device token)."""
        return zlib.crc32(customer_id.encode()) % self.shards if self.shards > 1 else 0

    def due(self, shard: int = 0) -> str:
        """Sorted set: one shard's scheduled checks (``check_member``; score = due ms)."""
        return f"{self.prefix}:{self._sched(shard)}:due"

    def inflight(self, shard: int = 0) -> str:
        """Sorted set: claimed checks (score = lease expiry ms); same slot as ``due``."""
        return f"{self.prefix}:{self._sched(shard)}:inflight"

    def backfilled(self, shard: int = 0) -> str:
        """Sorted set: customers history was applied to, waiting for the cut-over to arm
        their segment check (score = when first backfilled, ms); same slot as ``due``."""
        return f"{self.prefix}:{self._sched(shard)}:backfilled"

    def cutover(self, shard: int = 0) -> str:
        """String: the shard's cut-over next free slot (ms), so cut-overs never share slots."""
        return f"{self.prefix}:{self._sched(shard)}:cutover"

    @staticmethod
    def _sched(shard: int) -> str:
        """Shard 0 keeps the unsharded name, so a single Redis' schedule stays where it was."""
        return f"{{sched:{shard}}}" if shard else "{sched}"

    def stats(self) -> str:
        """Hash: engine-wide counters (events applied, dead letters by reason, ...)."""
        return f"{self.prefix}:stats"

    def endpoints(self) -> str:
        """Sorted set: workers' advertised metrics URLs (score = last heartbeat, ms)."""
        return f"{self.prefix}:endpoints"

    def api_key(self, key_id: str) -> str:
        """Hash: one API key's HMAC of its secret, name, scopes, rate, created / revoked ms."""
        return f"{self.prefix}:apikey:{{{key_id}}}"

    def api_keys(self) -> str:
        """Set: ids of every API key ever created (``stream-app api-key list``)."""
        return f"{self.prefix}:apikeys"

    def rate_limits(self) -> str:
        """Prefix of the API's rate-limit counters (written by the ``limits`` library)."""
        return f"{self.prefix}:ratelimit"

    def of_customer(self, customer_id: str) -> str:
        """``SCAN`` pattern of every key of one customer (``"*"``: of every customer)."""
        return f"{self.prefix}:{{{customer_id}}}:*"

    def of_deployment(self) -> str:
        """``SCAN`` pattern of every key of this deployment (the prefix's)."""
        return f"{self.prefix}:*"


class CustomerKey(NamedTuple):
    """A per-customer key's customer, kind (``p``, ``seen``, ``x`` ...) and decision (``x``)."""

    customer_id: str
    kind: str
    decision_id: str = ""


def parse_customer_key(key: str) -> CustomerKey:
    """The customer and kind of a per-customer key (any prefix).

    >>> parse_customer_key(Keys("sa").scored("c-1", "d-9"))
    CustomerKey(customer_id='c-1', kind='x', decision_id='d-9')
    """
    tagged, _, suffix = key.partition("}:")
    kind, _, decision = suffix.partition(":")
    return CustomerKey(tagged.partition(":{")[2], kind, decision)


def event_key(event_id: str) -> str:
    """What the id indexes (``seen``, ``orders``) store of an event id: the first 8 bytes of
    its BLAKE2b as a signed decimal integer (collisions: 2^-64 per pair of one customer's
    ids). An integer, so Redis stores it in 8 bytes (an ``intset`` for ``orders``, integer
    entries in a compact sorted set) instead of 16 hex characters. One way: no parser.

    >>> event_key("ev-1")
    '3697500921364486749'
    """
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return str(int.from_bytes(digest, "big", signed=True))


def parse_basket_run(key: str) -> tuple[str, int] | None:
    """(order key, run) of a basket run marker (``Keys.basket_run``); None for another key.

    >>> parse_basket_run(Keys("sa").basket_run("12", 3)), parse_basket_run("sa:basket:x")
    (('12', 3), None)
    """
    order_key, _, run = key.partition(":basket:run:{")[2].rpartition("}:")
    return (order_key, int(run)) if order_key and run.isdigit() else None


#: Kinds of scheduled checks (members of ``Keys.due`` and ``Keys.inflight``).
CheckKind = Literal["cart", "seg", "send", "label", "park"]


class Check(NamedTuple):
    """A scheduled check: kind, customer (``park``: a device token), decision (send, label)."""

    kind: CheckKind
    customer_id: str
    decision_id: str = ""


def check_member(check: Check) -> str:
    """The schedule member of ``check``: ``<kind>:<customer>``, or
    ``<kind>:<customer>|<decision>`` for the checks of a decision.

    >>> check_member(Check("cart", "c-1")), check_member(Check("send", "c-1", "d-9"))
    ('cart:c-1', 'send:c-1|d-9')
    >>> parse_check(check_member(Check("label", "c-1", "d-9")))
    Check(kind='label', customer_id='c-1', decision_id='d-9')
    >>> parse_check(check_member(Check("park", "device:ab12")))
    Check(kind='park', customer_id='device:ab12', decision_id='')
    """
    if check.decision_id:
        return f"{check.kind}:{check.customer_id}|{check.decision_id}"
    return f"{check.kind}:{check.customer_id}"


def parse_check(member: str) -> Check | None:
    """The check a schedule member names; None for a kind this version does not know.

    >>> parse_check("x:y") is None
    True
    """
    kind, _, rest = member.partition(":")
    customer, _, decision = rest.partition("|")
    match kind:
        case "cart" | "seg" | "send" | "label" | "park":
            return Check(kind, customer, decision)
    return None


def contact_member(decision_id: str, campaign_id: str, channel: str) -> str:
    """A contact history member (``Keys.contacts``): ``<decision>|<campaign>|<channel>``.

    >>> contact_member("d-9", "cart", "push")
    'd-9|cart|push'
    >>> parse_contact_member(contact_member("d-9", "cart", "push"))
    ('d-9', 'cart', 'push')
    """
    return f"{decision_id}|{campaign_id}|{channel}"


def parse_contact_member(member: str) -> tuple[str, str, str]:
    """(decision, campaign, channel) of a contact history member."""
    decision_id, campaign_id, channel = member.split("|", 2)
    return decision_id, campaign_id, channel


def settled_value(why: str) -> str:
    """The ``sent`` hash value of a trigger occurrence answered without a message
    (a sent decision's value is its emit time, ms, never negative).

    >>> settled_value("suppressed")
    '-suppressed'
    >>> parse_settled_value(settled_value("suppressed")), parse_settled_value("1780000000000")
    ('suppressed', None)
    """
    return f"-{why}"


def parse_settled_value(value: str) -> str | None:
    """Why an occurrence was answered without a message; None for a sent decision."""
    return value[1:] if value.startswith("-") else None


def memberships_value(names: Iterable[str]) -> str:
    """A customer's segments as stored (``Keys.memberships``): sorted, comma-joined.

    >>> memberships_value({"vip", "new"})
    'new,vip'
    >>> parse_memberships(memberships_value({"vip", "new"})) == {"vip", "new"}
    True
    """
    return ",".join(sorted(names))


def parse_memberships(value: str) -> set[str]:
    """The segment names of a stored memberships value (empty: none)."""
    return {name for name in value.split(",") if name}


def api_key_scopes(scopes: Iterable[str]) -> str:
    """An API key's scopes as its record (``Keys.api_key``) keeps them: sorted,
    space-separated.

    >>> api_key_scopes({"segments:read", "profiles:read"})
    'profiles:read segments:read'
    >>> parse_api_key_scopes(api_key_scopes({"segments:read", "profiles:read"}))
    ['profiles:read', 'segments:read']
    """
    return " ".join(sorted(scopes))


def parse_api_key_scopes(value: str) -> list[str]:
    """The scope names of an API key record's ``scopes`` field."""
    return value.split()
