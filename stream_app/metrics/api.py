"""The API's metrics: requests by route template and status, and their latency (seconds)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

API_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """Built on an injectable registry, like the worker's ``EngineMetrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "stream_app_api_requests",
            "API requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "stream_app_api_request_seconds",
            "API request latency by method and route template.",
            ["method", "route"],
            buckets=API_BUCKETS,
            registry=r,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
