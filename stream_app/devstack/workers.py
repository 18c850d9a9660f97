"""Worker processes for the demo and the tests: real ``stream-app worker`` children."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings


def worker_process(settings: Settings, log_dir: Path | str, name: str = "worker") -> ManagedProcess:
    """An unstarted worker child configured by ``settings`` (passed as env variables).

    Stopped with SIGTERM so Faust commits what it finished before exiting.
    """
    env = {**os.environ, **settings.to_env()}
    return ManagedProcess(
        name,
        [sys.executable, "-m", "stream_app", "worker"],
        log_dir,
        env=env,
        stop_timeout=20.0,
    )
