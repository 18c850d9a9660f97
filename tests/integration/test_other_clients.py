"""Producers that are not aiokafka: librdkafka (the C client behind confluent-kafka,
Go, .NET, Node, Ruby, PHP and kcat) writes events the worker applies.

The README promises producers in any language; these tests are its evidence. They
use plain connections, so they skip on servers that require TLS or SASL.

kcat: Debian 12's package links librdkafka 2.0.2, which skips a non-empty KIP-482
tagged field one byte short. The embedded broker (Tansu) writes four tagged fields
into its ApiVersions v3 response, so that kcat fails with "Read underflow" on
ApiVersion, and no client setting avoids it (``api.version.request=false`` only
falls back to the 0.9 protocol, which Tansu refuses). kcat 1.7.1 runs fine on a
newer librdkafka, such as the one the confluent-kafka wheel carries; the kcat test
loads that one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import confluent_kafka
import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from tests.integration.fixtures import dumps, event, eventually, profile_fields

pytestmark = pytest.mark.integration

ITEM = {"item_id": "sku-1", "category": "shoes", "price": 20.0}


def ids(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def plaintext_bootstrap(settings: Settings) -> str:
    if settings.kafka.security_protocol != "PLAINTEXT":
        pytest.skip("these clients are configured for PLAINTEXT only")
    return settings.kafka.bootstrap


def librdkafka_produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Send with confluent-kafka's Producer (librdkafka defaults, acks=all); raises on
    any delivery error."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[confluent_kafka.KafkaError] = []

    def delivered(error: confluent_kafka.KafkaError | None, _: confluent_kafka.Message) -> None:
        if error is not None:
            errors.append(error)

    for key, value in records:
        producer.produce(topic, value=value, key=key, on_delivery=delivered)
    assert producer.flush(30) == 0, "records still unsent after 30 s"
    assert errors == []


def envelope(*events: dict[str, object]) -> bytes:
    return dumps({"events": list(events)})


async def test_confluent_kafka_single_events_and_an_envelope_are_applied(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    bootstrap = plaintext_bootstrap(settings)
    topics = settings.topics
    ann, bob = ids("ann"), ids("bob")
    identity = [(ann.encode(), dumps(event("traits", ann, ids("e"), timezone="Europe/Paris")))]
    clicks = [
        (ann.encode(), dumps(event("add_to_cart", ann, ids("e"), **ITEM))),
        (
            bob.encode(),
            envelope(
                event("add_to_cart", bob, ids("e"), **ITEM),
                event("add_to_cart", bob, ids("e"), **ITEM),
                event("checkout_start", bob, ids("e")),
            ),
        ),
    ]
    await asyncio.to_thread(librdkafka_produce, bootstrap, topics.identity, identity)
    await asyncio.to_thread(librdkafka_produce, bootstrap, topics.clickstream, clicks)

    ann_profile = await eventually(
        lambda: profile_fields(redis, keys, ann), lambda p: p.get("n") == "2", within=60
    )
    assert ann_profile["timezone"] == "Europe/Paris"
    assert ann_profile["n:add_to_cart"] == "1"
    bob_profile = await eventually(
        lambda: profile_fields(redis, keys, bob), lambda p: p.get("n") == "3", within=60
    )
    assert bob_profile["n:add_to_cart"] == "2", "every member of the envelope applied"
    assert bob_profile["n:checkout_start"] == "1"


def wheel_librdkafka() -> Path | None:
    """The librdkafka shared object the confluent-kafka Linux wheel bundles, if any."""
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    return next(iter(sorted(libs.glob("librdkafka*.so*"))), None)


def kcat_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which kcat loads the wheel's librdkafka as ``librdkafka.so.1``."""
    library = wheel_librdkafka()
    if library is None:
        pytest.skip("no bundled librdkafka in this confluent-kafka install (not a Linux wheel)")
    (tmp_path / "librdkafka.so.1").symlink_to(library)
    return os.environ | {"LD_LIBRARY_PATH": str(tmp_path)}


def kcat(args: list[str], env: dict[str, str], stdin: bytes = b"") -> str:
    """Run kcat; returns its stdout, fails the test on an error exit or an error line."""
    done = subprocess.run(["kcat", *args], input=stdin, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"ERROR" not in done.stderr, done.stderr.decode()
    return done.stdout.decode()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not on PATH")
async def test_kcat_on_a_current_librdkafka_produces_events_the_worker_applies(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys, tmp_path: Path
) -> None:
    bootstrap = plaintext_bootstrap(settings)
    env = kcat_env(tmp_path)
    version = await asyncio.to_thread(kcat, ["-V"], env)
    assert f"librdkafka {confluent_kafka.libversion()[0]}" in version
    cid = ids("kc")
    single = event("add_to_cart", cid, ids("e"), **ITEM)
    batch = envelope(
        event("add_to_cart", cid, ids("e"), **ITEM), event("checkout_start", cid, ids("e"))
    )
    lines = dumps(single) + b"\n" + batch + b"\n"
    argv = ["-P", "-b", bootstrap, "-t", settings.topics.clickstream, "-k", cid]
    await asyncio.to_thread(kcat, argv, env, lines)

    profile = await eventually(
        lambda: profile_fields(redis, keys, cid), lambda p: p.get("n") == "3", within=60
    )
    assert profile["n:add_to_cart"] == "2"
    assert profile["n:checkout_start"] == "1"
