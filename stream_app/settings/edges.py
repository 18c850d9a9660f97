"""The API, the metrics endpoints, the secrets, and the servers tests and tools start."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr

from stream_app.settings.base import Section

#: Only a development default: ``stream-app worker`` refuses to start with it
#: unless ``allow_dev_secret`` is set (the embedded demo and tests set it).
DEV_PSEUDONYM_SECRET = "dev-only-pseudonymization-secret"  # noqa: S105
#: Likewise for API key hashes: ``stream-app api`` and ``api-key create`` refuse it.
DEV_API_KEY_PEPPER = "dev-only-api-key-pepper"


class SecretSettings(Section):
    """Keys that must differ from the development ones outside development."""

    pseudonym_secret: SecretStr = Field(
        default=SecretStr(DEV_PSEUDONYM_SECRET),
        description="HMAC key pseudonymizing customer ids in decisions and logs.",
    )
    api_key_pepper: SecretStr = Field(
        default=SecretStr(DEV_API_KEY_PEPPER),
        description="HMAC key of stored API key hashes; changing it invalidates every key.",
    )
    allow_dev_secret: bool = Field(
        default=False, description="Let the worker and the API start with the dev keys above."
    )


class ApiSettings(Section):
    """`stream-app api`: where it listens, its limits, and how it treats Redis."""

    host: str = Field(default="127.0.0.1", description="Address `stream-app api` binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `stream-app api` binds.")
    batch_max: int = Field(default=100, ge=1, le=10_000, description="Ids per batch lookup.")
    rate_per_minute: int = Field(
        default=600, ge=1, description="Default requests per minute of a new API key."
    )
    support_lookups_per_minute: int = Field(
        default=30,
        ge=1,
        description="Customers a `support` key may look up a minute (views and decisions), "
        "on top of its own rate limit: one customer at a time, not an export.",
    )
    redis_timeout_s: float = Field(
        default=0.5, gt=0, description="API's Redis connect/read timeout (fail fast, no retry)."
    )
    deadline_s: float = Field(
        default=2.0, gt=0, description="Most time one API request may spend on Redis in total."
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive Redis failures that open the API's breaker."
    )
    breaker_reset_s: float = Field(
        default=5.0, gt=0, description="Open breaker: answer 503 this long, then try Redis again."
    )


class AuditSettings(Section):
    """Profile consistency audit (docs/audit.md): in-pass invariant checks on a sample of
    customers, and what `stream-app audit` recomputes."""

    sample_rate: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Fraction of customers whose profile the worker checks for broken "
        "invariants at each pass that writes it (by a hash of the id: always the same "
        "customers; 0: off).",
    )
    recompute_rate: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Fraction of customers `stream-app audit` recomputes from the topics "
        "(by a hash of the id, the same hash as `sample_rate`) unless `--sample` says.",
    )


class MetricsSettings(Section):
    """Prometheus endpoints (issue 7) and the probes behind them."""

    port: int | None = Field(
        default=9108, ge=1, le=65535, description="Worker's Prometheus /metrics port (null: off)."
    )
    api_port: int | None = Field(
        default=9109, ge=1, le=65535, description="API's Prometheus /metrics port (null: off)."
    )
    probe_interval_s: float = Field(
        default=5.0, gt=0, description="How often lag, queue depth and the model are read."
    )
    partition_stall_after: timedelta = Field(
        default=timedelta(minutes=2),
        description="Lag with a committed offset that has not moved this long: stalled.",
    )
    dashboard_urls: tuple[str, ...] = Field(
        default=(),
        description="Prometheus endpoints the live dashboard reads besides the workers "
        "announced in Redis (e.g. workers of another deployment).",
    )
    advertise_url: str | None = Field(
        default=None,
        description="URL of this worker's /metrics announced to the dashboard (null: "
        "http://<hostname>:<port>/metrics, the container's or pod's name).",
    )
    announce_interval_s: float = Field(
        default=10.0, gt=0, description="How often a worker announces its metrics URL."
    )
    announce_missed: int = Field(
        default=3,
        ge=1,
        description="Announcements a worker may miss before the dashboard drops it.",
    )

    def advertised(self, hostname: str) -> str | None:
        """The URL this worker announces: the explicit one, else its metrics port on
        ``hostname`` (resolvable by its peers in compose and Kubernetes); None: no metrics.

        >>> MetricsSettings().advertised("worker-1")
        'http://worker-1:9108/metrics'
        >>> MetricsSettings(advertise_url="http://10.0.0.7:9108/metrics").advertised("w")
        'http://10.0.0.7:9108/metrics'
        >>> MetricsSettings(port=None).advertised("worker-1") is None
        True
        """
        if self.advertise_url is not None:
            return self.advertise_url
        return None if self.port is None else f"http://{hostname}:{self.port}/metrics"

    def announce_ttl_ms(self) -> int:
        """How long the dashboard keeps a worker it has not heard from (ms).

        >>> MetricsSettings(announce_interval_s=2.0, announce_missed=3).announce_ttl_ms()
        6000
        """
        return round(self.announce_interval_s * self.announce_missed * 1000)


class DevstackSettings(Section):
    """Servers for tests and tools (``devstack.provision``).

    ``external`` needs ``kafka.bootstrap`` and ``redis.url`` set explicitly: the same
    variables the app reads, so exporting what ``stream-app stack`` prints points the
    tests at that stack.
    """

    servers: Literal["external", "containers", "embedded"] | None = Field(
        default=None,
        description="Force the kind of test servers; else external when Kafka and Redis are "
        "set, containers when Docker answers, embedded otherwise.",
    )
    kafka_image: str = Field(
        default="apache/kafka:3.9.0", description="Kafka image of the containers kind."
    )
    redis_image: str = Field(
        default="redis:7.2-alpine", description="Redis image of the containers kind."
    )
    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        description="Docker engine the containers kind uses; DOCKER_HOST if set.",
    )
