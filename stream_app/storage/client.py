"""The client type every store takes: one Redis server or a Redis Cluster.

``storage.connection.redis_client`` builds one or the other from the settings; the
stores talk to either through the commands both have. Where a cluster needs more
(scripts routed by slot, a commit split by slot, SCAN on every master), the code
asks ``is_cluster``.
"""

from __future__ import annotations

from redis.asyncio import Redis, RedisCluster
from typing_extensions import TypeIs

#: A Redis client: a single server's or a cluster's.
RedisClient = Redis | RedisCluster

__all__ = ["RedisClient", "is_cluster"]


def is_cluster(client: RedisClient) -> TypeIs[RedisCluster]:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)
