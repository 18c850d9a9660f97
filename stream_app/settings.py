"""One typed, frozen settings object for every process (worker, CLI, simulator, tests).

Values come from environment variables prefixed ``STREAM_APP_`` (e.g.
``STREAM_APP_KAFKA_BOOTSTRAP``), then from a ``.env`` file, then the defaults
below. Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
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


class Settings(BaseSettings):
    """Configuration of the engine; see README "Configuration" for each value."""

    model_config = SettingsConfigDict(
        env_prefix="STREAM_APP_",
        env_file=".env",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        env_parse_none_str=NONE_TEXT,
    )

    # --- servers ---------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL.")
    key_prefix: str = Field(
        default="sa", pattern=r"^[a-z][a-z0-9_]{0,15}$", description="Prefix of every Redis key."
    )

    # --- topics ----------------------------------------------------------
    topics: TopicNames = TopicNames()
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1)

    # --- worker ----------------------------------------------------------
    app_id: str = Field(default="stream-app", description="Faust app id = consumer group id.")
    data_dir: str = Field(default=".stream-app-data", description="Faust local state directory.")
    batch_max_records: int = Field(default=500, ge=1, description="Records per processing batch.")
    batch_within_s: float = Field(default=0.05, gt=0, description="Max wait to fill a batch.")
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
    segment_debounce: timedelta = Field(
        default=timedelta(seconds=2), description="Delay before re-evaluating a changed profile."
    )
    segment_refresh: timedelta = Field(
        default=timedelta(hours=1), description="Re-evaluation period for time-based rules."
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
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    scheduler_batch: int = Field(default=500, ge=1)
    scheduler_lease: timedelta = Field(
        default=timedelta(seconds=60), description="Claimed but unfinished checks retry after."
    )

    def to_env(self) -> dict[str, str]:
        """These settings as ``STREAM_APP_*`` variables, to configure a child process.

        Nested models use ``__`` keys; dicts, tuples and lists are JSON (keys keep their
        case); ``None`` is ``null``.
        """
        env: dict[str, str] = {}
        dumped = self.model_dump(mode="json")
        for name, value in dumped.items():
            var = f"STREAM_APP_{name.upper()}"
            if isinstance(getattr(self, name), BaseModel):
                for sub, sub_value in value.items():
                    env[f"{var}__{sub.upper()}"] = str(sub_value)
            elif value is None:
                env[var] = NONE_TEXT
            elif isinstance(value, dict | list | bool):
                env[var] = json.dumps(value)
            else:
                env[var] = str(value)
        env["STREAM_APP_PSEUDONYM_SECRET"] = self.pseudonym_secret.get_secret_value()
        return env
