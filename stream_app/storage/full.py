"""A full Redis: at ``maxmemory`` (``noeviction``) it answers reads and refuses writes.

The worker (``streaming.retry``), the API (``api.breaker``, ``api.ratelimit``,
``/ready``) and the CLI tell this apart from an outage or a bug with these two
functions, so a refused write is waited out or answered 503, never dead-lettered
nor a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.exceptions import OutOfMemoryError, ResponseError

__all__ = ["over_maxmemory", "refuses_writes"]

#: How Redis words its refusal at ``maxmemory`` with ``noeviction``; inside a Lua script
#: the same words come back wrapped in a plain ``ERR Error running script`` reply.
_OOM_REPLY = "OOM command not allowed"


def refuses_writes(error: BaseException) -> bool:
    """True when ``error`` is Redis refusing a write because it is full (``maxmemory``
    reached, ``noeviction``): reads still work, and writes do again once memory is freed,
    so the worker retries and the API answers 503, never a dead letter or a 500."""
    if isinstance(error, OutOfMemoryError):
        return True
    return isinstance(error, ResponseError) and _OOM_REPLY in str(error)


def over_maxmemory(memory: Mapping[str, Any]) -> bool:
    """Whether Redis is over its ``maxmemory`` by ``INFO memory`` (``memory``), counted as
    Redis counts it before refusing a write (replication and AOF buffers left out).

    >>> over_maxmemory({"used_memory": 900, "maxmemory": 800, "mem_not_counted_for_evict": 0})
    True
    >>> over_maxmemory({"used_memory": 900, "maxmemory": 0})  # no limit
    False
    """
    limit = int(memory.get("maxmemory", 0))
    counted = int(memory.get("used_memory", 0)) - int(memory.get("mem_not_counted_for_evict", 0))
    return limit > 0 and counted > limit
