"""Settings: sections, variables, renamed variables, the generated docs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from stream_app.decisions.planner import Rules
from stream_app.events.topics import TopicNames
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.engagement import EngagementModel
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.fold import FoldConfig
from stream_app.settings import RenamedSettingError, Settings
from stream_app.settings.base import default_of
from stream_app.settings.docs import settings_markdown
from stream_app.settings.renames import old_variables


@pytest.mark.parametrize(
    "settings",
    [
        Settings(secrets={"allow_dev_secret": True}),
        Settings(
            topics=TopicNames(clickstream="clicks.test"),
            profiles={"fx_to_base": {"EUR": 1.0, "USD": 0.9}, "recency_days_scores": (1, 2, 3, 4)},
            segments={"file": None, "refresh": timedelta(minutes=20)},
        ),
        Settings(segments={"file": Path("elsewhere.toml")}, secrets={"allow_dev_secret": False}),
    ],
)
def test_settings_survive_the_trip_through_a_child_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == settings


def test_currency_codes_keep_their_case() -> None:
    assert (
        '"USD"'
        in Settings(profiles={"fx_to_base": {"USD": 0.9}}).to_env()[
            "STREAM_APP_PROFILES__FX_TO_BASE"
        ]
    )


def test_docs_settings_md_is_generated_from_the_models() -> None:
    """Regenerate with `make settings-docs`."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
    assert docs.read_text(encoding="utf-8") == settings_markdown()


def test_every_old_flat_variable_names_a_real_new_one() -> None:
    renamed = old_variables()
    assert set(renamed.values()) - set(Settings.variables()) == set()
    assert len(set(renamed.values())) == len(renamed)
    assert not set(renamed) & set(Settings.variables())


@pytest.mark.parametrize("old", sorted(old_variables()))
def test_an_old_variable_in_the_environment_stops_start_up_naming_the_new_one(
    old: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(old, "x")
    with pytest.raises(RenamedSettingError, match=f"set {old_variables()[old]} instead of {old}"):
        Settings(_env_file=None)


def test_an_old_variable_in_a_dotenv_file_is_refused_too(tmp_path: Path) -> None:
    old = next(iter(old_variables()))
    (tmp_path / ".env").write_text(f"{old.lower()}=x\n", encoding="utf-8")
    with pytest.raises(RenamedSettingError, match=old_variables()[old]):
        Settings(_env_file=tmp_path / ".env")


def test_a_flat_argument_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"redis_url is now redis\.url"):
        Settings(**{"redis_url": "redis://h:6379/0"})


def test_a_dotenv_file_sets_nested_variables(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "STREAM_APP_REDIS__URL=redis://h:6379/1\nSTREAM_APP_DECISIONS__QUIET_HOURS=null\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=env)
    assert settings.redis.url == "redis://h:6379/1"
    assert settings.decisions.quiet_hours is None


def test_a_typo_in_a_section_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_APP_REDIS__ULR", "redis://h:6379/0")
    with pytest.raises(ValidationError, match=r"redis\.ulr"):
        Settings(_env_file=None)


def test_sections_build_the_domain_rules_with_the_domain_defaults() -> None:
    """One source of defaults: the settings' defaults are the domain dataclasses' own."""
    settings = Settings(_env_file=None)
    assert settings.profiles.value_rules() == ValueRules()
    fold = settings.profiles.fold_config(b"k", None)
    assert (fold.weight_view, fold.weight_cart, fold.weight_purchase) == (
        default_of(FoldConfig, "weight_view"),
        default_of(FoldConfig, "weight_cart"),
        default_of(FoldConfig, "weight_purchase"),
    )
    rules = settings.decisions.rules()
    assert rules.layer_strength == default_of(Rules, "layer_strength")
    assert rules.holdout_salt == default_of(Rules, "holdout_salt")
    assert settings.profiles.state_limits().allowed_lateness_ms == 86_400_000
    engagement = settings.model.engagement()
    assert (engagement.delta, engagement.patience) == (
        default_of(AdaptiveEngagement, "delta"),
        default_of(AdaptiveEngagement, "patience"),
    )
    assert engagement.champion.lr == default_of(EngagementModel, "lr")


def test_docker_host_is_read_below_the_devstack_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker:2375")
    assert Settings(_env_file=None).devstack.docker_host == "tcp://docker:2375"
    monkeypatch.setenv("STREAM_APP_DEVSTACK__DOCKER_HOST", "tcp://other:2375")
    assert Settings(_env_file=None).devstack.docker_host == "tcp://other:2375"


def test_updated_changes_fields_of_a_section_and_keeps_the_rest() -> None:
    settings = Settings(_env_file=None, redis={"key_prefix": "a"})
    changed = settings.updated(redis={"url": "redis://h:6379/3"})
    assert (changed.redis.url, changed.redis.key_prefix) == ("redis://h:6379/3", "a")
    assert settings.redis.url != changed.redis.url
