"""The live dashboard without servers: quantiles from histogram buckets, workers' metrics
parsed and scraped, the snapshot shaped; and the page's rules (no inline code, no CDN,
every asset shipped as package data)."""

from __future__ import annotations

import asyncio
import fnmatch
import math
import re
import statistics
import tomllib
from importlib import resources
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from stream_app.api import create_app
from stream_app.api.dashboard import MODEL, Dashboard, shape
from stream_app.clock import utc_now
from stream_app.decisions.lift import Arm, Stratum, campaign_lift
from stream_app.devstack.ports import free_port
from stream_app.metrics.engine import LATENCY_BUCKETS, EngineMetrics
from stream_app.metrics.quantiles import histogram_quantile, percentile
from stream_app.metrics.scrape import (
    APPLY_LATENCY,
    TRIGGER_TO_DECISION,
    Reading,
    Scrape,
    parse_metrics,
    scrape_all,
)
from stream_app.settings import Settings
from stream_app.streaming.learning import MODEL as LEARNER_MODEL

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "stream_app" / "api"
NOW = utc_now()


# --- quantiles -----------------------------------------------------------------------


def test_quantile_interpolates_inside_the_bucket_like_promql() -> None:
    buckets = [(0.1, 0), (0.2, 10), (0.4, 30), (math.inf, 30)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.25)  # rank 15 of (10, 30]
    assert histogram_quantile(1.0, buckets) == pytest.approx(0.4)
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.13)  # rank 3 of (0, 10]


def test_quantile_edge_cases() -> None:
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(math.inf, 5)]) is None  # no finite bound to report
    assert histogram_quantile(0.5, [(1.0, 2), (math.inf, 3), (0.5, 1)]) == pytest.approx(0.75)
    assert histogram_quantile(0.99, [(1.0, 5), (2.0, 4), (math.inf, 5)]) == pytest.approx(0.99)
    for q in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="within"):
            histogram_quantile(q, [(1.0, 1), (math.inf, 1)])


@given(
    st.lists(st.floats(0, 4000, allow_nan=False), min_size=1, max_size=200),
    st.floats(0.01, 1.0),
)
def test_quantile_falls_in_the_bucket_of_the_exact_one(values: list[float], q: float) -> None:
    """The estimate lies in the bucket holding the exact sample quantile (the only thing a
    histogram can promise), or at the highest finite bound when that one is beyond it."""
    registry = CollectorRegistry()
    histogram = Histogram("h", "h", buckets=LATENCY_BUCKETS, registry=registry)
    for v in values:
        histogram.observe(v)
    reading = parse_metrics(generate_latest(registry).decode(), histograms=["h"])
    estimate = histogram_quantile(q, reading.histograms["h"].items())
    assert estimate is not None
    exact = sorted(values)[math.ceil(q * len(values)) - 1]
    bounds = (0.0, *LATENCY_BUCKETS)
    if exact > LATENCY_BUCKETS[-1]:
        assert estimate == LATENCY_BUCKETS[-1]
        return
    upper = next(i for i, b in enumerate(bounds) if exact <= b and i > 0)
    assert bounds[upper - 1] - 1e-9 <= estimate <= bounds[upper] + 1e-9, (exact, estimate)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=200),
    st.integers(1, 99),
)
def test_percentile_of_raw_values_is_statistics_inclusive_quantile(
    values: list[float], q: int
) -> None:
    """The benches' figures stay what ``statistics.quantiles`` gave them, to the bit."""
    inclusive = statistics.quantiles(values, n=100, method="inclusive")
    assert percentile(values, q) == inclusive[q - 1]


def test_percentile_edges() -> None:
    assert percentile([3.0], 50) == 3.0
    assert (percentile([2, 1, 3], 0), percentile([2, 1, 3], 100)) == (1.0, 3.0)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0, 2.0], 101)


# --- workers' metrics ----------------------------------------------------------------


def worker_metrics(lag: dict[tuple[str, str], int], version: str = "lr-g2") -> str:
    """A worker's /metrics page, from the worker's own metrics object."""
    metrics = EngineMetrics(CollectorRegistry())
    for v in (0.003, 0.004, 0.2, 7.0):
        metrics.apply_latency.observe(v)
    metrics.trigger_to_decision.labels("cart_abandonment").observe(0.5)
    metrics.trigger_to_decision.labels("geofence").observe(1.5)
    for (topic, partition), n in lag.items():
        metrics.consumer_lag.labels(topic, partition).set(n)
        metrics.partition_stalled.labels(topic, partition).set(1 if n > 100 else 0)
    metrics.model(version, 0.7, 0.5)
    return generate_latest(metrics.registry).decode()


def test_parse_reads_lag_stalls_model_and_sums_histograms_over_labels() -> None:
    reading = parse_metrics(worker_metrics({("clicks", "0"): 3, ("clicks", "1"): 500}))
    assert reading.lag == {("clicks", 0): 3, ("clicks", 1): 500}
    assert reading.stalled == {("clicks", 0): False, ("clicks", 1): True}
    assert reading.model_version == "lr-g2"
    assert reading.histograms[APPLY_LATENCY][math.inf] == 4
    assert reading.histograms[APPLY_LATENCY][0.005] == 2
    trigger = reading.histograms[TRIGGER_TO_DECISION]
    assert trigger[1.0] == 1
    assert trigger[math.inf] == 2  # both triggers


