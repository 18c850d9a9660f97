"""The worker's Redis retry: a full Redis is waited out like an outage, as one episode."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError

from stream_app.cli import main as cli
from stream_app.metrics.engine import EngineMetrics
from stream_app.storage.full import refuses_writes
from stream_app.streaming.retry import RedisRetry

#: What a commit script answers when its first write is refused (Redis 6.2).
IN_SCRIPT = ResponseError(
    "Error running script (call to f_96de): @user_script:1: @user_script: 1: "
    "-OOM command not allowed when used memory > 'maxmemory'."
)
DIRECT = OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")


def test_a_refused_write_is_told_apart_from_other_errors() -> None:
    assert refuses_writes(DIRECT)
    assert refuses_writes(IN_SCRIPT)
    assert not refuses_writes(ResponseError("WRONGTYPE Operation against a key"))
    assert not refuses_writes(RedisConnectionError("refused"))


class Flaky:
    """Fails with ``errors`` in turn, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.failed = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            self.failed.set()
            raise self.errors.pop(0)
        return "ok"


def sample(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name)


def test_full_redis_is_retried_as_one_episode(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    retry = RedisRetry(0.01, EngineMetrics(registry))
    caplog.set_level(logging.INFO, logger="stream_app.streaming.retry")

    async def run() -> None:
        # The commit is refused three times; meanwhile another call (a read) goes through.
        commit = Flaky(IN_SCRIPT, DIRECT, IN_SCRIPT)
        first = asyncio.create_task(retry(lambda: commit()))  # as the worker calls it
        await commit.failed.wait()
        assert sample(registry, "stream_app_redis_full") == 1
        assert await retry(Flaky()) == "ok"
        assert retry.episode.full, "a read going through says nothing about room for writes"
        assert await first == "ok"
        assert commit.calls == 4

    asyncio.run(run())
    assert not retry.episode.full
    assert sample(registry, "stream_app_redis_full") == 0
    assert sample(registry, "stream_app_redis_writes_refused_total") == 3
    assert sample(registry, "stream_app_redis_errors_total") == 0, "full is not an outage"
    episodes = [r for r in caplog.records if getattr(r, "event", None) == "redis_full"]
    assert [getattr(r, "state", None) for r in episodes] == ["full", "room"], "once per episode"


def test_other_response_errors_are_not_retried() -> None:
    retry = RedisRetry(0.01)
    wrong = Flaky(ResponseError("WRONGTYPE Operation against a key"))
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        asyncio.run(retry(wrong))
    assert wrong.calls == 1


def test_an_outage_counts_as_redis_errors() -> None:
    registry = CollectorRegistry()
    retry = RedisRetry(0.01, EngineMetrics(registry))
    assert asyncio.run(retry(Flaky(RedisConnectionError("refused")))) == "ok"
    assert sample(registry, "stream_app_redis_errors_total") == 1
    assert sample(registry, "stream_app_redis_writes_refused_total") == 0
    assert not retry.episode.full


def test_a_cli_command_refused_by_a_full_redis_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused() -> None:
        raise DIRECT

    monkeypatch.setattr(cli, "app", refused)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == os.EX_TEMPFAIL
    assert "Redis is full" in capsys.readouterr().err
