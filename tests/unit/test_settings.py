from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stream_app.events.topics import TopicNames
from stream_app.settings import Settings


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
