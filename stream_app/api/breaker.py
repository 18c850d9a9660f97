"""Redis slow or down must never hang a request: a deadline and a circuit breaker.

Every Redis round trip of a request runs through ``RedisGuard.call``. The
client already fails fast (``api_redis_timeout_s`` socket timeouts, no retries);
the guard adds an overall deadline (``api_deadline_s``) for a Redis that is slow
but still answering, and a circuit breaker: after ``api_breaker_failures``
consecutive failures it opens and requests get 503 at once, without touching
Redis, for ``api_breaker_reset_s``; then one request is let through (half-open)
and a success closes it again.

A full Redis (``maxmemory`` with ``noeviction``) is not an outage: it still answers
reads and refuses writes. A refused write raises ``RedisFullError`` (503 with a
longer ``Retry-After``) and never counts towards opening the breaker, so reads go on.

Library: ``purgatory`` (mardiros/purgatory): asyncio-native (an ``async with``
around any block, not only a decorated function), fully typed (``py.typed``),
no dependencies, with the half-open state and an exclusion rule so that only
unavailability counts as failure. ``aiobreaker`` is unmaintained and
``circuitbreaker`` untyped. Its state is kept in memory per process on purpose:
a breaker that stored its state in the Redis it guards would fail with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stream_app.storage.full import refuses_writes

log = logging.getLogger(__name__)

T = TypeVar("T")
CIRCUIT = "redis"
#: Seconds a client is asked to wait after a write refused by a full Redis: freeing
#: memory takes an operator, not a reconnect.
FULL_RETRY_AFTER_S = 30
#: What means "Redis is not available" (a wrong command or WRONGTYPE does not).
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    TimeoutError,
    OSError,
)


class UnavailableError(Exception):
    """Redis cannot serve the request now; answer 503 with ``Retry-After``."""

    detail = "redis unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"{self.detail}, retry after {retry_after} s")
        self.retry_after = retry_after


class RedisFullError(UnavailableError):
    """Redis is full and refuses writes (reads still work); answer 503 with ``Retry-After``."""

    detail = "redis full: writes are refused until memory is freed; reads still work"


def _not_unavailability(exc: BaseException) -> bool:
    return not isinstance(exc, UNAVAILABLE)


class RedisGuard:
    def __init__(self, *, failures: int, reset_s: float, deadline_s: float) -> None:
        self._reset_s = reset_s
        self._deadline_s = deadline_s
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=failures,
            default_ttl=reset_s,
            exclude=[(BaseException, _not_unavailability)],
        )

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` (Redis calls only) or raise ``UnavailableError`` fast."""
        breaker = await self._breakers.get_breaker(CIRCUIT)
        was = breaker.context.state
        try:
            async with breaker:
                async with asyncio.timeout(self._deadline_s):
                    return await operation()
        except OpenedState as opened:
            raise UnavailableError(self._retry_after(opened.opened_at)) from None
        except UNAVAILABLE as exc:
            now = breaker.context.state
            if now != was:
                log.warning("redis unavailable (%s): API circuit %s", type(exc).__name__, now)
            opened_at = breaker.context.opened_at
            retry = self._retry_after(opened_at) if opened_at is not None else 1
            raise UnavailableError(retry) from None
        except ResponseError as exc:
            if not refuses_writes(exc):
                raise
            raise RedisFullError(FULL_RETRY_AFTER_S) from None
        finally:
            if was != "closed" and breaker.context.state == "closed":
                log.warning("redis available again: API circuit closed")

    def _retry_after(self, opened_at: float) -> int:
        return max(1, math.ceil(opened_at + self._reset_s - time.time()))