def test_parse_keeps_each_triggers_buckets_and_totals_every_other_sample() -> None:
    reading = parse_metrics(worker_metrics({("clicks", "0"): 3, ("clicks", "1"): 500}))
    assert set(reading.by_trigger) == {
        (TRIGGER_TO_DECISION, "cart_abandonment"),
        (TRIGGER_TO_DECISION, "geofence"),
    }
    assert reading.by_trigger[TRIGGER_TO_DECISION, "cart_abandonment"][1.0] == 1
    assert reading.by_trigger[TRIGGER_TO_DECISION, "geofence"][1.0] == 0
    assert reading.by_trigger[TRIGGER_TO_DECISION, "geofence"][math.inf] == 1
    assert reading.totals["stream_app_consumer_lag"] == 503
    assert reading.totals[f"{APPLY_LATENCY}_count"] == 4
    assert reading.totals[f"{APPLY_LATENCY}_sum"] == pytest.approx(7.207)
    assert not any(name.endswith("_bucket") for name in reading.totals)


def test_parse_refuses_what_is_not_prometheus_text() -> None:
    for text in ("<html><body>login</body></html>", '{"a": 1}'):
        with pytest.raises(ValueError, match=r"\w"):
            parse_metrics(text)


async def test_scrape_reports_each_endpoint_and_never_raises() -> None:
    page = worker_metrics({("clicks", "0"): 1})

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "slow":
            await asyncio.sleep(5)
        if host == "down":
            raise httpx.ConnectError("refused", request=request)
        return {
            "ok": httpx.Response(200, text=page),
            "broken": httpx.Response(500, text="oops"),
            "login": httpx.Response(200, text="<html>sign in</html>"),
        }[host]

    urls = [f"http://{h}/metrics" for h in ("ok", "broken", "login", "slow", "down")]
    scrapes = await scrape_all(urls, timeout_s=0.2, transport=httpx.MockTransport(handler))
    assert [(s.url, s.error) for s in scrapes] == [
        ("http://ok/metrics", None),
        ("http://broken/metrics", "HTTP 500"),
        ("http://login/metrics", "not Prometheus metrics"),
        ("http://slow/metrics", "timeout"),
        ("http://down/metrics", "unreachable"),
    ]
    assert scrapes[0].reading is not None
    assert scrapes[0].reading.lag == {("clicks", 0): 1}
    assert await scrape_all([], timeout_s=1) == []


async def test_scrape_survives_bad_urls_and_closed_ports() -> None:
    """With the real transport; none of these leaves the machine."""
    urls = ["not a url", "ftp://127.0.0.1/metrics", f"http://127.0.0.1:{free_port()}/metrics"]
    scrapes = await scrape_all(urls, timeout_s=1)
    assert [(s.reading, s.error) for s in scrapes] == [(None, "unreachable")] * 3


# --- the snapshot ----------------------------------------------------------------------

COUNTERS = {
    "events_applied": 120,
    "events_duplicate": 3,
    "profiles_created": 40,
    "dead_letters:oversized": 1,
    "dead_letters:undecodable": 2,
    "events_late:clickstream": 4,
    "events_late:purchase": 1,
    "decisions_planned": 30,
    "decisions_planned:cart": 30,
    "decisions_deferred": 10,
    "decisions_emitted": 12,
    "decisions_emitted:cart": 12,
    "decisions_emitted:cart:push": 12,
    "decisions_holdout": 4,
    "decisions_holdout:cart": 4,
    "decisions_suppressed:quiet_hours": 7,
    "decisions_suppressed:cart:quiet_hours": 7,
    "decisions_suppressed:cap_day": 2,
    "decisions_suppressed:cart:cap_day": 2,
    "decisions_cancelled:goal_reached": 5,
    "decisions_cancelled:cart:goal_reached": 5,
}
META = {"auc": 0.71, "log_loss": 0.48, "labels": 80.0, "drifts": 0.0, "weird": math.nan}


def scrape(url: str, text: str | None = None, error: str | None = None) -> Scrape:
    return Scrape(url, reading=None if text is None else parse_metrics(text), error=error)


