"""Security settings: refused combinations, and what the Kafka and Redis factories build.

No server is contacted: the clients are built (which is where aiokafka and
redis-py check their options) and inspected. ``tests/integration/
test_transport_security.py`` connects them to real servers.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
import trustme
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr, ValidationError
from redis.asyncio.connection import SSLConnection

from stream_app.kafka import client_options, faust_credentials
from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.streaming.app import faust_app

SASL_PASSWORD = "kafka-pw-do-not-print"
REDIS_PASSWORD = "redis-pw-do-not-print"
#: SASL fields of the ``kafka`` section.
SCRAM = {
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "app",
    "sasl_password": SASL_PASSWORD,
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA file and a client certificate and key signed by it."""
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    client = ca.issue_cert("client.test")
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return files


def refused(**values: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    return str(caught.value)


# --- refused combinations ------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
@pytest.mark.parametrize("left_out", list(SCRAM))
def test_sasl_needs_a_mechanism_a_user_and_a_password(protocol: str, left_out: str) -> None:
    given = {k: v for k, v in SCRAM.items() if k != left_out}
    message = refused(kafka={"security_protocol": protocol, **given})
    assert f"STREAM_APP_KAFKA__{left_out.upper()}" in message
    assert f"STREAM_APP_KAFKA__SECURITY_PROTOCOL={protocol} needs" in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_sasl_credentials_without_a_sasl_protocol_are_refused(protocol: str) -> None:
    """Credentials set but unused would connect unauthenticated and fail confusingly later."""
    message = refused(kafka={"security_protocol": protocol, **SCRAM})
    assert "STREAM_APP_KAFKA__SASL_* are set" in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_kafka_tls_files_without_tls_are_refused(protocol: str, pki: dict[str, Path]) -> None:
    sasl = SCRAM if protocol.startswith("SASL") else {}
    message = refused(kafka={"security_protocol": protocol, "ssl_ca_file": pki["ca"], **sasl})
    assert "STREAM_APP_KAFKA__SSL_* files are set" in message


def test_redis_tls_files_without_tls_are_refused(pki: dict[str, Path]) -> None:
    message = refused(redis={"url": "redis://127.0.0.1:6379/0", "tls_ca_file": pki["ca"]})
    assert "STREAM_APP_REDIS__TLS_* files are set" in message


def test_a_key_without_its_certificate_is_refused(pki: dict[str, Path]) -> None:
    assert "STREAM_APP_KAFKA__SSL_KEY_FILE needs" in refused(
        kafka={"security_protocol": "SSL", "ssl_key_file": pki["key"]}
    )
    assert "STREAM_APP_REDIS__TLS_KEY_FILE needs" in refused(
        redis={"tls": True, "tls_key_file": pki["key"]}
    )


def test_a_missing_file_is_refused_at_start_up(tmp_path: Path) -> None:
    message = refused(kafka={"security_protocol": "SSL", "ssl_ca_file": tmp_path / "absent.pem"})
    assert "kafka.ssl_ca_file" in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"url": "redis://:a@h:6379/0", "password": "b"},
            "password is both in STREAM_APP_REDIS__URL and STREAM_APP_REDIS__PASSWORD",
        ),
        (
            {"url": "redis://u@h:6379/0", "username": "v"},
            "user is both in STREAM_APP_REDIS__URL and STREAM_APP_REDIS__USERNAME",
        ),
        ({"url": "unix:///run/redis.sock", "tls": True}, "unix:// socket"),
        ({"url": "http://h:6379"}, "must start with redis://, rediss:// or unix://"),
    ],
)
def test_contradictory_redis_settings_are_refused(values: dict[str, Any], expected: str) -> None:
    assert expected in refused(redis=values)


def test_every_problem_is_reported_at_once_and_no_secret_is_echoed() -> None:
    message = refused(
        kafka={"security_protocol": "SASL_SSL", "sasl_password": SASL_PASSWORD},
        redis={"url": f"redis://app:{REDIS_PASSWORD}@h:6379/0", "password": REDIS_PASSWORD},
    )
    assert "STREAM_APP_KAFKA__SASL_USERNAME" in message
    assert "STREAM_APP_REDIS__PASSWORD" in message
    assert SASL_PASSWORD not in message
    assert REDIS_PASSWORD not in message


