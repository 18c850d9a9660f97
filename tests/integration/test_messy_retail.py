"""Messy retail, small, through the real worker (``bench.commerce`` runs it larger):
B2B invoices of up to 1,500 lines, odd item ids, several currencies, week-old
redeliveries, returns sent days later or ahead of their order, guests who log in
later and phones read before their link. Every customer's net spend must equal the simulator's
truth to the minor unit, guest revenue must land on its customer, and no valid
event may be dead-lettered. A worker of its own (topics, keys, group) runs it, so no
other test's events or dead letters are counted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bench.commerce import SPAN, exactness_run, schema_disagreements
from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.simulation.retail import RetailMix, make_retail_set
from stream_app.storage.connection import redis_client
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import isolated

pytestmark = pytest.mark.integration

SEED = 1_515
#: Everything on (returns, guests, devices), a set small enough for ``make test``.
MIX = RetailMix(b2b_customers=2, b2b_orders=2, b2b_lines=(200, 1_500))


@pytest.fixture(scope="module")
def retail_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    own, _ = isolated(settings, "retail", tmp_path_factory.mktemp("faust-retail"))
    return own.updated(metrics={"port": free_port()})


@pytest.fixture(scope="module")
def retail_worker(retail_settings: Settings) -> Iterator[None]:
    asyncio.run(ensure_topics(retail_settings))
    process = worker_process(retail_settings, ARTIFACTS / "logs", name="messy-retail")
    with process:
        yield
        assert process.running, f"worker died:\n{process.log_tail()}"


async def test_messy_retail_money_is_exact_and_nothing_valid_is_dead_lettered(
    retail_worker: None, retail_settings: Settings
) -> None:
    end = datetime.now(UTC) - timedelta(minutes=1)
    rset = make_retail_set(40, 3_000, SEED, end, SPAN, MIX)
    assert rset.counts["b2b_orders"] == 4, rset.counts
    assert rset.counts["redeliveries"] > 0, rset.counts
    assert (MIX.returns, MIX.guests, MIX.devices) == (True, True, True)
    assert rset.counts["guest_orders"] > 0, rset.counts
    assert rset.counts["unlinked_devices"] > 0, rset.counts
    assert any(k.startswith("reversals:") for k in rset.counts), rset.counts

    redis = redis_client(retail_settings)
    try:
        figures = await exactness_run(retail_settings, redis, rset, MIX, within=120.0)
    finally:
        await redis.aclose()

    assert not figures.mismatches, "\n".join(figures.mismatches[:20])
    outcomes = figures.outcomes
    assert sum(outcomes.values()) == len(rset.arrivals), outcomes
    assert outcomes.get("duplicate", 0) + outcomes.get("late", 0) > 0, "redeliveries seen"
    assert figures.net_spend_exact == 1.0
    assert figures.guest_revenue_attributed == 1.0
    assert figures.valid_events_dead_lettered == 0
    assert schema_disagreements(retail_settings) == 0
