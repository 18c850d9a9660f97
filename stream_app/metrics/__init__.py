"""Prometheus metrics of the worker and the API (an edge: prometheus_client)."""
