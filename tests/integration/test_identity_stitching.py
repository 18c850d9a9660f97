"""Anonymous visitors and identity stitching on the real servers (docs/identity.md).

A guest browses and buys under a cookie, logs in, and keeps browsing: whatever the order
in which the pass sees the guest's events, the login and the later visits, and however
often they are redelivered, the customer's profile is the oracle's profile of all of
them, and no anonymous profile is left. Two passes racing over the visitor (one merging,
one applying the visitor's events) lose nothing. Erasing the customer covers the cookie.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.registry import EVENT_ADAPTERS, Event, Stream
from stream_app.kafka_topics import ensure_topics
from stream_app.profiles.identity import anonymous_profile_id
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.settings import Settings
from stream_app.storage.commit import Committer, Writes
from stream_app.storage.erasure import ErasureStore
from stream_app.storage.funnel import FunnelStore
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import ScriptCall
from stream_app.storage.statfields import as_stats
from stream_app.storage.stats import StatsStore
from stream_app.streaming.rounds import counters_of
from tests.integration.fixtures import dumps, eventually, isolated, produce, profile_fields
from tests.integration.test_one_pass import KafkaPublisher, Record, engine
from tests.oracle.compare import diff
from tests.oracle.config import OracleConfig
from tests.oracle.funnel import Definitions, expected_counts
from tests.oracle.recompute import Oracle
from tests.oracle.redis_view import read_profile

pytestmark = pytest.mark.integration


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> Settings:
    """The session's settings on its single Redis, then on its local Redis Cluster (where
    the merge is a saga over the two profiles' slots, storage/stitch.py)."""
    name = "settings" if request.param == "redis" else "cluster_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


#: (stream, event) in the order a story tells them.
Told = list[tuple[Stream, dict[str, Any]]]


class Story:
    """A guest who browses and buys (``guest``), logs in (``login``), browses on under
    the cookie (``after``), and does things as the customer (``own``)."""

    def __init__(self, tag: str) -> None:
        self.cid, self.cookie = f"cust-{tag}", f"ck-{tag}"
        base = datetime.now(UTC) - timedelta(minutes=30)
        self._n = 0
        self._base = base
        line = {"item_id": "sku-1", "category": "shoes", "quantity": 2, "unit_price": 30.0}
        self.guest: Told = [
            self._anon(Stream.CLICKSTREAM, "product_view", item_id="sku-1", category="shoes",
                       price=30.0, brand="acme"),
            self._anon(Stream.CLICKSTREAM, "add_to_cart", item_id="sku-1", category="shoes",
                       price=30.0, quantity=2),
            self._anon(Stream.CLICKSTREAM, "search", query="Trail Shoes"),
            self._anon(Stream.PURCHASE, "purchase", order_id=f"o-{tag}", items=[line],
                       total=60.0, currency="EUR"),
            self._anon(Stream.CLICKSTREAM, "add_to_cart", item_id="sku-9", category="socks",
                       price=5.0),
        ]  # fmt: skip
        self.login: Told = [
            self._named(Stream.IDENTITY, "traits", anonymous_id=self.cookie,
                        timezone="Europe/Berlin", email=f"{tag}@example.test"),
        ]  # fmt: skip
        self.after: Told = [
            self._anon(Stream.CLICKSTREAM, "product_view", item_id="sku-2", category="bags",
                       price=80.0),
            self._anon(Stream.CLICKSTREAM, "remove_from_cart", item_id="sku-9"),
        ]  # fmt: skip
        self.own: Told = [
            self._named(Stream.CLICKSTREAM, "product_view", item_id="sku-3", category="shoes",
                        price=45.0),
            self._named(Stream.IDENTITY, "consent", channel="push", opted_in=False),
        ]  # fmt: skip

    def _event(self, stream: Stream, type_: str, fields: dict[str, Any]) -> tuple[Stream, Any]:
        self._n += 1
        at = self._base + timedelta(seconds=17 * self._n)
        head = {"type": type_, "event_id": f"{self.cid}-{self._n}", "event_time": at.isoformat()}
        return stream, head | fields

    def _anon(self, stream: Stream, type_: str, **fields: Any) -> tuple[Stream, Any]:
        return self._event(stream, type_, {"anonymous_id": self.cookie, **fields})

    def _named(self, stream: Stream, type_: str, **fields: Any) -> tuple[Stream, Any]:
        return self._event(stream, type_, {"customer_id": self.cid, **fields})


