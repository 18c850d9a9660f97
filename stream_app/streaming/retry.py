"""Retrying Redis calls (tenacity): the worker waits out a Redis outage, never drops.

While a call retries, the batch is not acknowledged, so Kafka offsets stay put
and nothing is lost; every retried write is idempotent. The agent waiting in a
retry takes no new batch, Faust's stream buffer fills and it stops fetching those
partitions (``Consumer.on_buffer_full``; polling goes on, so the worker keeps its group
membership): consumption pauses, and resumes by itself when the call goes through.

Two failures are waited out: Redis unreachable (``TRANSIENT``) and Redis full
(``maxmemory`` with ``noeviction``: it refuses writes, ``refuses_writes``). A full
Redis is never the records' fault, so it never dead-letters them; it is an episode,
logged once when it starts and once when it ends, shown by ``stream_app_redis_full``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from stream_app.metrics.engine import EngineMetrics
from stream_app.storage.full import refuses_writes

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)


def waited_out(error: BaseException) -> bool:
    """Whether a failed call is tried again: Redis away, or full."""
    return isinstance(error, TRANSIENT) or refuses_writes(error)


@dataclass
class FullEpisode:
    """Redis refusing writes: from the first refusal to the first refused call that then
    went through (memory was freed). Concurrent callers share one episode."""

    metrics: EngineMetrics | None = None
    clock: Callable[[], float] = time.monotonic
    _since: float | None = field(default=None, init=False)
    _refused: int = field(default=0, init=False)

    @property
    def full(self) -> bool:
        return self._since is not None

    def refused(self, error: BaseException) -> None:
        """A call was refused; the first refusal of an episode is logged and flagged."""
        self._refused += 1
        if self.metrics is not None:
            self.metrics.redis_refused.inc()
        if self._since is not None:
            return
        self._since = self.clock()
        if self.metrics is not None:
            self.metrics.redis_full.set(1)
        log.error(
            "redis full, writes refused: consumption paused, the batch is retried until "
            "memory is freed (%s)",
            error,
            extra={"event": "redis_full", "state": "full"},
        )

    def over(self) -> None:
        """A refused call went through: Redis has room again."""
        if self._since is None:
            return
        seconds, refused = self.clock() - self._since, self._refused
        self._since, self._refused = None, 0
        if self.metrics is not None:
            self.metrics.redis_full.set(0)
        log.warning(
            "redis has room again after %.1f s (%d calls refused): consumption resumes",
            seconds,
            refused,
            extra={"event": "redis_full", "state": "room", "seconds": round(seconds, 1)},
        )


class RedisRetry:
    """Runs a Redis call until it succeeds, backing off up to ``max_wait_s``."""

    def __init__(self, max_wait_s: float, metrics: EngineMetrics | None = None) -> None:
        """``metrics`` count failed attempts and show a full Redis (the worker's)."""
        self._max_wait_s = max_wait_s
        self._metrics = metrics
        self.episode = FullEpisode(metrics)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        refused = False

        def before_sleep(state: RetryCallState) -> None:
            nonlocal refused
            error = state.outcome.exception() if state.outcome else None
            if error is not None and refuses_writes(error):
                refused = True
                self.episode.refused(error)
                return
            log.warning("redis unavailable (attempt %d): %r; retrying", state.attempt_number, error)
            if self._metrics is not None:
                self._metrics.redis_errors.inc()

        retrying = AsyncRetrying(
            retry=retry_if_exception(waited_out),
            wait=wait_exponential_jitter(multiplier=0.05, max=self._max_wait_s),
            before_sleep=before_sleep,
            reraise=True,
        )

        async for attempt in retrying:
            with attempt:
                answer = await call()
                if refused:
                    self.episode.over()
                return answer
        raise AssertionError("unreachable: tenacity retries until success or re-raise")
