"""The endpoint registry's pure parts: its key, the URL a worker announces, the union the
dashboard reads, and a heartbeat that never stops the worker."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from stream_app.api.routes_dashboard import workers
from stream_app.settings import Settings
from stream_app.settings.edges import MetricsSettings
from stream_app.storage.layout import Keys
from stream_app.streaming.observe import Announcer

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail

    async def announce(self, url: str, now_ms: int) -> None:
        if self.fail:
            raise ConnectionError("redis away")
        self.calls.append((url, now_ms))


def test_the_registry_is_one_key_per_deployment() -> None:
    assert Keys("sa").endpoints() == "sa:endpoints"
    assert Keys("t1").endpoints() != Keys("t2").endpoints()


def test_the_url_is_derived_from_the_hostname_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    host = socket.gethostname()
    assert MetricsSettings(port=9200).advertised(host) == f"http://{host}:9200/metrics"
    monkeypatch.setenv("STREAM_APP_METRICS__ADVERTISE_URL", "http://10.1.2.3:9108/metrics")
    assert Settings().metrics.advertised(host) == "http://10.1.2.3:9108/metrics"


def test_a_silent_worker_is_dropped_after_the_missed_heartbeats() -> None:
    metrics = MetricsSettings()
    assert metrics.announce_ttl_ms() == metrics.announce_interval_s * 1000 * 3


def test_the_dashboard_reads_each_endpoint_once_configured_first() -> None:
    a, b, c = (f"http://{h}:9108/metrics" for h in "abc")
    assert workers([a, b], [c, a, b]) == (a, b, c)
    assert workers([], [b, a]) == (b, a)
    assert workers([a], []) == (a,)


async def test_the_worker_announces_only_once_its_metrics_are_served() -> None:
    store = Recorder()
    announcer = Announcer(store, "http://w:9108/metrics", lambda: NOW)  # type: ignore[arg-type]
    await announcer.beat()
    assert store.calls == []
    await announcer.start()
    await announcer.beat()
    assert store.calls == [("http://w:9108/metrics", int(NOW.timestamp() * 1000))] * 2


async def test_a_failed_heartbeat_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    announcer = Announcer(Recorder(fail=True), "http://w:9108/metrics", lambda: NOW)  # type: ignore[arg-type]
    await announcer.start()
    assert "not announced" in caplog.text