def test_snapshot_shapes_counters_schedule_model_and_lift() -> None:
    lift = campaign_lift("cart", [Stratum("vip", Arm(12, 6), Arm(4, 1))])
    shot = shape(NOW, COUNTERS, (9, 2), META, [lift], [scrape("w1", worker_metrics({}))])
    assert shot.at == NOW
    assert shot.events.model_dump() == {
        "applied": 120,
        "duplicates": 3,
        "dead_letters": 3,
        "late": 5,
        "profiles": 40,
    }
    assert shot.decisions.model_dump() == {
        "planned": 30,
        "deferred": 10,
        "emitted": 12,
        "holdout": 4,
        "cancelled": 5,
    }
    assert shot.suppressed == {"cap_day": 2, "quiet_hours": 7}  # not the per-campaign ones
    assert shot.cancelled == {"goal_reached": 5}
    assert shot.dead_letters == {"oversized": 1, "undecodable": 2}
    assert (shot.schedule.scheduled, shot.schedule.in_flight) == (9, 2)
    assert shot.model.version == "lr-g2"
    assert (shot.model.labels, shot.model.auc, shot.model.log_loss) == (80, 0.71, 0.48)
    assert "weird" not in shot.model.checkpoint, "NaN is not JSON"
    [campaign] = shot.lift
    assert (campaign.campaign_id, campaign.treated.n, campaign.holdout.conversions) == (
        "cart",
        12,
        1,
    )
    assert campaign.pooled.difference == pytest.approx(0.25)
    assert shot.counters == dict(sorted(COUNTERS.items()))
    assert Dashboard.model_validate_json(shot.model_dump_json()) == shot


def test_snapshot_combines_workers_and_reports_the_silent_ones() -> None:
    first = worker_metrics({("clicks", "0"): 5, ("clicks", "1"): 0})
    second = worker_metrics({("clicks", "0"): 3, ("clicks", "1"): 200, ("buys", "0"): 1})
    shot = shape(
        NOW,
        {},
        (0, 0),
        {},
        [],
        [scrape("w1", first), scrape("w2", second), scrape("w3", error="timeout")],
    )
    assert [(w.url, w.up, w.error) for w in shot.workers] == [
        ("w1", True, None),
        ("w2", True, None),
        ("w3", False, "timeout"),
    ]
    lag = {(p.topic, p.partition): (p.lag, p.stalled) for p in shot.lag.partitions}
    # A partition two workers report (mid-rebalance) counts once, at its highest lag.
    assert lag == {("buys", 0): (1, False), ("clicks", 0): (5, False), ("clicks", 1): (200, True)}
    assert (shot.lag.total, shot.lag.stalled) == (206, 1)
    apply = shot.latency.event_apply
    assert apply.count == 8  # both workers' observations
    assert apply.p50 is not None
    assert apply.p99 is not None
    assert 0.0025 <= apply.p50 <= 0.2 <= apply.p99 <= 10.0
    decide = shot.latency.trigger_to_decision
    assert decide.count == 4
    assert decide.p50 == pytest.approx(0.5)  # rank 2 of 4: the top of the (0.25, 0.5] bucket


def test_snapshot_without_any_worker_or_model() -> None:
    shot = shape(NOW, {}, (0, 0), {"labels": 0.0, "auc": 0.5}, [], [scrape("w", error="timeout")])
    assert shot.lag.total is None, "unknown, not zero"
    assert shot.lag.partitions == []
    assert shot.latency.event_apply.model_dump() == {
        "count": 0,
        "p50": None,
        "p95": None,
        "p99": None,
    }
    assert (shot.model.version, shot.model.auc, shot.model.log_loss) == (None, None, None)
    assert shot.decisions.cancelled == 0
    assert shape(NOW, {}, (0, 0), {}, [], []).workers == []


def test_the_model_name_is_the_learners() -> None:
    assert MODEL == LEARNER_MODEL


def test_reading_defaults_are_empty() -> None:
    assert Reading() == Reading({}, {}, {}, None)


# --- the page ----------------------------------------------------------------------------


def test_page_has_no_inline_code_and_no_remote_assets() -> None:
    """What the page's Content-Security-Policy enforces, checked before a browser sees it."""
    html = (API / "dashboard.html").read_text("utf-8")
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), "no inline event handlers"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), "no inline styles"
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "no inline scripts"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert not re.match(r"(https?:)?//", asset), f"{asset}: the page must work offline"
        if asset.startswith("dashboard/static/"):
            assert (API / "static" / asset.removeprefix("dashboard/static/")).is_file(), asset
    script = (API / "static" / "dashboard.js").read_text("utf-8")
    for banned in ("innerHTML", "eval(", "console.", "http://", "https://"):
        assert banned not in script, banned


def test_static_files_are_package_data() -> None:
    """Installed as a wheel, the API still finds its page and scripts."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["stream_app"]
    shipped = [API / "dashboard.html", *(API / "static").iterdir()]
    for path in shipped:
        relative = path.relative_to(ROOT / "stream_app").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    assert {p.name for p in shipped} >= {
        "dashboard.html",
        "dashboard.js",
        "dashboard.css",
        "chart.umd.min.js",
        "chart.js-LICENSE.md",
    }
    chart = resources.files("stream_app.api").joinpath("static", "chart.umd.min.js")
    assert chart.read_text("utf-8").startswith("/*!\n * Chart.js v4.6.1")


async def test_page_and_scripts_are_served_without_a_key() -> None:
    app = create_app(Settings(secrets={"allow_dev_secret": True}))  # never reaches Redis here
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["referrer-policy"] == "no-referrer"
        for name in ("dashboard.js", "dashboard.css", "chart.umd.min.js"):
            asset = await http.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200, name
        assert (await http.get("/dashboard/static/nope.js")).status_code == 404
        assert (await http.get("/v1/dashboard")).status_code == 401
