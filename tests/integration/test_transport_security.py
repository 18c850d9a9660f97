"""Security in transit against real servers: Redis ACL users, TLS to Redis and Kafka.

Redis runs with ``default`` disabled and one ACL user; TLS (mutual, for the
worker) comes from ``tests/integration/tls.py``'s terminator in front of the
real Redis and Tansu. Kafka SASL is not exercised here: Tansu 0.6 offers only
SCRAM, and its users can be created only over an already authenticated
connection (or in S3 storage), so an embedded broker cannot get a first one;
``tests/unit/test_transport_security.py`` checks the options instead.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from stream_app.counts import Labelled, Plain
from stream_app.devstack.ports import free_port
from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.events.topics import TopicNames
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.conftest import ARTIFACTS, CAMPAIGNS
from tests.integration.fixtures import commit, consume_until, dumps, event, eventually, produce
from tests.integration.tls import AdvertisingTansu, Certificates, TlsTerminator

pytestmark = pytest.mark.integration

USER, PASSWORD = "app", "s3cret-for-tests"
#: Key prefixes of these tests: the ACL user may touch nothing else, so a key the engine
#: built outside ``STREAM_APP_REDIS__KEY_PREFIX`` would fail (README's ACL advice relies on it).
PREFIX = "sec"
#: ``default`` off, one user allowed every command on the tests' keys.
ACL = ("--user", "default", "off", "--user", USER, "on", f">{PASSWORD}", f"~{PREFIX}*", "+@all")
#: Every Redis security field (``redis`` section), so the test run's environment cannot leak in.
NO_REDIS_SECURITY: dict[str, Any] = {
    "username": None,
    "password": None,
    "tls": False,
    "tls_ca_file": None,
    "tls_cert_file": None,
    "tls_key_file": None,
    "tls_verify": True,
}


def redis_settings(url: str, **security: Any) -> Settings:
    prefix = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    return Settings(redis={"url": url, "key_prefix": prefix, **NO_REDIS_SECURITY, **security})


@pytest.fixture(scope="module")
def logs() -> Path:
    return Path(ARTIFACTS) / "logs" / "transport-security"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.make(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def acl_redis(logs: Path) -> Iterator[RedisServer]:
    with RedisServer(logs / "acl-redis", extra_args=ACL) as server:
        yield server


@pytest.fixture(scope="module")
def redis_tls(logs: Path, certs: Certificates, acl_redis: RedisServer) -> Iterator[TlsTerminator]:
    with TlsTerminator(logs / "redis-tls", certs, acl_redis.port) as terminator:
        yield terminator


async def ping(settings: Settings) -> bool:
    client = redis_client(settings, timeout_s=2.0)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


# --- Redis ACL --------------------------------------------------------------------


async def test_the_acl_user_from_settings_reads_and_writes_through_the_stores(
    acl_redis: RedisServer,
) -> None:
    settings = redis_settings(acl_redis.url, username=USER, password=PASSWORD)
    client = redis_client(settings)
    try:
        stats = StatsStore(client, Keys(settings.redis.key_prefix))
        # Through the pass's own write path: a script call on the prefix's keys only.
        first = Counter({Plain("events_applied"): 3, Labelled("dead_letters", "oversized"): 1})
        await commit(client, lambda w: stats.add(w, first))
        await commit(client, lambda w: stats.add(w, Counter({Plain("events_applied"): 2})))
        assert await stats.read() == {"events_applied": 5, "dead_letters:oversized": 1}
        assert await client.acl_whoami() == USER
    finally:
        await client.aclose()


async def test_credentials_in_the_url_work_too(acl_redis: RedisServer) -> None:
    url = f"redis://{USER}:{PASSWORD}@127.0.0.1:{acl_redis.port}/0"
    assert await ping(redis_settings(url))


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"username": USER, "password": "wrong"},
        {"password": PASSWORD},  # the disabled ``default`` user
        {"username": "nobody", "password": PASSWORD},
    ],
    ids=["none", "wrong-password", "default-user", "unknown-user"],
)
async def test_missing_or_wrong_credentials_are_refused(
    acl_redis: RedisServer, credentials: dict[str, str]
) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        await ping(redis_settings(acl_redis.url, **credentials))


async def test_a_requirepass_server_takes_the_password_setting_alone(logs: Path) -> None:
    with RedisServer(logs / "requirepass", password=PASSWORD) as server:
        plain = f"redis://127.0.0.1:{server.port}/0"
        assert await ping(redis_settings(plain, password=PASSWORD))
        with pytest.raises(redis.exceptions.AuthenticationError):
            await ping(redis_settings(plain))


# --- Redis TLS --------------------------------------------------------------------


async def test_tls_with_the_ca_file_and_the_acl_user(
    redis_tls: TlsTerminator, certs: Certificates
) -> None:
    secure = {"username": USER, "password": PASSWORD, "tls_ca_file": certs.ca}
    via_flag = redis_settings(f"redis://127.0.0.1:{redis_tls.port}/0", tls=True, **secure)
    via_scheme = redis_settings(f"rediss://127.0.0.1:{redis_tls.port}/0", **secure)
    assert await ping(via_flag)
    assert await ping(via_scheme)


async def test_a_server_certificate_from_an_untrusted_ca_is_refused(
    redis_tls: TlsTerminator, certs: Certificates
) -> None:
    url = f"rediss://127.0.0.1:{redis_tls.port}/0"
    auth = {"username": USER, "password": PASSWORD}
    for trusted in (certs.other_ca, None):  # another CA; the system's CAs
        with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await ping(redis_settings(url, tls_ca_file=trusted, **auth))
    assert await ping(redis_settings(url, tls_verify=False, **auth))


async def test_plain_text_is_refused_by_a_tls_port(redis_tls: TlsTerminator) -> None:
    url = f"redis://127.0.0.1:{redis_tls.port}/0"
    with pytest.raises(redis.exceptions.ConnectionError):
        await ping(redis_settings(url, username=USER, password=PASSWORD))


async def test_mutual_tls_needs_the_client_certificate(
    logs: Path, certs: Certificates, acl_redis: RedisServer
) -> None:
    with TlsTerminator(
        logs / "redis-mtls", certs, acl_redis.port, require_client_cert=True
    ) as terminator:
        url = f"rediss://127.0.0.1:{terminator.port}/0"
        secure = {
            "username": USER,
            "password": PASSWORD,
            "tls_ca_file": certs.ca,
        }
        with pytest.raises(redis.exceptions.ConnectionError):
            await ping(redis_settings(url, **secure))
        with_cert = redis_settings(
            url,
            tls_cert_file=certs.client_cert,
            tls_key_file=certs.client_key,
            **secure,
        )
        assert await ping(with_cert)


# --- Kafka TLS and the worker end to end ---------------------------------------------


@pytest.fixture(scope="module")
def kafka_mtls(logs: Path, certs: Certificates) -> Iterator[str]:
    """Tansu behind a mutual-TLS terminator: the bootstrap address to use."""
    plain_port = free_port()
    with (
        TlsTerminator(logs / "kafka-tls", certs, plain_port, require_client_cert=True) as tls,
        AdvertisingTansu(logs / "kafka", port=plain_port, advertised_port=tls.port),
    ):
        yield f"127.0.0.1:{tls.port}"


async def test_the_worker_runs_over_mutual_tls_to_kafka_and_redis(
    kafka_mtls: str,
    logs: Path,
    certs: Certificates,
    acl_redis: RedisServer,
    tmp_path: Path,
) -> None:
    """Topics created, events consumed, profiles written and a decision published, every
    hop encrypted with client certificates: the worker child gets it all from ``to_env``."""
    run = uuid.uuid4().hex[:8]
    with TlsTerminator(
        logs / "redis-mtls-worker", certs, acl_redis.port, require_client_cert=True
    ) as redis_tls:
        settings = Settings(
            topics=TopicNames(
                **{name: f"{value}.m{run}" for name, value in TopicNames().model_dump().items()}
            ),
            kafka={
                "bootstrap": kafka_mtls,
                "security_protocol": "SSL",
                "sasl_mechanism": None,
                "sasl_username": None,
                "sasl_password": None,
                "ssl_ca_file": certs.ca,
                "ssl_cert_file": certs.client_cert,
                "ssl_key_file": certs.client_key,
                "topic_partitions": 1,
            },
            redis={
                "url": f"rediss://127.0.0.1:{redis_tls.port}/0",
                "username": USER,
                "password": PASSWORD,
                "tls": False,
                "tls_ca_file": certs.ca,
                "tls_cert_file": certs.client_cert,
                "tls_key_file": certs.client_key,
                "tls_verify": True,
                "key_prefix": f"{PREFIX}{run}",
            },
            worker={"app_id": f"stream-app-mtls-{run}", "data_dir": str(tmp_path / "faust")},
            secrets={"allow_dev_secret": True},
            decisions={"campaigns_file": CAMPAIGNS, "quiet_hours": None},
        )
        assert await ensure_topics(settings)
        customer = f"tls-{run}"
        redis = redis_client(settings)
        stats = StatsStore(redis, Keys(settings.redis.key_prefix))
        try:
            with worker_process(settings, logs, name=f"worker-mtls-{run}") as worker:
                await produce(
                    settings,
                    settings.topics.identity,
                    [
                        (
                            customer.encode(),
                            dumps(
                                event(
                                    "consent", customer, f"c-{run}", channel="push", opted_in=True
                                )
                            ),
                        )
                    ],
                )
                # The consent first (Kafka orders records per partition only).
                await eventually(stats.read, lambda s: s.get("events_applied", 0) >= 1, within=60)
                await produce(
                    settings,
                    settings.topics.clickstream,
                    [
                        (
                            customer.encode(),
                            dumps(
                                event(
                                    "add_to_cart",
                                    customer,
                                    f"a-{run}",
                                    item_id="sku-1",
                                    category="shoes",
                                    price=49.5,
                                    quantity=1,
                                )
                            ),
                        )
                    ],
                )
                applied = await eventually(
                    stats.read, lambda s: s.get("events_applied", 0) >= 2, within=60
                )
                assert applied.get("events_applied") == 2, worker.log_tail()
                assert await redis.exists(Keys(settings.redis.key_prefix).profile(customer))
                records = await consume_until(
                    settings, settings.topics.decisions, lambda seen: len(seen) >= 1, within=60
                )
                assert records, f"no decision over TLS:\n{worker.log_tail()}"
                decision = Decision.model_validate_json(records[0].value or b"")
                assert decision.customer_id == customer
        finally:
            await redis.aclose()


async def test_kafka_clients_without_tls_or_without_a_certificate_are_refused(
    kafka_mtls: str, certs: Certificates
) -> None:
    plain = Settings(kafka={"bootstrap": kafka_mtls, "security_protocol": "PLAINTEXT"})
    no_cert = Settings(
        kafka={"bootstrap": kafka_mtls, "security_protocol": "SSL", "ssl_ca_file": certs.ca}
    )
    for settings in (plain, no_cert):
        producer = AIOKafkaProducer(**client_options(settings), request_timeout_ms=3000)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()
