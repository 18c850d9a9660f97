"""One typed, frozen settings object for every process (worker, CLI, simulator, tests).

Values come from environment variables prefixed ``STREAM_APP_`` (e.g.
``STREAM_APP_KAFKA_BOOTSTRAP``), then from a ``.env`` file, then the defaults
below. Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, FilePath, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_app.events.topics import TopicNames

#: Relative shop activity by local hour of day (evening peak, lunch bump, quiet night).
# fmt: off
TYPICAL_DAY = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.0, 2.0, 2.2, 2.5,
    3.0, 2.8, 2.4, 2.3, 2.4, 2.8, 3.5, 4.2, 4.5, 4.0, 3.0, 2.0,
)
# fmt: on

NONE_TEXT = "null"

#: Only a development default: ``stream-app worker`` refuses to start with it
#: unless ``allow_dev_secret`` is set (the embedded demo and tests set it).
DEV_PSEUDONYM_SECRET = "dev-only-pseudonymization-secret"  # noqa: S105
#: Likewise for API key hashes: ``stream-app api`` and ``api-key create`` refuse it.
DEV_API_KEY_PEPPER = "dev-only-api-key-pepper"


class Settings(BaseSettings):
    """Configuration of the engine; see README "Configuration" for each value."""

    model_config = SettingsConfigDict(
        env_prefix="STREAM_APP_",
        env_file=".env",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        env_parse_none_str=NONE_TEXT,
        # Start-up errors must not print the other settings' values: they hold passwords.
        hide_input_in_errors=True,
    )

    # --- servers ---------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL.")
    key_prefix: str = Field(
        default="sa", pattern=r"^[a-z][a-z0-9_]{0,15}$", description="Prefix of every Redis key."
    )

    # --- security in transit (README "Security in transit") --------------
    redis_username: str | None = Field(
        default=None, description="Redis ACL user; else the URL's, else Redis' `default` user."
    )
    redis_password: SecretStr | None = Field(
        default=None, description="Password of that user (or `requirepass`); not also in the URL."
    )
    redis_tls: bool = Field(default=False, description="TLS to Redis; a rediss:// URL implies it.")
    redis_tls_ca_file: FilePath | None = Field(
        default=None, description="PEM CAs that signed Redis' certificate; else the system's."
    )
    redis_tls_cert_file: FilePath | None = Field(
        default=None, description="PEM client certificate, for Redis requiring mutual TLS."
    )
    redis_tls_key_file: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate, if not inside it."
    )
    redis_tls_verify: bool = Field(
        default=True, description="Check Redis' certificate and host name (off: tests only)."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka listener protocol: TLS (SSL), SASL, both, none."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT / SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_ca_file: FilePath | None = Field(
        default=None,
        description="PEM CAs that signed the brokers' certificates; else the system's.",
    )
    kafka_ssl_cert_file: FilePath | None = Field(
        default=None, description="PEM client certificate, for brokers requiring mutual TLS."
    )
    kafka_ssl_key_file: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate, if not inside it."
    )

    # --- topics ----------------------------------------------------------
    topics: TopicNames = TopicNames()
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1)

    # --- worker ----------------------------------------------------------
    app_id: str = Field(default="stream-app", description="Faust app id = consumer group id.")
    data_dir: str = Field(default=".stream-app-data", description="Faust local state directory.")
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
    batch_gather_ms: float = Field(
        default=2.0,
        gt=0,
        le=1000,
        description="How long the worker gathers the partition batches a fetch returned "
        "into one pass (each pass costs two Redis round trips, whatever its size).",
    )
    stream_buffer_batches: int = Field(
        default=8, ge=1, description="Fetched partition batches buffered ahead of processing."
    )
    max_record_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger records go to DLQ."
    )
    max_events_per_record: int = Field(default=1000, ge=1)
    dlq_max_original_bytes: int = Field(
        default=65_536, ge=0, description="Original bytes kept in a dead letter (rest truncated)."
    )
    max_event_age: timedelta = Field(default=timedelta(days=7))
    max_event_future_skew: timedelta = Field(default=timedelta(minutes=5))
    allowed_lateness: timedelta = Field(
        default=timedelta(days=1),
        description="Events older than the customer's newest event by more than this are "
        "dead-lettered (late_event); event ids are remembered exactly that long.",
    )
    dedupe_window: timedelta = Field(
        default=timedelta(days=7), description="How long emitted decision ids are remembered."
    )
    profile_ttl: timedelta = Field(
        default=timedelta(days=400), description="Profiles untouched this long expire."
    )
    redis_timeout_s: float = Field(default=5.0, gt=0, description="Redis connect/read timeout.")
    redis_retry_max_s: float = Field(default=5.0, gt=0, description="Max backoff between retries.")
    broker_session_timeout_s: float = Field(default=10.0, gt=0)
    broker_heartbeat_interval_s: float = Field(default=1.0, gt=0)
    broker_rebalance_timeout_s: float = Field(default=10.0, gt=0)
    broker_commit_every: int = Field(default=1000, ge=1)
    broker_commit_interval_s: float = Field(default=1.0, gt=0)
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, for log pipelines."
    )

    # --- profile math (docs/profile.md) ---------------------------------
    taste_half_life: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    rhythm_half_life: timedelta = Field(default=timedelta(days=28), gt=timedelta(0))
    taste_weight_view: float = Field(default=1.0, ge=0)
    taste_weight_cart: float = Field(default=3.0, ge=0)
    taste_weight_purchase: float = Field(default=5.0, ge=0)
    recent_views: int = Field(default=20, ge=1, le=500)
    recent_searches: int = Field(default=10, ge=1, le=500)
    base_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    fx_to_base: dict[str, float] = Field(
        default={
            "EUR": 1.0,
            "GBP": 1 / 0.85,
            "USD": 1 / 1.08,
            "CAD": 1 / 1.47,
            "BRL": 1 / 5.4,
            "JPY": 1 / 160.0,
            "SGD": 1 / 1.45,
            "INR": 1 / 90.0,
            "AUD": 1 / 1.62,
        },
        description="Units of base currency per unit of each currency (monetary value).",
    )
    recency_days_scores: tuple[float, float, float, float] = (7, 30, 90, 180)
    frequency_scores: tuple[int, int, int, int] = (10, 5, 3, 2)
    monetary_scores: tuple[float, float, float, float] = (1000, 500, 200, 50)
    price_bands: tuple[float, float] = (30, 100)
    new_customer_days: float = Field(default=30, gt=0)
    default_interval_days: float = Field(default=30, gt=0)
    min_interval_days: float = Field(default=1, gt=0)
    lifecycle_factors: tuple[float, float, float] = (1.5, 3.0, 6.0)

    # --- segments --------------------------------------------------------
    segments_file: Path | None = Field(
        default=Path("config/segments.toml"),
        description="TOML file of segment definitions (CEL expressions); none if absent.",
    )
    segment_memo_customers: int = Field(
        default=100_000,
        ge=0,
        description="Customers whose last segment answers a worker keeps, so a rule whose "
        "inputs an event did not change is not evaluated again (about 0.2 KB each).",
    )
    segment_refresh: timedelta = Field(
        default=timedelta(hours=1),
        description="Segments are looked at again at least this often without events (rules "
        "over time); life-cycle turns and waiting triggers are looked at when they fall due.",
    )

    # --- learning (issue 4) ---------------------------------------------
    offers: tuple[str, ...] = Field(
        default=("none", "free_shipping", "discount"),
        description="Offers the content bandit chooses among for reminders.",
    )
    attribution_window: timedelta = Field(
        default=timedelta(hours=24), description="A click or conversion within it is a positive."
    )
    model_checkpoint_interval_s: float = Field(default=30.0, gt=0)
    validation_window: int = Field(default=1000, ge=10, description="Labels in rolling metrics.")
    model_learning_rate: float = Field(default=0.02, gt=0, description="SGD step size.")
    drift_delta: float = Field(
        default=0.002, gt=0, lt=1, description="ADWIN confidence: smaller, fewer false alarms."
    )
    challenger_window: int = Field(
        default=500, ge=1, description="Labels over which a challenger must beat the champion."
    )
    challenger_patience: int = Field(
        default=5000, ge=1, description="Labels after which a challenger that did not win goes."
    )
    bandit_min_epsilon: float = Field(default=0.02, ge=0, le=1)
    bandit_max_epsilon: float = Field(default=0.2, ge=0, le=1)

    # --- privacy ---------------------------------------------------------
    pseudonym_secret: SecretStr = SecretStr(DEV_PSEUDONYM_SECRET)
    allow_dev_secret: bool = False

    # --- decisions (issue 5) ---------------------------------------------
    campaigns_file: Path | None = Field(
        default=Path("config/campaigns.toml"), description="Campaign definitions (TOML)."
    )
    quiet_hours: tuple[int, int] | None = Field(
        default=(22, 8), description="Local [start, end) hours in which nothing is sent."
    )
    caps_per_day: dict[str, int] = Field(
        default={"push": 2, "email": 1, "sms": 1, "in_app": 5},
        description="Per channel: at most this many messages in any rolling 24 h.",
    )
    caps_per_week: dict[str, int] = Field(
        default={"push": 5, "email": 3, "sms": 2, "in_app": 20},
        description="Per channel: at most this many messages in any rolling 7 days.",
    )
    global_cap_per_day: int | None = Field(
        default=3, ge=1, description="All channels and campaigns: at most this many a day."
    )
    timing_prior: tuple[float, ...] = Field(
        default=TYPICAL_DAY,
        min_length=24,
        max_length=24,
        description="Typical activity by local hour of day: the send-time prior.",
    )
    timing_prior_strength: float = Field(
        default=30.0,
        ge=0,
        description="Events of history (~10 visits) that weigh as much as the prior.",
    )
    timing_layer_strength: float = Field(
        default=20.0,
        ge=0,
        description="Customers of evidence a learned prior (everyone's, a segment's) needs.",
    )
    timing_prior_half_life: timedelta = Field(
        default=timedelta(days=14), description="How fast learned send-time priors forget."
    )
    holdout_salt: str = Field(default="", description="Change to redraw every holdout group.")
    viewers_kept: timedelta = Field(
        default=timedelta(days=14), description="How long item viewers are remembered."
    )
    scheduler_batch: int = Field(default=500, ge=1, description="Due checks run per claim.")
    timer_max_sleep: timedelta = Field(
        default=timedelta(seconds=30),
        description="Longest the timer sleeps without looking at the schedule (a last resort: "
        "it wakes at the next due check, and when this worker arms an earlier one).",
    )
    scheduler_lease: timedelta = Field(
        default=timedelta(seconds=60), description="Claimed but unfinished checks retry after."
    )

    # --- API (issue 6) -----------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address `stream-app api` binds.")
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port `stream-app api` binds.")
    api_key_pepper: SecretStr = Field(
        default=SecretStr(DEV_API_KEY_PEPPER),
        description="HMAC key of stored API key hashes; changing it invalidates every key.",
    )
    api_batch_max: int = Field(default=100, ge=1, le=10_000, description="Ids per batch lookup.")
    api_rate_per_minute: int = Field(
        default=600, ge=1, description="Default requests per minute of a new API key."
    )
    api_redis_timeout_s: float = Field(
        default=0.5, gt=0, description="API's Redis connect/read timeout (fail fast, no retry)."
    )
    api_deadline_s: float = Field(
        default=2.0, gt=0, description="Most time one API request may spend on Redis in total."
    )
    api_breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive Redis failures that open the API's breaker."
    )
    api_breaker_reset_s: float = Field(
        default=5.0, gt=0, description="Open breaker: answer 503 this long, then try Redis again."
    )

    # --- metrics (issue 7) -------------------------------------------------
    metrics_port: int | None = Field(
        default=9108, ge=1, le=65535, description="Worker's Prometheus /metrics port (null: off)."
    )
    api_metrics_port: int | None = Field(
        default=9109, ge=1, le=65535, description="API's Prometheus /metrics port (null: off)."
    )
    metrics_probe_interval_s: float = Field(
        default=5.0, gt=0, description="How often lag, queue depth and the model are read."
    )
    partition_stall_after: timedelta = Field(
        default=timedelta(minutes=2),
        description="Lag with a committed offset that has not moved this long: stalled.",
    )
    dashboard_metrics_urls: tuple[str, ...] = Field(
        default=("http://127.0.0.1:9108/metrics",),
        description="Workers' Prometheus endpoints the live dashboard reads (lag, latency).",
    )

    @property
    def redis_uses_tls(self) -> bool:
        """Whether Redis is reached over TLS: ``redis_tls`` or a ``rediss://`` URL."""
        return self.redis_tls or urlsplit(self.redis_url).scheme == "rediss"

    @model_validator(mode="after")
    def _check_transport_security(self) -> Self:
        """Refuse contradictory or incomplete security settings at start-up, all at once,
        rather than failing later with a broker's or Redis' less telling error."""
        problems = [*_kafka_security_problems(self), *_redis_security_problems(self)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as ``STREAM_APP_*`` variables, to configure a child process.

        Nested models use ``__`` keys; dicts, tuples and lists are JSON (keys keep their
        case); ``None`` is ``null``; secrets are in clear, since the child needs them.
        """
        env: dict[str, str] = {}
        dumped = self.model_dump(mode="json")
        for name, value in dumped.items():
            var = f"STREAM_APP_{name.upper()}"
            raw = getattr(self, name)
            if isinstance(raw, SecretStr):  # dumped masked: pass the real value
                env[var] = raw.get_secret_value()
            elif isinstance(raw, BaseModel):
                for sub, sub_value in value.items():
                    env[f"{var}__{sub.upper()}"] = str(sub_value)
            elif value is None:
                env[var] = NONE_TEXT
            elif isinstance(value, dict | list | bool):
                env[var] = json.dumps(value)
            else:
                env[var] = str(value)
        env["STREAM_APP_PSEUDONYM_SECRET"] = self.pseudonym_secret.get_secret_value()
        env["STREAM_APP_API_KEY_PEPPER"] = self.api_key_pepper.get_secret_value()
        return env


def _kafka_security_problems(s: Settings) -> list[str]:
    protocol = s.kafka_security_protocol
    sasl = {
        "STREAM_APP_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism,
        "STREAM_APP_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
        "STREAM_APP_KAFKA_SASL_PASSWORD": s.kafka_sasl_password,
    }
    problems = []
    if protocol.startswith("SASL_"):
        missing = [name for name, value in sasl.items() if value is None]
        if missing:
            problems.append(
                f"STREAM_APP_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
            )
    elif any(value is not None for value in sasl.values()):
        problems.append(
            f"STREAM_APP_KAFKA_SASL_* are set but STREAM_APP_KAFKA_SECURITY_PROTOCOL={protocol} "
            "would not use them (SASL_SSL or SASL_PLAINTEXT does)"
        )
    files = (s.kafka_ssl_ca_file, s.kafka_ssl_cert_file, s.kafka_ssl_key_file)
    if not protocol.endswith("SSL") and any(f is not None for f in files):
        problems.append(
            "STREAM_APP_KAFKA_SSL_* files are set but "
            f"STREAM_APP_KAFKA_SECURITY_PROTOCOL={protocol} has no TLS (SSL or SASL_SSL has)"
        )
    if s.kafka_ssl_key_file is not None and s.kafka_ssl_cert_file is None:
        problems.append("STREAM_APP_KAFKA_SSL_KEY_FILE needs STREAM_APP_KAFKA_SSL_CERT_FILE")
    return problems


def _redis_security_problems(s: Settings) -> list[str]:
    url = urlsplit(s.redis_url)
    problems = []
    if url.scheme not in ("redis", "rediss", "unix"):
        problems.append("STREAM_APP_REDIS_URL must start with redis://, rediss:// or unix://")
    if s.redis_tls and url.scheme == "unix":
        problems.append("STREAM_APP_REDIS_TLS does not apply to a unix:// socket")
    if s.redis_username is not None and url.username:
        problems.append(
            "the Redis user is both in STREAM_APP_REDIS_URL and STREAM_APP_REDIS_USERNAME"
        )
    if s.redis_password is not None and url.password is not None:
        problems.append(
            "the Redis password is both in STREAM_APP_REDIS_URL and STREAM_APP_REDIS_PASSWORD"
        )
    files = (s.redis_tls_ca_file, s.redis_tls_cert_file, s.redis_tls_key_file)
    if not s.redis_uses_tls and any(f is not None for f in files):
        problems.append(
            "STREAM_APP_REDIS_TLS_* files are set but Redis is reached without TLS "
            "(set STREAM_APP_REDIS_TLS=true or use a rediss:// URL)"
        )
    if s.redis_tls_key_file is not None and s.redis_tls_cert_file is None:
        problems.append("STREAM_APP_REDIS_TLS_KEY_FILE needs STREAM_APP_REDIS_TLS_CERT_FILE")
    return problems