def records(settings: Settings, told: Told) -> list[Record]:
    topics = settings.topics
    return [
        Record(topics.for_stream(stream), 0, n, dumps(value))
        for n, (stream, value) in enumerate(told)
    ]


def parsed(told: Told) -> list[Event]:
    return [EVENT_ADAPTERS[stream].validate_json(dumps(value)) for stream, value in told]


async def own_settings(settings: Settings) -> Settings:
    own, _ = isolated(settings, "id")
    # The guest's zone before the login is the default (profile.md, "Rhythm"): the customer's
    # own here, so the rhythm too is the same whenever the guest logs in.
    own = own.updated(metrics={"port": None}, profiles={"default_timezone": "Europe/Berlin"})
    await ensure_topics(own)
    return own


async def differences(settings: Settings, story: Story, processed: Told) -> list[str]:
    """The customer's stored profile against the oracle's over ``processed`` (in that
    order), and what would be wrong around it: an anonymous profile left, no link."""
    oracle = Oracle(OracleConfig.from_settings(settings))
    for event in parsed(processed):
        oracle.apply(event)
    at_ms = to_ms(datetime.now(UTC))
    profiles = settings.profiles
    half_lives = {
        "taste_half_life_ms": int(profiles.taste_half_life.total_seconds() * 1000),
        "rhythm_half_life_ms": int(profiles.rhythm_half_life.total_seconds() * 1000),
    }
    expected = oracle.profiles(at_ms)
    assert set(expected) == {story.cid}, "the oracle stitched the guest to the customer"
    async with engine(settings, KafkaPublisher(settings)) as built:
        redis = built.stores.redis
        prefix = settings.redis.key_prefix
        found = await read_profile(redis, prefix, story.cid, at_ms=at_ms, **half_lives)
        visitor = anonymous_profile_id(
            settings.secrets.pseudonym_secret.get_secret_value().encode(), story.cookie
        )
        keys = Keys(prefix)
        out = diff(expected[story.cid], found)
        if await redis.exists(keys.profile(visitor), keys.seen(visitor), keys.orders(visitor)):
            out.append("the anonymous profile (or its ids) is still there")
        if await redis.get(keys.link(visitor)) != story.cid.encode():
            out.append("the cookie is not linked to the customer")
        # The funnel counts the guest's history as the customer's (its hash is the one of
        # the customer's slot on a cluster, where only this test's customer is counted).
        held = await redis.hgetall(FunnelStore(redis, keys, settings.funnel.period).key(story.cid))
        counted = {k.decode(): int(v) for k, v in held.items() if int(v)}
        rules = Definitions.from_settings(settings)
        if counted != expected_counts([(story.cid, e) for e in parsed(processed)], rules):
            out.append(f"the funnel counters are off: {counted}")
        return out


async def run(settings: Settings, batches: Sequence[Told]) -> dict[str, int]:
    """The batches through one pass in order; the stats counted over all of them."""
    total: dict[str, int] = {}
    async with engine(settings, KafkaPublisher(settings)) as built:
        for told in batches:
            work = await built.one_pass.records(records(settings, told))
            for name, n in as_stats(counters_of(work)).items():
                total[name] = total.get(name, 0) + n
    return total


@pytest.mark.parametrize(
    "order",
    [
        "guest, own, login, after",
        "login, after, guest, own",
        "one batch",
        "after, own, guest, login",
    ],
)
async def test_the_profile_is_the_same_whenever_the_guest_logs_in(
    backend: Settings, order: str
) -> None:
    story = Story(uuid.uuid4().hex[:8])
    parts = {"guest": story.guest, "own": story.own, "login": story.login, "after": story.after}
    if order == "one batch":
        told = [*story.guest, *story.login, *story.after, *story.own]
        random.Random(order).shuffle(told)
        batches = [told]
    else:
        batches = [parts[name] for name in order.split(", ")]
    mine = await own_settings(backend)
    counted = await run(mine, batches)
    processed = [e for told in batches for e in told]
    assert counted.get("events_applied") == len(processed)
    assert counted.get("identity_links") == 1
    assert await differences(mine, story, processed) == []


