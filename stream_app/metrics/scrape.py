"""Reading workers' ``/metrics`` for the live dashboard (and the benches): lag, stalls,
latency buckets, totals.

Lag and stalls are only known to the workers (their probes read the group's
offsets), and so are the latency histograms, so the API reads them where
Prometheus does rather than keeping copies in Redis. A worker that does not
answer in time, answers an error or something that is not Prometheus text is
reported as such; it never fails the caller.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: The histograms the dashboard shows as percentiles.
APPLY_LATENCY = "stream_app_event_apply_latency_seconds"
TRIGGER_TO_DECISION = "stream_app_trigger_to_decision_seconds"
HISTOGRAMS = (APPLY_LATENCY, TRIGGER_TO_DECISION)

Partition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one worker's metrics say. Histograms are ``le -> cumulative count``, summed
    over their other labels (e.g. every trigger); ``by_trigger`` keeps them per
    ``(histogram, trigger)`` for those labelled with one; ``totals`` holds every other
    sample summed over its labels (``x_total``, ``x_sum``, ``x_count``, gauges)."""

    lag: dict[Partition, int] = field(default_factory=dict)
    stalled: dict[Partition, bool] = field(default_factory=dict)
    histograms: dict[str, dict[float, float]] = field(default_factory=dict)
    model_version: str | None = None
    by_trigger: dict[tuple[str, str], dict[float, float]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scrape:
    """One endpoint's answer: a reading, or why there is none."""

    url: str
    reading: Reading | None = None
    error: str | None = None


def parse_metrics(text: str, histograms: Iterable[str] = HISTOGRAMS) -> Reading:
    """The dashboard's figures from Prometheus text; ``ValueError`` if it is not that.

    >>> text = '''
    ... stream_app_consumer_lag{topic="clicks",partition="0"} 7.0
    ... stream_app_partition_stalled{topic="clicks",partition="0"} 1.0
    ... stream_app_model_info{version="lr-g1"} 1.0
    ... stream_app_event_apply_latency_seconds_bucket{le="0.1"} 3.0
    ... stream_app_event_apply_latency_seconds_bucket{le="+Inf"} 4.0
    ... '''
    >>> r = parse_metrics(text)
    >>> r.lag, r.stalled, r.model_version
    ({('clicks', 0): 7}, {('clicks', 0): True}, 'lr-g1')
    >>> r.histograms["stream_app_event_apply_latency_seconds"]
    {0.1: 3.0, inf: 4.0}
    >>> r.totals["stream_app_consumer_lag"]
    7.0
    """
    wanted = {f"{name}_bucket": name for name in histograms}
    lag: dict[Partition, int] = {}
    stalled: dict[Partition, bool] = {}
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    by_trigger: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    totals: dict[str, float] = defaultdict(float)
    version = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_bucket") and "le" in labels:
                if sample.name in wanted:
                    name, le = wanted[sample.name], float(labels["le"])
                    buckets[name][le] += sample.value
                    if "trigger" in labels:
                        by_trigger[name, labels["trigger"]][le] += sample.value
                continue
            totals[sample.name] += sample.value
            if sample.name == "stream_app_consumer_lag":
                lag[_partition(labels)] = int(sample.value)
            elif sample.name == "stream_app_partition_stalled":
                stalled[_partition(labels)] = sample.value > 0
            elif sample.name == "stream_app_model_info" and sample.value > 0:
                version = labels.get("version")
    return Reading(
        lag,
        stalled,
        {name: dict(b) for name, b in buckets.items()},
        version,
        {series: dict(b) for series, b in by_trigger.items()},
        dict(totals),
    )


def _partition(labels: dict[str, str]) -> Partition:
    try:
        return labels["topic"], int(labels["partition"])
    except (KeyError, ValueError):
        raise ValueError(f"not a partition: {labels}") from None


async def scrape_all(
    urls: Sequence[str], timeout_s: float, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[Scrape]:
    """Every endpoint at once, each bounded by ``timeout_s`` in total (``transport``: tests)."""
    if not urls:
        return []
    async with httpx.AsyncClient(
        verify=_tls(), follow_redirects=False, transport=transport
    ) as client:
        return list(await asyncio.gather(*(_scrape(client, url, timeout_s) for url in urls)))


async def _scrape(client: httpx.AsyncClient, url: str, timeout_s: float) -> Scrape:
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.get(url, timeout=timeout_s)
    except (TimeoutError, httpx.TimeoutException):
        return Scrape(url, error="timeout")
    except (httpx.HTTPError, httpx.InvalidURL):
        return Scrape(url, error="unreachable")
    if response.status_code != 200:
        return Scrape(url, error=f"HTTP {response.status_code}")
    try:
        return Scrape(url, reading=parse_metrics(response.text))
    except Exception:  # whatever the page holds, the dashboard goes on without it
        return Scrape(url, error="not Prometheus metrics")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every scrape: building one per client costs milliseconds."""
    return ssl.create_default_context()
