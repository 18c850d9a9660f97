"""``Settings``: the sections composed, read once from the environment.

Values come from ``STREAM_APP_<SECTION>__<FIELD>`` variables (e.g.
``STREAM_APP_KAFKA__BOOTSTRAP``), then a ``.env`` file, then the defaults
(docs/settings.md lists them all). Nothing else in the code base reads the
environment to configure itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from stream_app.events.topics import TopicNames
from stream_app.settings.base import ENV_PREFIX, NESTED, NONE_TEXT, env_var
from stream_app.settings.connections import KafkaSettings, RedisSettings
from stream_app.settings.decisions import DecisionSettings, ModelSettings, SegmentSettings
from stream_app.settings.edges import (
    ApiSettings,
    AuditSettings,
    DevstackSettings,
    MetricsSettings,
    SecretSettings,
)
from stream_app.settings.renames import RENAMED, renamed_message
from stream_app.settings.reports import FunnelSettings
from stream_app.settings.stream import LogSettings, ProfileSettings, WorkerSettings


class RenamedSettingError(ValueError):
    """A variable of the flat settings of earlier releases is still set."""


class Settings(BaseSettings):
    """Configuration of the engine, one section per concern (docs/settings.md)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_nested_delimiter=NESTED,
        frozen=True,
        extra="ignore",
        env_parse_none_str=NONE_TEXT,
        # Start-up errors must not print the other settings' values: they hold passwords.
        hide_input_in_errors=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka.")
    redis: RedisSettings = Field(default_factory=RedisSettings, description="Redis.")
    topics: TopicNames = Field(default_factory=TopicNames, description="Topic names.")
    worker: WorkerSettings = Field(default_factory=WorkerSettings, description="The worker.")
    log: LogSettings = Field(default_factory=LogSettings, description="Logging.")
    profiles: ProfileSettings = Field(default_factory=ProfileSettings, description="Profiles.")
    segments: SegmentSettings = Field(default_factory=SegmentSettings, description="Segments.")
    decisions: DecisionSettings = Field(default_factory=DecisionSettings, description="Decisions.")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Learning.")
    secrets: SecretSettings = Field(default_factory=SecretSettings, description="Secrets.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="The API.")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Metrics.")
    audit: AuditSettings = Field(default_factory=AuditSettings, description="Profile audit.")
    funnel: FunnelSettings = Field(
        default_factory=FunnelSettings, description="Funnel and cohort reports."
    )
    devstack: DevstackSettings = Field(
        default_factory=DevstackSettings, description="Test servers."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, after refusing renamed variables, then ``DOCKER_HOST``."""
        return (
            init_settings,
            _RenamedVariables(settings_cls, (env_settings, dotenv_settings)),
            env_settings,
            dotenv_settings,
            _DockerHost(settings_cls),
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _refuse_flat_arguments(cls, data: Any) -> Any:
        if isinstance(data, dict):
            flat = sorted(name for name in data if name in RENAMED)
            if flat:
                moves = ", ".join(f"{name} is now {'.'.join(RENAMED[name])}" for name in flat)
                raise ValueError(f"settings have sections (docs/settings.md): {moves}")
        return data

    @classmethod
    def sections(cls) -> dict[str, type[BaseModel]]:
        """Section name -> its model, in order."""
        found = {}
        for name, info in cls.model_fields.items():
            model = info.annotation
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"Settings.{name} is not a section")
            found[name] = model
        return found

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable read, section by section.

        >>> Settings.variables()[0]
        'STREAM_APP_KAFKA__BOOTSTRAP'
        """
        return [
            env_var(section, field)
            for section, model in cls.sections().items()
            for field in model.model_fields
        ]

    def updated(self, **sections: Mapping[str, Any] | BaseModel) -> Self:
        """A copy with some sections changed: a mapping replaces those fields of the
        section, a model the whole section. Like ``model_copy``, nothing is validated.

        >>> Settings(_env_file=None).updated(redis={"key_prefix": "t"}).redis.key_prefix
        't'
        """
        update = {
            name: change
            if isinstance(change, BaseModel)
            else getattr(self, name).model_copy(update=dict(change))
            for name, change in sections.items()
        }
        return self.model_copy(update=update)

    def to_env(self) -> dict[str, str]:
        """These settings as ``STREAM_APP_<SECTION>__<FIELD>`` variables, for a child process.

        Dicts, tuples and lists are JSON (keys keep their case); ``None`` is ``null``;
        secrets are in clear, since the child needs them.
        """
        env: dict[str, str] = {}
        for section in type(self).model_fields:
            model: BaseModel = getattr(self, section)
            for name, value in model.model_dump(mode="json").items():
                env[env_var(section, name)] = env_text(getattr(model, name), value)
        return env


def env_text(raw: object, dumped: object) -> str:
    """How a value is written in a variable: ``raw`` the value, ``dumped`` its JSON form.

    >>> env_text(None, None), env_text((22, 8), [22, 8]), env_text(True, True)
    ('null', '[22, 8]', 'true')
    """
    if isinstance(raw, SecretStr):  # dumped masked: pass the real value
        return raw.get_secret_value()
    if dumped is None:
        return NONE_TEXT
    if isinstance(dumped, dict | list | bool):
        return json.dumps(dumped)
    return str(dumped)


class _RenamedVariables(PydanticBaseSettingsSource):
    """Fails start-up on a variable of the flat settings, naming its new variable."""

    def __init__(
        self, settings_cls: type[BaseSettings], sources: tuple[PydanticBaseSettingsSource, ...]
    ) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        names = [
            name
            for source in self._sources
            if isinstance(source, EnvSettingsSource)
            for name in source.env_vars
        ]
        message = renamed_message(names)
        if message:
            raise RenamedSettingError(message)
        return {}


class _DockerHost(PydanticBaseSettingsSource):
    """Docker's own ``DOCKER_HOST``, below ``STREAM_APP_DEVSTACK__DOCKER_HOST``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        host = os.environ.get("DOCKER_HOST")
        return {"devstack": {"docker_host": host}} if host else {}