async def test_redelivered_guest_events_are_duplicates_on_the_customer(backend: Settings) -> None:
    story = Story(uuid.uuid4().hex[:8])
    mine = await own_settings(backend)
    batches = [story.guest, story.login, story.after, story.own]
    await run(mine, batches)
    replayed = await run(mine, [*batches, [*story.guest, *story.login]])
    assert replayed.get("events_applied", 0) == 0, "nothing applied twice"
    assert replayed.get("events_duplicate") == 2 * len(story.guest) + 2 + len(story.after) + len(
        story.own
    )
    assert replayed.get("identity_links", 0) == 0, "no second merge"
    assert await differences(mine, story, [e for told in batches for e in told]) == []


@pytest.mark.parametrize("step", ["commit", "_later"])
async def test_a_crash_inside_the_clusters_merge_is_finished_by_the_redelivery(
    cluster_settings: Settings, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The worker dies after the claim (before the customer's commit) or after the fold
    (before the clean-up of the visitor's slot): the redelivered login merges once, or
    only cleans up (storage/stitch.py)."""
    story = Story(uuid.uuid4().hex[:8])
    mine = await own_settings(cluster_settings)
    await run(mine, [story.guest])

    async def killed(*args: object) -> None:
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patched:
        patched.setattr(Committer, step, killed)
        with pytest.raises(RuntimeError, match="killed"):
            await run(mine, [story.login])
    replayed = await run(mine, [story.login, story.after, story.own])
    done = step == "_later"  # the login was applied (and the visitor folded) before
    assert replayed.get("events_duplicate", 0) == (len(story.login) if done else 0)
    assert replayed.get("identity_links", 0) == (0 if done else 1), "folded once"
    processed = [*story.guest, *story.login, *story.after, *story.own]
    assert await differences(mine, story, processed) == []


async def test_a_parked_reading_joins_its_customer_once_despite_a_crash_and_redelivery(
    cluster_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reading parked before its device's link: the worker applying the link dies after
    the customer's commit, before the parked hash (another slot) is cleared; the
    redelivered link batch finds the reading applied (a duplicate) and clears it."""
    story = Story(uuid.uuid4().hex[:8])
    device = f"dev-{story.cookie}"
    reading = story._event(Stream.SENSOR, "ambient", {"device_id": device, "temperature_c": 21.5,
                                                       "weather": "rain"})  # fmt: skip
    linking = [story._named(Stream.IDENTITY, "traits", device_ids=[device])]
    mine = await own_settings(cluster_settings)
    assert (await run(mine, [[reading]])).get("device_readings:parked") == 1

    async def killed(*args: object) -> None:
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patched:
        patched.setattr(Committer, "_later", killed)
        with pytest.raises(RuntimeError, match="killed"):
            await run(mine, [linking])
    replayed = await run(mine, [linking, linking])
    assert replayed.get("events_applied", 0) == 0, "nothing applied twice"
    assert replayed.get("events_duplicate") == 3, "the link twice, the reading once"
    async with engine(mine, KafkaPublisher(mine)) as built:
        redis, keys = built.stores.redis, Keys(mine.redis.key_prefix)
        fields = await profile_fields(redis, keys, story.cid)
        token = pseudonymize(
            mine.secrets.pseudonym_secret.get_secret_value().encode(), "device", device
        )
        assert not await redis.exists(keys.parked(token)), "the park is cleared"
    assert (fields["n:traits"], fields["n:ambient"]) == ("1", "1")


class CommitAfter:
    """A committer that lets ``first`` run (another worker's pass) before its first commit:
    the pass it serves read the visitor before that worker merged it."""

    def __init__(self, inner: Any, first: Callable[[], Awaitable[object]]) -> None:
        self._inner = inner
        self._first: Callable[[], Awaitable[object]] | None = first

    async def commit(
        self, writes: Writes, also: Sequence[ScriptCall] = (), done: set[int] | None = None
    ) -> list[str]:
        if self._first is not None:
            first, self._first = self._first, None
            await first()
        conflicts: list[str] = await self._inner.commit(writes, also, done)
        return conflicts


@pytest.mark.parametrize("visitor_existed", [True, False])
async def test_a_merge_racing_the_visitors_events_loses_nothing(
    backend: Settings, visitor_existed: bool
) -> None:
    """Worker W applies the visitor's events (their own partition) while worker M merges
    the visitor into the customer between W's read and W's write: W's write fails its
    guard, and W's second pass puts the events on the customer."""
    story = Story(uuid.uuid4().hex[:8])
    mine = await own_settings(backend)
    before = story.guest[:2] if visitor_existed else []
    racing = story.guest[2:] if visitor_existed else story.guest
    if before:
        await run(mine, [before])
    async with (
        engine(mine, KafkaPublisher(mine)) as merger,
        engine(mine, KafkaPublisher(mine)) as visitor,
    ):
        login = records(mine, story.login)
        one_pass = visitor.one_pass
        one_pass._committer = CommitAfter(  # type: ignore[assignment]
            one_pass._committer, lambda: merger.one_pass.records(login)
        )
        work = await one_pass.records(records(mine, racing))
    assert as_stats(counters_of(work)).get("events_applied") == len(racing)
    processed = [*before, *story.login, *racing]
    assert await differences(mine, story, processed) == []


async def test_a_device_the_visitor_registered_follows_the_visitor_to_the_customer(
    backend: Settings,
) -> None:
    story = Story(uuid.uuid4().hex[:8])
    device = f"dev-{story.cookie}"
    registered = story._anon(Stream.IDENTITY, "traits", device_ids=[device])
    reading = story._event(Stream.SENSOR, "ambient", {"device_id": device, "temperature_c": 21.5,
                                                       "weather": "rain"})  # fmt: skip
    mine = await own_settings(backend)
    batches = [[registered], story.login, [reading]]
    counted = await run(mine, batches)
    assert counted.get("dead_letters:unknown_device", 0) == 0
    assert await differences(mine, story, [e for told in batches for e in told]) == []


async def test_a_login_of_an_erased_customer_links_nothing(backend: Settings) -> None:
    story = Story(uuid.uuid4().hex[:8])
    mine = await own_settings(backend)
    await run(mine, [story.guest])
    async with engine(mine, KafkaPublisher(mine)) as built:
        await ErasureStore(built.stores.redis, Keys(mine.redis.key_prefix)).erase(
            story.cid, datetime.now(UTC)
        )
    counted = await run(mine, [story.login, story.after])
    assert counted.get("events_dropped:erased") == len(story.login)
    assert counted.get("events_applied") == len(story.after), "the visitor browses on, unlinked"
    async with engine(mine, KafkaPublisher(mine)) as built:
        redis, keys = built.stores.redis, Keys(mine.redis.key_prefix)
        visitor = anonymous_profile_id(
            mine.secrets.pseudonym_secret.get_secret_value().encode(), story.cookie
        )
        assert not await redis.exists(keys.link(visitor), keys.profile(story.cid))
        assert await redis.exists(keys.profile(visitor))


async def test_erasing_the_customer_covers_the_linked_cookie(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    """Through the real worker: guest events keyed by the cookie, the login keyed by the
    customer; then the customer is erased, and a later visit is dropped."""
    story = Story(uuid.uuid4().hex[:8])
    topics = settings.topics
    for stream, value in [*story.guest, *story.login, *story.after]:
        key = (value.get("customer_id") or value["anonymous_id"]).encode()
        await produce(settings, topics.for_stream(stream), [(key, dumps(value))])
    n = len(story.guest) + len(story.login) + len(story.after)
    visitor = anonymous_profile_id(
        settings.secrets.pseudonym_secret.get_secret_value().encode(), story.cookie
    )

    async def applied() -> int:
        raw = await redis.get(keys.profile(story.cid))
        return int(raw.split(b'"n":', 1)[1].split(b",", 1)[0]) if raw else 0

    assert await eventually(applied, lambda got: got == n, within=30) == n
    assert not await redis.exists(keys.profile(visitor))
    assert await redis.smembers(keys.anonymous(story.cid)) == {visitor.encode()}

    stats = StatsStore(redis, keys)
    dropped = (await stats.read()).get("events_dropped:erased", 0)
    await ErasureStore(redis, keys).erase(story.cid, datetime.now(UTC))
    assert not await redis.exists(keys.profile(story.cid), keys.anonymous(story.cid))
    assert await redis.exists(keys.erased(visitor)), "the cookie's profile is erased too"
    assert await redis.get(keys.link(visitor)) == story.cid.encode(), "the link stays"

    stream, later = story._anon(Stream.CLICKSTREAM, "page_view", path="/")
    await produce(settings, topics.for_stream(stream), [(story.cookie.encode(), dumps(later))])
    after = await eventually(
        stats.read, lambda s: s.get("events_dropped:erased", 0) > dropped, within=20
    )
    assert after.get("events_dropped:erased", 0) == dropped + 1
    assert not await redis.exists(keys.profile(visitor), keys.profile(story.cid))
