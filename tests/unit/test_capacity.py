"""Capacity on paper (``stream_app/capacity.py``, ``stream-app capacity``): the arithmetic
on known inputs, its monotonicity, the figures' sources and the command's output."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stream_app.capacity import (
    FALLBACK,
    GB,
    MIN_WORKERS,
    Deployment,
    Measured,
    as_dict,
    measured_from,
    overridden,
    plan,
)
from stream_app.cli import capacity as capacity_cli
from stream_app.cli.main import app
from stream_app.settings import KafkaSettings
from stream_app.settings.base import env_var

#: Round figures, so every expected value below can be checked by hand.
ROUND = Measured(
    live_events_per_s=1000,
    backlog_events_per_s=10_000,
    scaling=0.5,
    bytes_per_customer=1000,
    bytes_per_id=20,
)


def test_known_inputs_give_the_hand_computed_plan() -> None:
    deployment = Deployment(customers=1_000_000, events_per_s=1500, shard_gb=1.0)
    p = plan(deployment, ROUND)
    # 1,500 x headroom 2 = 3,000 events/s at 1,000 x 0.5 each: 6 workers.
    assert p.workers == 6
    assert p.worker_cores == 6
    assert p.live_capacity_events_per_s == 3000
    # 6 x 4 = 24, a multiple of 12.
    assert p.partitions_per_topic == 24
    # Backlog: 6 x 10,000 x 0.5 = 30,000/s; an hour at 1,500/s drains in
    # 60 x 1,500 / (30,000 - 1,500) min.
    assert p.drain_min_per_outage_hour == pytest.approx(60 * 1500 / 28_500)
    # 1e6 x 1,000 B x 1.3 x 1.2 = 1.56 GB; / 0.75 = 2.08 GB of RAM: 3 shards of 1 GB.
    assert p.redis_gb == pytest.approx(1.56)
    assert p.redis_ram_gb == pytest.approx(2.08)
    assert p.redis_shards == 3


def test_active_share_and_the_id_index_change_the_memory() -> None:
    base = Deployment(customers=1_000_000, events_per_s=100)
    half = plan(replace(base, active_share=0.5), ROUND)
    assert half.redis_gb == pytest.approx(plan(base, ROUND).redis_gb / 2)
    ids = plan(replace(base, extra_ids_per_customer=50), ROUND)
    assert ids.redis_bytes_per_customer == 1000 + 50 * 20


def test_a_small_deployment_gets_the_minimum() -> None:
    p = plan(Deployment(customers=10, events_per_s=1), ROUND)
    assert p.workers == MIN_WORKERS
    assert p.partitions_per_topic == 12
    assert p.redis_shards == 1
    assert p.redis_ram_gb < 1


def test_a_backlog_slower_than_the_peak_never_drains() -> None:
    slow = replace(ROUND, backlog_events_per_s=100)
    assert plan(Deployment(customers=1, events_per_s=1500), slow).drain_min_per_outage_hour is None


@pytest.mark.parametrize("measured", [ROUND, FALLBACK, replace(ROUND, scaling=0.3)])
def test_more_events_never_need_fewer_workers_or_partitions(measured: Measured) -> None:
    rates = [1, 10, 999, 1000, 1001, 2500, 5000, 12_345, 100_000, 1_000_000]
    plans = [plan(Deployment(customers=1000, events_per_s=r), measured) for r in rates]
    for smaller, larger in pairwise(plans):
        assert larger.workers >= smaller.workers
        assert larger.partitions_per_topic >= smaller.partitions_per_topic
        assert larger.live_capacity_events_per_s >= smaller.live_capacity_events_per_s
    for rate, p in zip(rates, plans, strict=True):
        assert p.live_capacity_events_per_s >= rate * 2  # the default headroom
        assert p.partitions_per_topic >= p.workers


@pytest.mark.parametrize("measured", [ROUND, FALLBACK])
def test_more_customers_never_need_less_memory(measured: Measured) -> None:
    sizes = [1, 1000, 10**6, 10**7, 3 * 10**7, 10**9]
    plans = [plan(Deployment(customers=n, events_per_s=100), measured) for n in sizes]
    for smaller, larger in pairwise(plans):
        assert larger.redis_gb >= smaller.redis_gb
        assert larger.redis_shards >= smaller.redis_shards
    for p in plans:
        assert p.redis_ram_gb <= p.redis_shards * 25.0


def test_figures_come_from_latest_json_and_fall_back_one_by_one() -> None:
    found = measured_from(
        {
            "latency.sustained_events_per_s": 4000,
            "throughput.single_events_per_s": 20_000,
            "throughput.two_workers_events_per_s": 50_000,  # above linear: capped at 1
            "profiles.bytes_per_profile_median": 3000,
            "memory.bytes_per_customer_median": 4000,  # preferred when present
            "soak.redis_seen_bytes_per_id": "broken",  # not a number: fallback
        }
    )
    assert found.live_events_per_s == 4000
    assert found.backlog_events_per_s == 20_000
    assert found.scaling == 1.0
    assert found.bytes_per_customer == 4000
    assert found.sources["bytes_per_customer"] == "latest.json memory.bytes_per_customer_median"
    assert found.bytes_per_id == FALLBACK.bytes_per_id
    assert found.sources["bytes_per_id"].startswith("fallback")
    mine = overridden(found, live_events_per_s=8000, scaling=None)
    assert mine.live_events_per_s == 8000
    assert mine.sources["live_events_per_s"] == "option"
    assert mine.scaling == 1.0


def test_the_dict_says_everything_the_plan_rests_on() -> None:
    deployment = Deployment(customers=10_000_000, events_per_s=5000)
    data = as_dict(deployment, FALLBACK, plan(deployment, FALLBACK))
    assert set(data) == {"deployment", "measured", "plan", "assumptions"}
    assert data["deployment"]["customers"] == 10_000_000
    assert set(data["measured"]["sources"]) == set(FALLBACK.sources)
    assert data["plan"]["workers"] == 4
    assert any("Redis Cluster" in line for line in data["assumptions"])
    orjson.dumps(data)  # JSON-ready


def _latest(tmp_path: Path) -> Path:
    path = tmp_path / "latest.json"
    figures = {
        "latency.sustained_events_per_s": 1000,
        "throughput.single_events_per_s": 10_000,
        "throughput.two_workers_events_per_s": 10_000,
        "profiles.bytes_per_profile_median": 1000,
        "throughput.measured_at": "2026-12-07T16:14:28Z",
        "machine": {"commit": "abc1234", "date": "2026-12-07T18:34:09+00:00", "cores": 2},
    }
    path.write_text(json.dumps(figures))
    return path


def test_the_command_prints_json_with_its_figures_sources(tmp_path: Path) -> None:
    args = ["capacity", "--customers", "1000000", "--events-per-s", "1500", "--json"]
    done = CliRunner().invoke(app, [*args, "--results", str(_latest(tmp_path))])
    assert done.exit_code == 0, done.output
    data = orjson.loads(done.output)
    assert set(data) == {"deployment", "measured", "plan", "assumptions", "figures", "apply"}
    assert set(data["plan"]) == {
        "partitions_per_topic",
        "workers",
        "worker_cores",
        "live_capacity_events_per_s",
        "drain_min_per_outage_hour",
        "redis_bytes_per_customer",
        "redis_gb",
        "redis_ram_gb",
        "redis_shards",
    }
    assert data["plan"]["workers"] == 6  # as test_known_inputs_give_the_hand_computed_plan
    assert "abc1234" in data["figures"]
    assert data["measured"]["sources"]["scaling"].startswith("latest.json")
    assert data["measured"]["sources"]["bytes_per_id"].startswith("fallback")
    setting = env_var("kafka", "topic_partitions")
    assert f"{setting}=24" in data["apply"][0]
    assert "topic_partitions" in KafkaSettings.model_fields


def test_the_command_prints_a_table_and_takes_options_over_the_file(tmp_path: Path) -> None:
    args = ["capacity", "--customers", "10000000", "--events-per-s", "5000"]
    mine = ["--live-events-per-s", "5000", "--results", str(_latest(tmp_path))]
    done = CliRunner().invoke(app, [*args, *mine])
    assert done.exit_code == 0, done.output
    assert "stream workers" in done.output
    assert "live_events_per_s: 5000 (option)" in done.output
    assert "commit abc1234" in done.output
    assert "Assumptions:" in done.output


def test_the_command_refuses_a_missing_results_file(tmp_path: Path) -> None:
    args = ["capacity", "--customers", "10", "--events-per-s", "1"]
    done = CliRunner().invoke(app, [*args, "--results", str(tmp_path / "none.json")])
    assert done.exit_code != 0


def test_gb_is_decimal() -> None:
    assert GB == 10**9


def test_without_a_results_file_the_command_says_it_used_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity_cli, "LATEST_JSON", tmp_path / "latest.json")
    args = ["capacity", "--customers", "10000000", "--events-per-s", "5000", "--json"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    data = orjson.loads(done.output)
    assert "fallback constants" in data["figures"]
    assert all(s.startswith("fallback") for s in data["measured"]["sources"].values())
    assert data["plan"]["workers"] == 4  # the worked example of docs/capacity.md
    assert data["plan"]["redis_shards"] == 5
