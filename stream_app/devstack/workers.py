"""Worker processes for the demo and the tests: real ``stream-app worker`` children."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings


def worker_env(settings: Settings) -> dict[str, str]:
    """Our environment with ``settings`` as its variables: a child configured by them."""
    return {**os.environ, **settings.to_env()}


def api_process(settings: Settings, log_dir: Path | str, port: int) -> ManagedProcess:
    """An unstarted ``stream-app api`` child on ``127.0.0.1:<port>`` (settings as env)."""
    env = worker_env(settings)
    return ManagedProcess(
        "api",
        [sys.executable, "-m", "stream_app", "api", "--host", "127.0.0.1", "--port", str(port)],
        log_dir,
        env=env,
        stop_timeout=10.0,
    )


def worker_process(settings: Settings, log_dir: Path | str, name: str = "worker") -> ManagedProcess:
    """An unstarted worker child configured by ``settings`` (passed as env variables).

    Stopped with SIGTERM so Faust commits what it finished before exiting.
    """
    env = worker_env(settings)
    return ManagedProcess(
        name,
        [sys.executable, "-m", "stream_app", "worker"],
        log_dir,
        env=env,
        stop_timeout=20.0,
    )
