"""Campaign files: what loads, what stops the worker at start-up, and with which message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from stream_app.decisions.campaigns import (
    BrowseAbandonment,
    Campaign,
    CampaignBook,
    CampaignConfigError,
    CartAbandonment,
    Geofence,
    PriceDrop,
    TriggerType,
    Urgency,
    WinBack,
    load_campaigns,
)

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaigns.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_campaign(extra: str = "", trigger: str = '{ type = "win_back" }') -> str:
    """A campaign table with ``extra`` lines, valid unless ``extra`` or ``trigger`` break it."""
    return f'[[campaigns]]\nid = "c"\ntrigger = {trigger}\n{extra}\n'


# loading


def test_a_valid_file_loads_with_iso_8601_durations(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[campaigns]]
id = "browse"
description = "Looked, left."
trigger = { type = "browse_abandonment", min_views = 4, within = "PT6H", idle = "PT30M" }
audience = 'orders >= 1'
channels = ["email", "push"]
content = "bandit"
template = "browse_v2"
urgency = { earliest = "PT15M", latest = "P1DT12H" }
send_time = "earliest"
cooldown = "P2D"
priority = 20
value = 2.5
holdout = 0.25
goal = "visit"
goal_window = "PT6H"

[[campaigns]]
id = "geo"
trigger = { type = "geofence", weather = ["rain"], within = 900 }
""",
    )
    book = load_campaigns(path)
    browse = book.get("browse")
    assert browse is not None
    assert browse.trigger == BrowseAbandonment(
        min_views=4, within=timedelta(hours=6), idle=timedelta(minutes=30)
    )
    assert browse.channels == ("email", "push")
    assert browse.urgency == Urgency(
        earliest=timedelta(minutes=15), latest=timedelta(days=1, hours=12)
    )
    assert browse.cooldown == timedelta(days=2)
    assert browse.goal_window == timedelta(hours=6)
    assert (browse.send_time, browse.content, browse.template_name) == (
        "earliest",
        "bandit",
        "browse_v2",
    )
    assert (browse.priority, browse.value, browse.holdout, browse.goal) == (20, 2.5, 0.25, "visit")
    # Plain numbers are seconds.
    assert book.for_trigger("geofence")[0].trigger == Geofence(
        weather=("rain",), within=timedelta(minutes=15)
    )
    assert book.audiences.names == ("browse",)


def test_defaults_of_a_minimal_campaign(tmp_path: Path) -> None:
    (campaign,) = load_campaigns(write(tmp_path, one_campaign())).campaigns
    assert campaign.enabled
    assert campaign.channels == ("push",)
    assert campaign.urgency == Urgency(earliest=timedelta(0), latest=timedelta(hours=12))
    assert campaign.send_time == "optimize"
    assert campaign.template_name == "c"
    assert campaign.audience is None


def test_the_repository_file_loads_with_a_campaign_for_every_trigger_type() -> None:
    book = load_campaigns(REPO / "config" / "campaigns.toml")
    assert book.trigger_types == frozenset(get_args(TriggerType))
    for trigger in get_args(TriggerType):
        assert book.for_trigger(trigger), trigger
    assert "win_back" in book.audiences.names


def test_no_file_means_no_campaigns(tmp_path: Path) -> None:
    assert load_campaigns(None).campaigns == ()
    assert load_campaigns(tmp_path / "absent.toml").campaigns == ()


