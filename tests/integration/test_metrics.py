"""The session worker's Prometheus endpoint: what operators scrape, with real traffic."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from tests.integration.fixtures import dumps, event, eventually, produce

pytestmark = pytest.mark.integration


async def scrape(settings: Settings) -> dict[str, float]:
    """Every sample of the worker's /metrics, as ``name{labels}`` -> value."""
    async with httpx.AsyncClient() as client:
        try:
            response = await client.get(f"http://127.0.0.1:{settings.metrics.port}/metrics")
        except httpx.ConnectError:  # the worker is still starting
            return {}
    response.raise_for_status()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


async def test_worker_metrics_show_events_latency_lag_and_queue(
    worker: ManagedProcess, settings: Settings
) -> None:
    cid = f"met-{uuid.uuid4().hex[:8]}"
    view = event("product_view", cid, f"e-{cid}", item_id="sku-1", category="books", price=9.0)
    await produce(settings, settings.topics.clickstream, [(cid.encode(), dumps(view))])
    bad = b"\x00 not json"
    await produce(settings, settings.topics.clickstream, [(cid.encode(), bad)])

    def ready(s: dict[str, float]) -> bool:
        return (
            s.get("stream_app_events_total{stream=clickstream,type=product_view}", 0) >= 1
            and s.get("stream_app_dead_letters_total{reason=undecodable}", 0) >= 1
            and any(k.startswith("stream_app_consumer_lag{") for k in s)
        )

    samples = await eventually(lambda: scrape(settings), ready, within=30)
    assert ready(samples), sorted(k for k in samples if k.startswith("stream_app_"))
    assert samples["stream_app_event_apply_latency_seconds_count{}"] >= 1
    assert samples["stream_app_redis_batch_seconds_count{}"] >= 1
    assert "stream_app_scheduled_checks{}" in samples
    assert "stream_app_overdue_checks{}" in samples
    lag = [k for k in samples if k.startswith("stream_app_partition_stalled{")]
    assert lag, "every watched partition has a stalled indicator"
