"""Settings: sections, variables, renamed variables, the generated docs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from stream_app.decisions.moments import PresencePriors
from stream_app.decisions.planner import Rules
from stream_app.decisions.policies import Caps
from stream_app.decisions.quiet import QuietFit, QuietHours
from stream_app.events.limits import DecodeLimits
from stream_app.events.topics import TopicNames
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.engagement import EngagementModel
from stream_app.model.quality import ProgressiveValidation
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.money import FxRates
from stream_app.profiles.state import StateLimits
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
    weights = ("taste_weight_view", "taste_weight_cart", "taste_weight_purchase")
    assert [getattr(fold, name) for name in weights] == [
        default_of(FoldConfig, name) for name in weights
    ]
    rules = settings.decisions.rules()
    assert rules.timing_layer_strength == default_of(Rules, "timing_layer_strength")
    assert rules.holdout_salt == default_of(Rules, "holdout_salt")
    assert settings.profiles.state_limits().allowed_lateness_ms == 86_400_000
    engagement = settings.model.engagement()
    assert (engagement.delta, engagement.patience) == (
        default_of(AdaptiveEngagement, "delta"),
        default_of(AdaptiveEngagement, "patience"),
    )
    assert engagement.champion.lr == default_of(EngagementModel, "learning_rate")
    bandit = settings.model.bandit()
    assert (bandit.min_epsilon, bandit.max_epsilon) == (
        default_of(ContentBandit, "min_epsilon"),
        default_of(ContentBandit, "max_epsilon"),
    )
    assert settings.model.validation().window == default_of(ProgressiveValidation, "window")


#: Every setting a rule object is built from, none at its default.
CHANGED = Settings(
    _env_file=None,
    funnel={"period": "month", "retention_periods": 6},
    worker={
        "max_record_bytes": 2048,
        "max_events_per_record": 7,
        "max_event_age": timedelta(days=2),
        "max_event_future_skew": timedelta(minutes=1),
        "max_order_lines": 40,
        "max_line_quantity": 900,
    },
    profiles={
        "allowed_lateness": timedelta(hours=2),
        "taste_half_life": timedelta(days=3),
        "rhythm_half_life": timedelta(days=9),
        "default_timezone": "Asia/Kolkata",
        "taste_weight_view": 0.5,
        "taste_weight_cart": 2.5,
        "taste_weight_purchase": 4.5,
        "taste_weight_wishlist": 3.5,
        "recent_views": 7,
        "wishlist_size": 9,
        "zone_pending": 11,
        "sentiment_half_life": timedelta(days=3),
        "complaints_kept": 4,
        "negative_below": -0.5,
        "recent_searches": 3,
        "base_currency": "GBP",
        "fx_to_base": {"EUR": 0.8, "USD": 0.5},
        "fx_rates_date": date(2026, 3, 2),
        "recency_days_scores": (1, 2, 3, 4),
        "frequency_scores": (9, 7, 5, 3),
        "monetary_scores": (900, 400, 100, 10),
        "price_bands": (20, 80),
        "new_customer_days": 10,
        "default_interval_days": 20,
        "min_interval_days": 2,
        "lifecycle_factors": (1.2, 2.0, 4.0),
    },
    decisions={
        "quiet_hours": (23, 7),
        "legal_quiet_hours": (0, 5),
        "quiet_fit_channels": ("email",),
        "quiet_fit_min_events": 2.0,
        "quiet_fit_min_days": 5,
        "caps_per_day": {"push": 9},
        "caps_per_week": {"push": 19},
        "caps_global_per_day": 8,
        "timing_prior": (2.0,) * 24,
        "timing_prior_strength": 11.0,
        "timing_layer_strength": 12.0,
        "presence_pauses": (0.5, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05),
        "presence_pause_strength": 7.0,
        "presence_visits_per_week": 9.0,
        "presence_visit_strength_weeks": 2.0,
        "holdout_salt": "salt",
        "recovery_cooldown": timedelta(days=2),
    },
    model={
        "validation_window": 50,
        "learning_rate": 0.5,
        "drift_delta": 0.1,
        "drift_compare_window": 40,
        "drift_patience": 60,
        "bandit_min_epsilon": 0.1,
        "bandit_max_epsilon": 0.3,
    },
)
H = timedelta(hours=1)


def test_every_setting_of_a_rule_object_arrives_in_its_field() -> None:
    """Rule objects are built by matching names (``settings.base.build``): a name that
    does not match would leave its field at the default."""
    assert CHANGED.worker.decode_limits() == DecodeLimits(
        max_record_bytes=2048,
        max_events_per_record=7,
        max_event_age=48 * H,
        max_event_future_skew=timedelta(minutes=1),
        max_order_lines=40,
        max_line_quantity=900,
    )
    assert CHANGED.profiles.value_rules() == ValueRules(
        taste_half_life=72 * H,
        rhythm_half_life=216 * H,
        recency_days_scores=(1, 2, 3, 4),
        frequency_scores=(9, 7, 5, 3),
        monetary_scores=(900, 400, 100, 10),
        price_bands=(20, 80),
        new_customer_days=10,
        default_interval_days=20,
        min_interval_days=2,
        lifecycle_factors=(1.2, 2.0, 4.0),
        default_timezone="Asia/Kolkata",
        fx=FxRates("GBP", {"EUR": 0.8, "USD": 0.5}, date(2026, 3, 2)),
    )
    assert CHANGED.funnel.limits(CHANGED.profiles.state_limits()) == StateLimits(
        allowed_lateness_ms=7_200_000,
        taste_half_life_ms=259_200_000,
        rhythm_half_life_ms=777_600_000,
        recent_views=7,
        recent_searches=3,
        default_timezone="Asia/Kolkata",
        wishlist_size=9,
        zone_pending=11,
        sentiment_half_life_ms=259_200_000,
        complaints_kept=4,
        active_periods=6,
    )
    assert CHANGED.funnel.fold(CHANGED.profiles.fold_config(b"k", H)) == FoldConfig(
        pseudonym_secret=b"k",
        cart_abandon_delay=H,
        taste_weight_view=0.5,
        taste_weight_cart=2.5,
        taste_weight_purchase=4.5,
        taste_weight_wishlist=3.5,
        negative_below=-0.5,
        active_period="month",
    )
    assert CHANGED.decisions.rules() == Rules(
        caps=Caps(per_day={"push": 9}, per_week={"push": 19}, global_per_day=8),
        quiet_hours=QuietHours(23, 7),
        timing_prior=(2.0,) * 24,
        timing_prior_strength=11.0,
        timing_layer_strength=12.0,
        holdout_salt="salt",
        presence=PresencePriors((0.5, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05), 7.0, 9.0, 2.0),
        legal_quiet_hours=QuietHours(0, 5),
        quiet_fit=QuietFit(min_events=2.0, min_days=5, channels=("email",)),
        recovery_cooldown=timedelta(days=2),
    )
    engagement = CHANGED.model.engagement()
    assert (engagement.delta, engagement.compare_window, engagement.patience) == (0.1, 40, 60)
    assert engagement.champion.lr == 0.5
    bandit = CHANGED.model.bandit()
    assert (bandit.min_epsilon, bandit.max_epsilon) == (0.1, 0.3)
    assert CHANGED.model.validation().window == 50


@pytest.mark.parametrize(
    "built",
    [
        lambda s: s.worker.decode_limits(),
        lambda s: s.profiles.value_rules(),
        lambda s: s.funnel.limits(s.profiles.state_limits()),
        lambda s: s.funnel.fold(s.profiles.fold_config(b"k", None)),
        lambda s: s.decisions.rules(),
    ],
    ids=["decode_limits", "value_rules", "state_limits", "fold_config", "rules"],
)
def test_changed_settings_reach_every_field_of_a_rule_object(
    built: Callable[[Settings], object],
) -> None:
    """Keeps the test above complete: a field added to a rule object fails here until
    ``CHANGED`` sets it (the secret and the delay are arguments, not settings)."""
    changed, default = built(CHANGED), built(Settings(_env_file=None))
    assert dataclasses.is_dataclass(changed)
    same = [
        field.name
        for field in dataclasses.fields(changed)
        if getattr(changed, field.name) == getattr(default, field.name)
    ]
    assert set(same) <= {"pseudonym_secret", "cart_abandon_delay"}


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