def test_the_environment_is_checked_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_APP_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STREAM_APP_KAFKA__SASL_PASSWORD", SASL_PASSWORD)
    with pytest.raises(ValidationError, match="STREAM_APP_KAFKA__SASL_MECHANISM") as caught:
        Settings(_env_file=None)
    assert SASL_PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"kafka": {"security_protocol": "SSL"}},
        {"kafka": {"security_protocol": "SASL_SSL", **SCRAM}},
        {"kafka": {"security_protocol": "SASL_PLAINTEXT", **SCRAM, "sasl_mechanism": "PLAIN"}},
        {"redis": {"url": "rediss://app:pw@h:6380/0"}},
        {"redis": {"url": "redis://app@h:6379/0", "password": "pw"}},
        {"redis": {"username": "app", "password": "pw", "tls": True}},
        {"redis": {"tls": True, "tls_verify": False}},
    ],
)
def test_consistent_combinations_are_accepted(values: dict[str, Any]) -> None:
    Settings(**values)


# --- Kafka options -------------------------------------------------------------------


def test_plaintext_clients_get_only_the_bootstrap_servers() -> None:
    settings = Settings(kafka={"bootstrap": "k1:9092,k2:9092"})
    assert client_options(settings) == {
        "bootstrap_servers": "k1:9092,k2:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(settings) is None


def test_ssl_verifies_the_broker_with_the_ca_file_and_presents_the_client_certificate(
    pki: dict[str, Path],
) -> None:
    settings = Settings(
        kafka={
            "security_protocol": "SSL",
            "ssl_ca_file": pki["ca"],
            "ssl_cert_file": pki["cert"],
            "ssl_key_file": pki["key"],
        }
    )
    options = client_options(settings)
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": settings.kafka.bootstrap, "security_protocol": "SSL"}
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    [trusted] = context.get_ca_certs()  # the CA file only, not the system's
    assert "Testing CA" in str(trusted["subject"])  # trustme's


def test_sasl_ssl_scram_passes_the_credentials_in_clear_to_aiokafka_only() -> None:
    settings = Settings(kafka={"security_protocol": "SASL_SSL", **SCRAM})
    options = client_options(settings)
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "bootstrap_servers": settings.kafka.bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "app",
        "sasl_plain_password": SASL_PASSWORD,
    }
    assert SASL_PASSWORD not in repr(settings)


def test_sasl_plaintext_has_no_tls_context() -> None:
    options = client_options(Settings(kafka={"security_protocol": "SASL_PLAINTEXT", **SCRAM}))
    assert "ssl_context" not in options
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"


SECURITY_CASES = [
    {},
    {"security_protocol": "SSL"},
    {"security_protocol": "SASL_PLAINTEXT", **SCRAM},
    {"security_protocol": "SASL_SSL", **SCRAM, "sasl_mechanism": "SCRAM-SHA-256"},
    {"security_protocol": "SASL_SSL", **SCRAM, "sasl_mechanism": "PLAIN"},
]


@pytest.mark.parametrize("values", SECURITY_CASES)
async def test_aiokafka_clients_accept_the_options(values: dict[str, Any]) -> None:
    """aiokafka checks protocol, context and SASL options when a client is built."""
    options = client_options(Settings(kafka=values))
    producer = AIOKafkaProducer(**options)
    consumer = AIOKafkaConsumer("t", **options, group_id=None)
    admin = AIOKafkaAdminClient(**options)
    await producer.stop()
    await consumer.stop()
    await admin.close()


@pytest.mark.parametrize("values", SECURITY_CASES)
def test_faust_gets_the_same_security_as_the_aiokafka_clients(values: dict[str, Any]) -> None:
    settings = Settings(kafka=values)
    app = faust_app(settings)
    expected = client_options(settings)
    del expected["bootstrap_servers"]
    # What Faust's aiokafka driver derives from the app's credentials for its clients.
    derived = dict(credentials_to_aiokafka_auth(app.conf.broker_credentials, None))
    if "ssl_context" in expected:
        assert isinstance(derived.pop("ssl_context"), ssl.SSLContext)
        del expected["ssl_context"]
    else:
        assert derived.pop("ssl_context", None) is None
    assert derived == expected


