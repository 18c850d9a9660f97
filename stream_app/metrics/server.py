"""Serving a registry's metrics over HTTP for Prometheus to scrape."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def serve_metrics(registry: CollectorRegistry, port: int | None, host: str = "0.0.0.0") -> bool:
    """Serve ``/metrics`` on ``port`` in a background thread; False when off or the port is
    taken (logged, never fatal: a worker without metrics still does its job)."""
    if port is None:
        return False
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics not served: port %d unavailable (%s)", port, exc)
        return False
    log.info("metrics served on :%d/metrics", port)
    return True
