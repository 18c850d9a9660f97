"""Retrying Redis calls (tenacity): the worker waits out a Redis outage, never drops.

While a call retries, the batch is not acknowledged, so Kafka offsets stay put
and nothing is lost; every retried write is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)


class RedisRetry:
    """Runs a Redis call until it succeeds, backing off up to ``max_wait_s``."""

    def __init__(self, max_wait_s: float, on_retry: Callable[[], object] | None = None) -> None:
        """``on_retry`` is told of every failed attempt (the worker counts them)."""
        self._max_wait_s = max_wait_s
        self._on_retry = on_retry

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential_jitter(multiplier=0.05, max=self._max_wait_s),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity retries until success or re-raise")

    def _before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("redis unavailable (attempt %d): %r; retrying", state.attempt_number, error)
        if self._on_retry is not None:
            self._on_retry()