def test_faust_credentials_types() -> None:
    assert isinstance(
        faust_credentials(Settings(kafka={"security_protocol": "SSL"})), faust.SSLCredentials
    )
    sasl = faust_credentials(Settings(kafka={"security_protocol": "SASL_SSL", **SCRAM}))
    assert isinstance(sasl, faust.SASLCredentials)
    assert sasl.protocol.value == "SASL_SSL"
    assert SASL_PASSWORD not in repr(sasl)


# --- Redis client ---------------------------------------------------------------------


async def test_redis_client_takes_user_password_and_timeouts() -> None:
    settings = Settings(redis={"username": "app", "password": REDIS_PASSWORD, "timeout_s": 3})
    client = redis_client(settings)
    kwargs = client.connection_pool.connection_kwargs
    assert not issubclass(client.connection_pool.connection_class, SSLConnection)
    assert (kwargs["username"], kwargs["password"]) == ("app", REDIS_PASSWORD)
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 3
    assert not any(name.startswith("ssl_") for name in kwargs)
    await client.aclose()
    fast = redis_client(settings, timeout_s=0.5)
    assert fast.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    await fast.aclose()


async def test_redis_client_keeps_credentials_given_in_the_url() -> None:
    client = redis_client(Settings(redis={"url": "redis://app:pw@h:6379/2"}))
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("app", "pw", 2)
    await client.aclose()


async def test_redis_tls_from_the_flag_with_ca_and_client_certificate(
    pki: dict[str, Path],
) -> None:
    settings = Settings(
        redis={
            "url": "redis://h:6380/0",
            "tls": True,
            "tls_ca_file": pki["ca"],
            "tls_cert_file": pki["cert"],
            "tls_key_file": pki["key"],
        }
    )
    client = redis_client(settings)
    assert issubclass(client.connection_pool.connection_class, SSLConnection)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["host"] == "h"
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
        str(pki["ca"]),
        str(pki["cert"]),
        str(pki["key"]),
    )
    await client.aclose()


@pytest.mark.parametrize(
    ("values", "verified"),
    [
        ({"url": "rediss://h:6380/0"}, True),
        ({"url": "rediss://h:6380/0", "tls_verify": False}, False),
    ],
)
async def test_a_rediss_url_means_tls(values: dict[str, Any], verified: bool) -> None:
    client = redis_client(Settings(redis=values))
    kwargs = client.connection_pool.connection_kwargs
    assert issubclass(client.connection_pool.connection_class, SSLConnection)
    assert kwargs["ssl_cert_reqs"] == ("required" if verified else "none")
    assert kwargs["ssl_check_hostname"] is verified
    await client.aclose()


# --- to child processes ----------------------------------------------------------------


def test_security_settings_survive_the_trip_through_a_child_environment(
    pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        kafka={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": "app",
            "sasl_password": SecretStr(SASL_PASSWORD),
            "ssl_ca_file": pki["ca"],
            "ssl_cert_file": pki["cert"],
            "ssl_key_file": pki["key"],
        },
        redis={
            "url": "redis://redis.internal:6380/0",
            "username": "app",
            "password": SecretStr(REDIS_PASSWORD),
            "tls": True,
            "tls_ca_file": pki["ca"],
            "tls_cert_file": pki["cert"],
            "tls_key_file": pki["key"],
            "tls_verify": False,
        },
    )
    env = settings.to_env()
    assert env["STREAM_APP_KAFKA__SASL_PASSWORD"] == SASL_PASSWORD
    assert env["STREAM_APP_REDIS__PASSWORD"] == REDIS_PASSWORD
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == settings


def test_unset_secrets_stay_unset_in_a_child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    env = settings.to_env()
    assert env["STREAM_APP_REDIS__PASSWORD"] == env["STREAM_APP_KAFKA__SASL_PASSWORD"] == "null"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).redis.password is None
