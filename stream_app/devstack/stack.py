"""The embedded dev stack: Tansu (Kafka API) + Redis as child processes.

No Docker or JVM needed, so tests, the demo and ``stream-app stack`` run anywhere
the wheels install. Cleanup is layered so no server outlives us:
``__exit__`` (also on exceptions and Ctrl-C), an ``atexit`` hook for stacks never
exited, SIGTERM turned into ``SystemExit`` so those two run, and finally the
kernel's parent-death signal for ``kill -9`` (see ``processes.py``).
"""

from __future__ import annotations

import atexit
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn, Self

from stream_app.devstack.processes import StartStop
from stream_app.devstack.redis_cluster import ClusterShape, LocalRedisCluster
from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.tansu import TansuBroker

__all__ = ["EmbeddedStack"]


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    """Turn SIGTERM into ``SystemExit`` so ``finally``/``__exit__``/``atexit`` run."""
    raise SystemExit(128 + signum)


class EmbeddedStack(StartStop):
    """Context manager running Tansu and a Redis server (or cluster) on free loopback ports.

    >>> with EmbeddedStack() as dev:  # doctest: +SKIP
    ...     run_worker(dev.kafka_bootstrap, dev.redis_url)

    Enter it from the main thread (or a thread that outlives it): the servers'
    parent-death signal fires when the spawning thread ends. Logs and Redis' data
    directory go to ``log_dir``, or to a temporary directory that is deleted on
    stop unless ``keep_logs``. With ``redis_cluster`` Redis is a local cluster of
    that shape (``redis_args`` apply to each node) instead of one server.
    """

    def __init__(
        self,
        log_dir: Path | str | None = None,
        *,
        startup_timeout: float = 20.0,
        redis_args: Sequence[str] = (),
        handle_sigterm: bool = True,
        keep_logs: bool = False,
        redis_cluster: ClusterShape | None = None,
    ) -> None:
        self._given_log_dir = Path(log_dir) if log_dir is not None else None
        self._startup_timeout = startup_timeout
        self._redis_args = tuple(redis_args)
        self._handle_sigterm = handle_sigterm
        self._keep_logs = keep_logs
        self._log_dir: Path | None = None
        self._tansu: TansuBroker | None = None
        self._cluster_shape = redis_cluster
        self._redis: RedisServer | None = None
        self._cluster: LocalRedisCluster | None = None
        self._sigterm_installed = False
        self._started = False
        self._running = False

    # --- addresses ---------------------------------------------------------

    @property
    def tansu(self) -> TansuBroker:
        """The broker (port, pid, log path)."""
        if self._tansu is None or not self._running:
            raise RuntimeError("EmbeddedStack is not running")
        return self._tansu

    @property
    def redis(self) -> RedisServer:
        """The Redis server (port, pid, log path); with a cluster, a live master."""
        if self._cluster is not None and self._running:
            return self._cluster.masters[0]
        if self._redis is None or not self._running:
            raise RuntimeError("EmbeddedStack is not running")
        return self._redis

    @property
    def redis_cluster(self) -> LocalRedisCluster | None:
        """The Redis Cluster when started with ``redis_cluster``, else None."""
        if not self._running:
            raise RuntimeError("EmbeddedStack is not running")
        return self._cluster

    @property
    def kafka_bootstrap(self) -> str:
        """``127.0.0.1:<port>`` of the broker, for ``bootstrap_servers``."""
        return self.tansu.bootstrap

    @property
    def redis_url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` (a cluster's seed node with a cluster)."""
        return self.redis.url

    @property
    def pids(self) -> dict[str, int]:
        """Each server's pid by its name (``redis`` or ``redis-node-<i>``, ``tansu``),
        e.g. to sample their CPU."""
        if self._cluster is not None and self._running:
            return {**self._cluster.pids, self.tansu.name: self.tansu.pid}
        return {server.name: server.pid for server in (self.redis, self.tansu)}

    @property
    def log_dir(self) -> Path:
        """Directory holding ``tansu.log``, ``redis.log`` and Redis' data."""
        if self._log_dir is None:
            raise RuntimeError("EmbeddedStack was not started")
        return self._log_dir

    @property
    def running(self) -> bool:
        """Started and not stopped yet."""
        return self._running

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Start both servers and wait until each answers a real request.

        Both processes are spawned before waiting on either, so their start-up
        overlaps. On any failure (or Ctrl-C) whatever was started is stopped.
        """
        if self._started:
            raise RuntimeError("an EmbeddedStack can be started only once")
        self._started = True
        if self._given_log_dir is not None:
            self._given_log_dir.mkdir(parents=True, exist_ok=True)
            self._log_dir = self._given_log_dir
        else:
            self._log_dir = Path(tempfile.mkdtemp(prefix="stream-app-stack-"))
        self._running = True
        atexit.register(self.stop)
        self._install_sigterm_handler()
        try:
            self._tansu = TansuBroker(self._log_dir)
            self._tansu.spawn()
            deadline = time.monotonic() + self._startup_timeout
            if self._cluster_shape is not None:
                self._cluster = LocalRedisCluster(
                    self._log_dir, shape=self._cluster_shape, extra_args=self._redis_args
                )
                self._cluster.start(self._startup_timeout)
            else:
                self._redis = RedisServer(self._log_dir, extra_args=self._redis_args)
                self._redis.spawn()
            self._tansu.wait_ready(max(0.0, deadline - time.monotonic()))
            if self._redis is not None:
                self._redis.wait_ready(max(0.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and reap them; safe to call repeatedly and at exit."""
        if not self._running:
            return
        self._running = False
        self._restore_sigterm_handler()
        servers = [s for s in (self._redis, self._cluster, self._tansu) if s is not None]
        try:
            for server in servers:  # both get SIGTERM first, so they stop in parallel
                server.terminate()
        finally:
            try:
                for server in servers:
                    server.stop()
            finally:
                atexit.unregister(self.stop)
                if self._given_log_dir is None and not self._keep_logs and self._log_dir:
                    shutil.rmtree(self._log_dir, ignore_errors=True)

    def _install_sigterm_handler(self) -> None:
        """Install ``_exit_on_sigterm`` unless someone else already handles SIGTERM."""
        if not self._handle_sigterm or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self._sigterm_installed = True

    def _restore_sigterm_handler(self) -> None:
        if not self._sigterm_installed:
            return
        self._sigterm_installed = False
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGTERM) is _exit_on_sigterm
        ):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def __repr__(self) -> str:
        if not self._running:
            return "EmbeddedStack(stopped)"
        kind = "redis_cluster" if self._cluster is not None else "redis"
        return f"EmbeddedStack(kafka={self.kafka_bootstrap}, {kind}={self.redis_url})"