# what is refused, and why


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            one_campaign(trigger='{ type = "teleport" }'),
            "Input tag 'teleport' found using 'type' does not match",
            id="unknown-trigger-type",
        ),
        pytest.param(
            one_campaign('colour = "red"'), "campaigns.0.colour", id="unknown-campaign-field"
        ),
        pytest.param(
            one_campaign(trigger='{ type = "win_back", idle = "PT1H" }'),
            "campaigns.0.trigger.win_back.idle",
            id="unknown-trigger-field",
        ),
        pytest.param(
            '[[campaign]]\nid = "c"\ntrigger = { type = "win_back" }\n',
            "campaign\n  Extra inputs are not permitted",
            id="misspelt-table",
        ),
        pytest.param(
            one_campaign('urgency = { earliest = "PT2H", latest = "PT1H" }'),
            "need 0 <= earliest <= latest",
            id="urgency-earliest-after-latest",
        ),
        pytest.param(
            one_campaign("holdout = 1.01"),
            "campaigns.0.holdout\n  Input should be less than or equal to 1",
            id="holdout-over-one",
        ),
        pytest.param(
            one_campaign('cooldown = "soon"'), "campaigns.0.cooldown", id="not-a-duration"
        ),
        pytest.param(
            one_campaign('channels = ["pigeon"]'), "campaigns.0.channels.0", id="unknown-channel"
        ),
        pytest.param(one_campaign("channels = []"), "campaigns.0.channels", id="no-channel"),
        pytest.param(
            one_campaign(trigger='{ type = "price_drop", min_drop = 1.0 }'),
            "min_drop\n  Input should be less than 1",
            id="price-drop-of-100-percent",
        ),
        pytest.param(
            one_campaign(trigger='{ type = "browse_abandonment", min_views = 1 }'),
            "min_views\n  Input should be greater than or equal to 2",
            id="browse-of-one-view",
        ),
        pytest.param("[[campaigns]\n", "Expected ']]'", id="not-toml"),
    ],
)
def test_invalid_files_fail_with_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CampaignConfigError) as caught:
        load_campaigns(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_ids_are_refused_even_when_one_is_disabled(tmp_path: Path) -> None:
    text = one_campaign() + one_campaign("enabled = false", trigger='{ type = "geofence" }')
    with pytest.raises(CampaignConfigError, match=r"duplicate campaign ids: \['c'\]"):
        load_campaigns(write(tmp_path, text))


WIN_BACK = '{ type = "win_back" }'


@pytest.mark.parametrize(
    ("extra", "trigger"),
    [
        ('cooldown = "-PT1H"', WIN_BACK),
        ('goal_window = "PT0S"', WIN_BACK),
        ("", '{ type = "cart_abandonment", idle = "-PT1M" }'),
        ("", '{ type = "browse_abandonment", within = "PT0S" }'),
        ("", '{ type = "price_drop", viewed_within = "-P1D" }'),
    ],
)
def test_negative_or_empty_durations_fail_at_load_not_in_the_stream(
    tmp_path: Path, extra: str, trigger: str
) -> None:
    with pytest.raises(CampaignConfigError, match="greater than"):
        load_campaigns(write(tmp_path, one_campaign(extra, trigger)))


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        pytest.param("orders >=", "Syntax error", id="syntax"),
        pytest.param("nonsense > 2", "Undefined variable or function: 'nonsense'", id="unknown"),
        pytest.param("orders + 1", "is not a boolean expression", id="not-boolean"),
    ],
)
def test_bad_audience_expressions_are_refused(tmp_path: Path, audience: str, message: str) -> None:
    path = write(tmp_path, one_campaign(f"audience = '{audience}'"))
    with pytest.raises(CampaignConfigError, match=r"campaign audience 'c'") as caught:
        load_campaigns(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}: "), "names the file"


# the model's own bounds (exactly at them is allowed)


def test_urgency_bounds() -> None:
    assert Urgency(earliest=timedelta(hours=1), latest=timedelta(hours=1)).latest == timedelta(
        hours=1
    )
    with pytest.raises(ValidationError, match=r"need 0 <= earliest <= latest"):
        Urgency(earliest=timedelta(hours=1, microseconds=1), latest=timedelta(hours=1))
    with pytest.raises(ValidationError, match=r"greater than or equal to 0"):
        Urgency(earliest=timedelta(microseconds=-1))


@pytest.mark.parametrize(("share", "valid"), [(0.0, True), (1.0, True), (-0.01, False)])
def test_holdout_is_a_share(share: float, valid: bool) -> None:
    if valid:
        assert Campaign(id="c", trigger=WinBack(), holdout=share).holdout == share
    else:
        with pytest.raises(ValidationError, match="holdout"):
            Campaign(id="c", trigger=WinBack(), holdout=share)


def test_a_campaign_id_must_be_an_identifier() -> None:
    with pytest.raises(ValidationError, match="id"):
        Campaign(id="cart abandonment", trigger=CartAbandonment())


# the book


def test_disabled_campaigns_are_skipped() -> None:
    book = CampaignBook(
        [
            Campaign(id="on", trigger=WinBack()),
            Campaign(id="off", trigger=CartAbandonment(), enabled=False, audience="orders > 0"),
        ]
    )
    assert [c.id for c in book.campaigns] == ["on"]
    assert book.get("off") is None
    assert book.for_trigger("cart_abandonment") == ()
    assert book.trigger_types == frozenset({"win_back"})
    assert book.audiences.names == ()


def test_for_trigger_keeps_file_order_and_only_that_trigger() -> None:
    a = Campaign(id="a", trigger=PriceDrop())
    b = Campaign(id="b", trigger=WinBack())
    c = Campaign(id="c", trigger=PriceDrop(min_drop=0.3))
    book = CampaignBook([a, b, c])
    assert book.for_trigger("price_drop") == (a, c)
    assert book.for_trigger("win_back") == (b,)
    assert book.for_trigger("geofence") == ()
    assert book.get("b") is b
