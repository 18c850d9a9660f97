"""Flat variables of releases before the settings had sections, and where each went.

``Settings`` refuses to start when one of them is still set (in the environment, a
``.env`` file or a constructor argument): silently ignoring it would run with a default.
"""

from __future__ import annotations

from collections.abc import Iterable

from stream_app.settings.base import ENV_PREFIX, env_var

#: Section -> its old flat fields, as ``old:new``, or ``old`` where the name stayed.
_MOVED = {
    "kafka": [
        "kafka_bootstrap:bootstrap",
        "kafka_security_protocol:security_protocol",
        "kafka_sasl_mechanism:sasl_mechanism",
        "kafka_sasl_username:sasl_username",
        "kafka_sasl_password:sasl_password",
        "kafka_ssl_ca_file:ssl_ca_file",
        "kafka_ssl_cert_file:ssl_cert_file",
        "kafka_ssl_key_file:ssl_key_file",
        "fetch_max_wait_ms",
        "fetch_min_bytes",
        "max_poll_records",
        "broker_session_timeout_s:session_timeout_s",
        "broker_heartbeat_interval_s:heartbeat_interval_s",
        "broker_rebalance_timeout_s:rebalance_timeout_s",
        "broker_commit_every:commit_every",
        "broker_commit_interval_s:commit_interval_s",
        "topic_partitions",
        "topic_replication",
    ],
    "redis": [
        "redis_url:url",
        "key_prefix",
        "redis_username:username",
        "redis_password:password",
        "redis_tls:tls",
        "redis_tls_ca_file:tls_ca_file",
        "redis_tls_cert_file:tls_cert_file",
        "redis_tls_key_file:tls_key_file",
        "redis_tls_verify:tls_verify",
        "redis_timeout_s:timeout_s",
        "redis_retry_max_s:retry_max_s",
        "redis_uses_tls:uses_tls",  # a property: no variable
    ],
    "worker": [
        "app_id",
        "data_dir",
        "batch_gather_ms",
        "stream_buffer_batches",
        "max_record_bytes",
        "max_events_per_record",
        "dlq_max_original_bytes",
        "max_event_age",
        "max_event_future_skew",
    ],
    "log": ["log_level:level", "log_format:format"],
    "profiles": [
        "allowed_lateness",
        "profile_ttl:ttl",
        "taste_half_life",
        "rhythm_half_life",
        "taste_weight_view",
        "taste_weight_cart",
        "taste_weight_purchase",
        "recent_views",
        "recent_searches",
        "base_currency",
        "fx_to_base",
        "recency_days_scores",
        "frequency_scores",
        "monetary_scores",
        "price_bands",
        "new_customer_days",
        "default_interval_days",
        "min_interval_days",
        "lifecycle_factors",
    ],
    "segments": [
        "segments_file:file",
        "segment_memo_customers:memo_customers",
        "segment_refresh:refresh",
    ],
    "model": [
        "offers",
        "attribution_window",
        "model_checkpoint_interval_s:checkpoint_interval_s",
        "validation_window",
        "model_learning_rate:learning_rate",
        "drift_delta",
        "challenger_window:drift_compare_window",
        "challenger_patience:drift_patience",
        "bandit_min_epsilon",
        "bandit_max_epsilon",
    ],
    "secrets": ["pseudonym_secret", "api_key_pepper", "allow_dev_secret"],
    "decisions": [
        "campaigns_file",
        "quiet_hours",
        "caps_per_day",
        "caps_per_week",
        "global_cap_per_day:caps_global_per_day",
        "timing_prior",
        "timing_prior_strength",
        "timing_layer_strength",
        "timing_prior_half_life",
        "holdout_salt",
        "viewers_kept",
        "scheduler_batch",
        "timer_max_sleep",
        "scheduler_lease",
        "dedupe_window",
    ],
    "api": [
        "api_host:host",
        "api_port:port",
        "api_batch_max:batch_max",
        "api_rate_per_minute:rate_per_minute",
        "api_redis_timeout_s:redis_timeout_s",
        "api_deadline_s:deadline_s",
        "api_breaker_failures:breaker_failures",
        "api_breaker_reset_s:breaker_reset_s",
    ],
    "metrics": [
        "metrics_port:port",
        "api_metrics_port:api_port",
        "metrics_probe_interval_s:probe_interval_s",
        "partition_stall_after",
        "dashboard_metrics_urls:dashboard_urls",
    ],
    "devstack": [
        "test_servers:servers",
        "test_kafka_image:kafka_image",
        "test_redis_image:redis_image",
    ],
}


_PROPERTIES = {"redis_uses_tls"}


def _table() -> dict[str, tuple[str, str]]:
    table = {}
    for section, entries in _MOVED.items():
        for entry in entries:
            old, _, new = entry.partition(":")
            table[old] = (section, new or old)
    return table


#: Old flat field (lower case) -> (section, field).
RENAMED: dict[str, tuple[str, str]] = _table()


def old_variables() -> dict[str, str]:
    """Old variable -> new variable, e.g. ``STREAM_APP_REDIS_URL`` -> ``STREAM_APP_REDIS__URL``.

    >>> old_variables()["STREAM_APP_QUIET_HOURS"]
    'STREAM_APP_DECISIONS__QUIET_HOURS'
    """
    return {
        f"{ENV_PREFIX}{old.upper()}": env_var(*new)
        for old, new in RENAMED.items()
        if old not in _PROPERTIES
    }


def renamed_message(names: Iterable[str]) -> str | None:
    """The start-up error for the old variables among ``names`` (any case); None if none.

    >>> print(renamed_message(["PATH", "stream_app_redis_url"]))
    settings were renamed (docs/settings.md): set STREAM_APP_REDIS__URL instead of \
STREAM_APP_REDIS_URL
    """
    old = old_variables()
    found = sorted({name.upper() for name in names} & old.keys())
    if not found:
        return None
    moves = ", ".join(f"{old[name]} instead of {name}" for name in found)
    return f"settings were renamed (docs/settings.md): set {moves}"
