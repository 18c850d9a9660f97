"""``stream-app stack``: run only the embedded Kafka (Tansu) and Redis, for local work.

``--redis-cluster`` runs Redis as a local cluster (``--masters``, ``--replicas`` each).
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Annotated

import typer

from stream_app.devstack.processes import ProcessStartError
from stream_app.devstack.redis_cluster import ClusterShape
from stream_app.devstack.stack import EmbeddedStack

__all__ = ["stack"]

_POLL_S = 0.1


def stack(
    duration: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).",
        ),
    ] = None,
    redis_cluster: Annotated[
        bool, typer.Option(help="Run Redis as a local Redis Cluster instead of one server.")
    ] = False,
    masters: Annotated[int, typer.Option(min=1, help="Cluster masters.")] = 3,
    replicas: Annotated[int, typer.Option(min=0, help="Cluster replicas per master.")] = 0,
) -> None:
    """Start the embedded servers, print their addresses, and wait until told to stop."""
    shape = ClusterShape(masters, replicas) if redis_cluster else None
    stop_signals: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        # Only record it: stopping happens in the main flow, never mid-startup.
        stop_signals.append(signum)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, request_stop) for sig in handled}
    try:
        try:
            dev = EmbeddedStack(handle_sigterm=False, redis_cluster=shape).start()
        except (ProcessStartError, FileNotFoundError) as exc:  # FileNotFound: no binary
            typer.echo(f"stream-app stack: could not start: {exc}", err=True)
            raise typer.Exit(1) from exc
        try:
            _print_addresses(dev)
            deadline = None if duration is None else time.monotonic() + duration
            while not stop_signals:
                remaining = _POLL_S if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    break
                time.sleep(min(_POLL_S, remaining))
            reason = signal.Signals(stop_signals[0]).name if stop_signals else "duration elapsed"
            typer.echo(f"Stopping ({reason})...")
        finally:
            dev.stop()
        typer.echo("Stopped.")
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be restored
                signal.signal(sig, handler)


def _print_addresses(dev: EmbeddedStack) -> None:
    typer.echo(f"Kafka (Tansu): {dev.kafka_bootstrap}  (pid {dev.tansu.pid})")
    cluster = dev.redis_cluster
    if cluster is None:
        typer.echo(f"Redis:         {dev.redis_url}  (pid {dev.redis.pid})")
    else:
        for name, node in zip(cluster.pids, cluster.nodes, strict=True):
            role = "replica" if node in cluster.replicas else "master"
            typer.echo(f"Redis Cluster: {node.url}  ({role}, {name}, pid {node.pid})")
    typer.echo(f"Logs:          {dev.log_dir}")
    typer.echo("")
    typer.echo("# Paste into another shell to point stream-app at these servers:")
    typer.echo(f"export STREAM_APP_KAFKA__BOOTSTRAP={dev.kafka_bootstrap}")
    typer.echo(f"export STREAM_APP_REDIS__URL={dev.redis_url}")
    if cluster is not None:
        typer.echo("export STREAM_APP_REDIS__CLUSTER=true")
    typer.echo("")
    typer.echo("Press Ctrl-C (or send SIGTERM) to stop.")
