"""How to reach Kafka and Redis, and how securely (README "Security in transit").

Contradictory or incomplete security settings are refused at start-up, each with the
variables to change, rather than failing later with a broker's or Redis' less telling error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, model_validator

from stream_app.settings.base import Section, env_var


def _kafka(field: str) -> str:
    return env_var("kafka", field)


def _redis(field: str) -> str:
    return env_var("redis", field)


class KafkaSettings(Section):
    """Brokers, their security, fetching, the consumer group's timing, topic creation."""

    bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka listener protocol: TLS (SSL), SASL, both, none."
    )
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT / SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, description="SASL user.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    ssl_ca_file: FilePath | None = Field(
        default=None,
        description="PEM CAs that signed the brokers' certificates; else the system's.",
    )
    ssl_cert_file: FilePath | None = Field(
        default=None, description="PEM client certificate, for brokers requiring mutual TLS."
    )
    ssl_key_file: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate, if not inside it."
    )
    fetch_max_wait_ms: int = Field(
        default=10,
        ge=0,
        le=30_000,
        description="Longest a fetch waits for records (Apache Kafka answers as soon as "
        "fetch_min_bytes are there; the embedded broker only at this deadline).",
    )
    fetch_min_bytes: int = Field(default=1, ge=1, description="Bytes a fetch waits for.")
    max_poll_records: int = Field(
        default=2000, ge=1, description="Most records one fetch hands the worker (all partitions)."
    )
    session_timeout_s: float = Field(
        default=10.0, gt=0, description="Consumer group session: silent this long, out."
    )
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="How often the consumer tells the group it is alive."
    )
    rebalance_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest a rebalance waits for members to rejoin."
    )
    commit_every: int = Field(default=1000, ge=1, description="Records between offset commits.")
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="Longest time between offset commits."
    )
    topic_partitions: int = Field(
        default=4, ge=1, le=1024, description="Partitions of the topics the engine creates."
    )
    topic_replication: int = Field(
        default=1, ge=1, description="Replication factor of the topics the engine creates."
    )

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        _refuse(_kafka_security_problems(self))
        return self


class RedisSettings(Section):
    """The Redis server, its user and TLS, the key prefix, timeouts and retries."""

    url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL.")
    key_prefix: str = Field(
        default="sa", pattern=r"^[a-z][a-z0-9_]{0,15}$", description="Prefix of every Redis key."
    )
    username: str | None = Field(
        default=None, description="Redis ACL user; else the URL's, else Redis' `default` user."
    )
    password: SecretStr | None = Field(
        default=None, description="Password of that user (or `requirepass`); not also in the URL."
    )
    tls: bool = Field(default=False, description="TLS to Redis; a rediss:// URL implies it.")
    tls_ca_file: FilePath | None = Field(
        default=None, description="PEM CAs that signed Redis' certificate; else the system's."
    )
    tls_cert_file: FilePath | None = Field(
        default=None, description="PEM client certificate, for Redis requiring mutual TLS."
    )
    tls_key_file: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate, if not inside it."
    )
    tls_verify: bool = Field(
        default=True, description="Check Redis' certificate and host name (off: tests only)."
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Redis connect/read timeout.")
    retry_max_s: float = Field(default=5.0, gt=0, description="Max backoff between retries.")
    cluster: bool = Field(
        default=False,
        description="`url` names Redis Cluster nodes (`redis://a:7000,b:7001`): cluster client.",
    )
    schedule_shards: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Schedule shards (`{sched:<n>}` keys, one slot each); none: 64 on a cluster, "
        "else 1. Changing it strands checks already scheduled.",
    )
    wait_replicas: int = Field(
        default=0,
        ge=0,
        description="Replicas that must ack (WAIT) a batch before its offsets commit; 0: off.",
    )
    wait_timeout_ms: int = Field(
        default=1000, gt=0, description="Longest WAIT for those replicas; a short ack retries."
    )

    @property
    def shards(self) -> int:
        """How many schedule shards the key layout has (``schedule_shards`` resolved)."""
        if self.schedule_shards is not None:
            return self.schedule_shards
        return 64 if self.cluster else 1

    @property
    def uses_tls(self) -> bool:
        """Whether Redis is reached over TLS: ``tls`` or a ``rediss://`` URL."""
        return self.tls or urlsplit(self.url).scheme == "rediss"

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        _refuse(_redis_security_problems(self))
        return self


def _refuse(problems: list[str]) -> None:
    """One error naming every problem a connection's settings have, if any."""
    if problems:
        raise ValueError("; ".join(problems))


def _kafka_security_problems(s: KafkaSettings) -> list[str]:
    protocol = s.security_protocol
    sasl = {
        _kafka("sasl_mechanism"): s.sasl_mechanism,
        _kafka("sasl_username"): s.sasl_username,
        _kafka("sasl_password"): s.sasl_password,
    }
    problems = []
    if protocol.startswith("SASL_"):
        missing = [name for name, value in sasl.items() if value is None]
        if missing:
            problems.append(f"{_kafka('security_protocol')}={protocol} needs {', '.join(missing)}")
    elif any(value is not None for value in sasl.values()):
        problems.append(
            f"{_kafka('sasl_*')} are set but {_kafka('security_protocol')}={protocol} "
            "would not use them (SASL_SSL or SASL_PLAINTEXT does)"
        )
    return problems + _tls_file_problems(
        _kafka,
        "ssl",
        (s.ssl_ca_file, s.ssl_cert_file, s.ssl_key_file),
        tls=protocol.endswith("SSL"),
        no_tls=f"{_kafka('security_protocol')}={protocol} has no TLS (SSL or SASL_SSL has)",
    )


def _redis_security_problems(s: RedisSettings) -> list[str]:
    url = urlsplit(s.url)
    problems = []
    if url.scheme not in ("redis", "rediss", "unix"):
        problems.append(f"{_redis('url')} must start with redis://, rediss:// or unix://")
    if s.cluster and url.scheme == "unix":
        problems.append(f"{_redis('cluster')} needs a redis:// or rediss:// node URL")
    if s.tls and url.scheme == "unix":
        problems.append(f"{_redis('tls')} does not apply to a unix:// socket")
    if s.username is not None and url.username:
        problems.append(f"the Redis user is both in {_redis('url')} and {_redis('username')}")
    if s.password is not None and url.password is not None:
        problems.append(f"the Redis password is both in {_redis('url')} and {_redis('password')}")
    return problems + _tls_file_problems(
        _redis,
        "tls",
        (s.tls_ca_file, s.tls_cert_file, s.tls_key_file),
        tls=s.uses_tls,
        no_tls=f"Redis is reached without TLS (set {_redis('tls')}=true or use a rediss:// URL)",
    )


def _tls_file_problems(
    name: Callable[[str], str],
    prefix: str,
    files: tuple[object, object, object],
    *,
    tls: bool,
    no_tls: str,
) -> list[str]:
    """What both connections check of their ``<prefix>_ca/cert/key_file``: set only
    when TLS is on (``no_tls`` says why it is not), and a key only with its certificate."""
    _, cert, key = files
    problems = []
    if not tls and any(f is not None for f in files):
        problems.append(f"{name(prefix + '_*')} files are set but {no_tls}")
    if key is not None and cert is None:
        problems.append(f"{name(prefix + '_key_file')} needs {name(prefix + '_cert_file')}")
    return problems
