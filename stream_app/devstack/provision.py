"""Kafka + Redis for tests and tools: external servers, containers, or the embedded stack.

Order of preference (``STREAM_APP_DEVSTACK__SERVERS=external|containers|embedded``
forces one):

1. ``external`` when both ``STREAM_APP_KAFKA__BOOTSTRAP`` and ``STREAM_APP_REDIS__URL``
   are set: the same variables the app reads, so exporting what ``stream-app stack``
   prints points the tests at that stack, and CI can point them at real clusters.
2. ``containers`` (Apache Kafka + Redis via testcontainers) when a Docker engine
   answers: the only option with transactions, idempotent producers and broker
   restarts that keep data.
3. ``embedded`` (Tansu + redis-server child processes) otherwise.

The choice is made from ``Settings`` (section ``devstack``); nothing here reads the
environment itself.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from stream_app.devstack.stack import EmbeddedStack
from stream_app.settings import DevstackSettings, Settings

__all__ = [
    "ProvisionError",
    "Servers",
    "ServersKind",
    "choose_servers_kind",
    "docker_available",
    "external_servers",
    "provision_servers",
]

ServersKind = Literal["external", "containers", "embedded"]

CONTAINER_START_TIMEOUT_S = 120


class _KafkaContainerLike(Protocol):
    """What is used of a Kafka container (testcontainers is imported lazily)."""

    def start(self, timeout: int = ...) -> object: ...

    def stop(self) -> None: ...

    def get_bootstrap_server(self) -> str: ...


class ProvisionError(RuntimeError):
    """The requested kind of servers cannot be provided."""


@dataclass(frozen=True, slots=True)
class Servers:
    """Where the servers are and what kind they are (tests skip what a kind lacks)."""

    kafka_bootstrap: str
    redis_url: str
    kind: ServersKind


def docker_available(host: str, timeout: float = 5.0) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` at ``host`` (``unix://`` or ``tcp://``).

    A raw HTTP ping, closed on every path: the Docker SDK client leaks its socket
    (a ResourceWarning, an error under our strict pytest settings). Never raises.
    """
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            with sock:
                sock.connect(host.removeprefix("unix://"))
                return _pinged(sock)
        if host.startswith("tcp://"):
            address, _, port = host.removeprefix("tcp://").rpartition(":")
            with socket.create_connection((address, int(port)), timeout=timeout) as conn:
                return _pinged(conn)
    except (OSError, ValueError):
        return False
    return False


def _pinged(sock: socket.socket) -> bool:
    sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    return sock.recv(64).split(b" ")[1:2] == [b"200"]


def external_servers(settings: Settings) -> bool:
    """Whether Kafka's bootstrap and Redis' URL were both set (not defaults)."""
    return (
        "bootstrap" in settings.kafka.model_fields_set and "url" in settings.redis.model_fields_set
    )


def choose_servers_kind(
    settings: Settings, *, docker_probe: Callable[[str], bool] = docker_available
) -> ServersKind:
    """Pick the kind of servers from ``settings`` (see the module docstring)."""
    external = external_servers(settings)
    forced = settings.devstack.servers
    if forced == "external" and not external:
        raise ProvisionError(
            "STREAM_APP_DEVSTACK__SERVERS=external needs both STREAM_APP_KAFKA__BOOTSTRAP "
            "and STREAM_APP_REDIS__URL"
        )
    if forced is not None:
        return forced
    if external:
        return "external"
    if docker_probe(settings.devstack.docker_host):
        return "containers"
    return "embedded"


@contextlib.contextmanager
def provision_servers(settings: Settings | None = None) -> Iterator[Servers]:
    """Yield running Kafka and Redis servers; started ones are stopped on exit."""
    settings = Settings() if settings is None else settings
    kind = choose_servers_kind(settings)
    if kind == "external":
        yield Servers(settings.kafka.bootstrap, settings.redis.url, "external")
    elif kind == "containers":
        with _containers(settings.devstack) as servers:
            yield servers
    else:
        with EmbeddedStack() as stack:
            yield Servers(stack.kafka_bootstrap, stack.redis_url, "embedded")


@contextlib.contextmanager
def _containers(devstack: DevstackSettings) -> Iterator[Servers]:
    """Apache Kafka (KRaft, single node) and Redis containers, removed on exit."""
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:  # testcontainers < 4.14 had no ``community`` namespace
        from testcontainers.redis import RedisContainer

    if not docker_available(devstack.docker_host):
        raise ProvisionError("containers requested but no Docker engine answers")
    kafka = _apache_kafka_container(devstack.kafka_image)
    redis = RedisContainer(devstack.redis_image)
    with contextlib.ExitStack() as stack:
        kafka.start(timeout=CONTAINER_START_TIMEOUT_S)
        stack.callback(kafka.stop)
        redis.start()
        stack.callback(redis.stop)
        host = redis.get_container_host_ip()
        port = redis.get_exposed_port(redis.port)
        yield Servers(kafka.get_bootstrap_server(), f"redis://{host}:{port}/0", "containers")


def _apache_kafka_container(image: str) -> _KafkaContainerLike:
    """testcontainers' ``KafkaContainer`` adapted to the ``apache/kafka`` image.

    ``KafkaContainer`` (4.x) boots through Confluent's ``/etc/confluent/docker``
    scripts, which ``apache/kafka`` lacks, and refuses KRaft for tags below 7.0
    (Confluent numbering). Its ports, listeners and "wait for the start script"
    trick are kept; only the KRaft settings and the launcher differ.
    """
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.kafka import KafkaContainer

    class ApacheKafkaContainer(KafkaContainer):
        def configure(self) -> None:
            self.wait_for = re.compile(r".*Kafka Server started.*")
            self.with_env("CLUSTER_ID", self.cluster_id)
            self.with_env("KAFKA_NODE_ID", "1")
            self.with_env("KAFKA_PROCESS_ROLES", "broker,controller")
            self.with_env("KAFKA_LISTENERS", f"{self.listeners},CONTROLLER://0.0.0.0:9094")
            self.with_env(
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                f"{self.security_protocol_map},CONTROLLER:PLAINTEXT",
            )
            self.with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9094")
            self.with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            # Single broker: transactions (exactly-once tests) need these at 1.
            self.with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            self.with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")

        def tc_start(self) -> None:
            # The advertised address needs the mapped port, known only once running.
            host = self.get_container_host_ip()
            port = self.get_exposed_port(self.port)
            script = (
                f"export KAFKA_ADVERTISED_LISTENERS={self.listener_name}://{host}:{port},"
                "BROKER://$(hostname -i | cut -d' ' -f1):9092\n"
                "exec /etc/kafka/docker/run\n"
            )
            self.create_file(script.encode(), self.TC_START_SCRIPT)

    return ApacheKafkaContainer(image)
