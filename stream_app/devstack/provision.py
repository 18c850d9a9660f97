"""Kafka + Redis for tests and tools: external servers, containers, or the embedded stack.

Order of preference (``STREAM_APP_DEVSTACK__SERVERS=external|containers|embedded`` forces one):

1. ``external`` when both ``STREAM_APP_KAFKA__BOOTSTRAP`` and ``STREAM_APP_REDIS__URL``
   are set: the same variables the app reads, so exporting what ``stream-app stack``
   prints points the tests at that stack, and CI can point them at real clusters.
2. ``containers`` (Apache Kafka + Redis via testcontainers) when a Docker engine
   answers: the only option with transactions, idempotent producers and broker
   restarts that keep data.
3. ``embedded`` (Tansu + redis-server child processes) otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, cast, get_args

from stream_app.devstack.stack import EmbeddedStack

__all__ = [
    "ENV_FORCE",
    "ENV_KAFKA_BOOTSTRAP",
    "ENV_REDIS_URL",
    "ProvisionError",
    "Servers",
    "ServersKind",
    "choose_servers_kind",
    "docker_available",
    "provision_servers",
]

ServersKind = Literal["external", "containers", "embedded"]

ENV_FORCE = "STREAM_APP_DEVSTACK__SERVERS"
ENV_KAFKA_BOOTSTRAP = "STREAM_APP_KAFKA__BOOTSTRAP"
ENV_REDIS_URL = "STREAM_APP_REDIS__URL"
ENV_KAFKA_IMAGE = "STREAM_APP_DEVSTACK__KAFKA_IMAGE"
ENV_REDIS_IMAGE = "STREAM_APP_DEVSTACK__REDIS_IMAGE"

DEFAULT_KAFKA_IMAGE = "apache/kafka:3.9.0"
DEFAULT_REDIS_IMAGE = "redis:7.2-alpine"
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


def docker_available(timeout: float = 5.0) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` at ``DOCKER_HOST`` (or the default socket).

    A raw HTTP ping, closed on every path: the Docker SDK client leaks its socket
    (a ResourceWarning, an error under our strict pytest settings). Never raises.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
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


def choose_servers_kind(
    env: Mapping[str, str] | None = None,
    *,
    docker_probe: Callable[[], bool] = docker_available,
) -> ServersKind:
    """Pick the kind of servers from the environment (see the module docstring)."""
    env = os.environ if env is None else env
    external = bool(env.get(ENV_KAFKA_BOOTSTRAP)) and bool(env.get(ENV_REDIS_URL))
    forced = env.get(ENV_FORCE, "").strip().lower()
    if forced:
        if forced not in get_args(ServersKind):
            raise ProvisionError(
                f"{ENV_FORCE}={forced!r}; expected one of {', '.join(get_args(ServersKind))}"
            )
        if forced == "external" and not external:
            raise ProvisionError(
                f"{ENV_FORCE}=external needs both {ENV_KAFKA_BOOTSTRAP} and {ENV_REDIS_URL}"
            )
        return cast(ServersKind, forced)
    if external:
        return "external"
    if docker_probe():
        return "containers"
    return "embedded"


@contextlib.contextmanager
def provision_servers(env: Mapping[str, str] | None = None) -> Iterator[Servers]:
    """Yield running Kafka and Redis servers; started ones are stopped on exit."""
    env = os.environ if env is None else env
    kind = choose_servers_kind(env)
    if kind == "external":
        yield Servers(env[ENV_KAFKA_BOOTSTRAP], env[ENV_REDIS_URL], "external")
    elif kind == "containers":
        with _containers(
            env.get(ENV_KAFKA_IMAGE, DEFAULT_KAFKA_IMAGE),
            env.get(ENV_REDIS_IMAGE, DEFAULT_REDIS_IMAGE),
        ) as servers:
            yield servers
    else:
        with EmbeddedStack() as stack:
            yield Servers(stack.kafka_bootstrap, stack.redis_url, "embedded")


@contextlib.contextmanager
def _containers(kafka_image: str, redis_image: str) -> Iterator[Servers]:
    """Apache Kafka (KRaft, single node) and Redis containers, removed on exit."""
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:  # testcontainers < 4.14 had no ``community`` namespace
        from testcontainers.redis import RedisContainer

    if not docker_available():
        raise ProvisionError("containers requested but no Docker engine answers")
    kafka = _apache_kafka_container(kafka_image)
    redis = RedisContainer(redis_image)
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
