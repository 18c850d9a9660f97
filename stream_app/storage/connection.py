"""The one place Redis clients are built, so every process authenticates and encrypts alike.

The worker, the CLI commands, the demo, the API and the tests all call
``redis_client``: a setting added here (an ACL user, TLS, a timeout) reaches
them all, and no caller can forget one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from stream_app.settings import Settings
from stream_app.storage.client import RedisClient

__all__ = ["redis_client"]


def redis_client(settings: Settings, *, timeout_s: float | None = None) -> RedisClient:
    """An asyncio Redis client for ``settings.redis.url`` with its user, password and TLS:
    a ``RedisCluster`` (the URL names one node; the others are discovered) with
    ``settings.redis.cluster``.

    ``timeout_s`` is the connect and read timeout (``None``: ``settings.redis.timeout_s``),
    for callers that must fail faster than the worker, like the API. No connection is
    opened until the first command.
    """
    timeout = settings.redis.timeout_s if timeout_s is None else timeout_s
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if settings.redis.username is not None:
        options["username"] = settings.redis.username
    if settings.redis.password is not None:
        options["password"] = settings.redis.password.get_secret_value()
    url = settings.redis.url
    if settings.redis.uses_tls:
        # redis-py picks its TLS connection class from the scheme alone.
        url = urlunsplit(urlsplit(url)._replace(scheme="rediss"))
        verify = settings.redis.tls_verify
        options |= {
            "ssl_cert_reqs": "required" if verify else "none",
            "ssl_check_hostname": verify,
            "ssl_ca_certs": _path(settings.redis.tls_ca_file),
            "ssl_certfile": _path(settings.redis.tls_cert_file),
            "ssl_keyfile": _path(settings.redis.tls_key_file),
        }
    if settings.redis.cluster:
        return _cluster(url, options)
    return Redis.from_url(url, **options)


def _cluster(url: str, options: dict[str, Any]) -> RedisCluster:
    """A cluster client starting from every node the URL lists (``redis://a:7000,b:7001``):
    after a failover the first may be gone for good, and a client (a restarted worker)
    must still find the cluster."""
    parts = urlsplit(url)
    auth, _, hosts = parts.netloc.rpartition("@")
    first, *more = hosts.split(",")
    nodes = [ClusterNode(host, int(port)) for host, _, port in (h.rpartition(":") for h in more)]
    netloc = f"{auth}@{first}" if auth else first
    return RedisCluster.from_url(
        urlunsplit(parts._replace(netloc=netloc)), startup_nodes=nodes or None, **options
    )


def _path(path: object) -> str | None:
    return None if path is None else str(path)
