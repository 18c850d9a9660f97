"""One typed, frozen settings object for every process, in sections (docs/settings.md).

Each section is a small frozen model in this package that builds its own rule objects
(``settings.profiles.value_rules()``, ``settings.decisions.rules()`` …) with
``settings.base.build``: a setting has the name of the field it fills. Where a domain
dataclass has defaults, the section takes them from it, so every default is stated once.
"""

from stream_app.settings.connections import KafkaSettings, RedisSettings
from stream_app.settings.decisions import DecisionSettings, ModelSettings, SegmentSettings
from stream_app.settings.edges import (
    DEV_API_KEY_PEPPER,
    DEV_PSEUDONYM_SECRET,
    ApiSettings,
    AuditSettings,
    DevstackSettings,
    MetricsSettings,
    SecretSettings,
)
from stream_app.settings.root import RenamedSettingError, Settings
from stream_app.settings.stream import LogSettings, ProfileSettings, WorkerSettings

__all__ = [
    "DEV_API_KEY_PEPPER",
    "DEV_PSEUDONYM_SECRET",
    "ApiSettings",
    "AuditSettings",
    "DecisionSettings",
    "DevstackSettings",
    "KafkaSettings",
    "LogSettings",
    "MetricsSettings",
    "ModelSettings",
    "ProfileSettings",
    "RedisSettings",
    "RenamedSettingError",
    "SecretSettings",
    "SegmentSettings",
    "Settings",
    "WorkerSettings",
]
