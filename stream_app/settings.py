"""One typed, frozen settings object for every process (worker, CLI, simulator, tests).

Values come from environment variables prefixed ``STREAM_APP_`` (e.g.
``STREAM_APP_KAFKA_BOOTSTRAP``), then from a ``.env`` file, then the defaults
below. Nothing else in the code base reads the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_app.events.topics import TopicNames

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
    dedupe_window: timedelta = Field(
        default=timedelta(days=7), description="How long event ids are remembered for dedupe."
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

    # --- privacy ---------------------------------------------------------
    pseudonym_secret: SecretStr = SecretStr(DEV_PSEUDONYM_SECRET)
    allow_dev_secret: bool = False

    # --- decisions: cart abandonment ------------------------------------
    cart_abandon_delay: timedelta = Field(
        default=timedelta(minutes=30), description="Cart idle time before a reminder."
    )
    decision_ttl: timedelta = Field(
        default=timedelta(hours=12), description="How long a decision stays valid."
    )
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    scheduler_batch: int = Field(default=500, ge=1)
    scheduler_lease: timedelta = Field(
        default=timedelta(seconds=60), description="Claimed but unfinished checks retry after."
    )

    def to_env(self) -> dict[str, str]:
        """These settings as ``STREAM_APP_*`` variables, to configure a child process."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if isinstance(value, dict):
                for sub, sub_value in value.items():
                    env[f"STREAM_APP_{name.upper()}__{sub.upper()}"] = str(sub_value)
            else:
                env[f"STREAM_APP_{name.upper()}"] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        env["STREAM_APP_PSEUDONYM_SECRET"] = self.pseudonym_secret.get_secret_value()
        return env
