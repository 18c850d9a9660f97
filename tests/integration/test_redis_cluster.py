"""The local Redis Cluster the project forms itself: every slot served, replicas in sync,
keys reachable through a cluster client, a killed master's replica promoted, and no
node left running after the stack stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from stream_app.devstack.ports import port_accepts
from stream_app.devstack.redis_cluster import (
    CLUSTER_SLOTS,
    ClusterNode,
    ClusterShape,
    LocalRedisCluster,
)
from stream_app.devstack.stack import EmbeddedStack


def _owned_slots(node: ClusterNode) -> dict[str, set[int]]:
    """Slots by the ``host:port`` of the master serving them, as ``node`` sees it."""
    owners: dict[str, set[int]] = {}
    for row in node.topology():
        if "master" in row[2].split(",") and "fail" not in row[2]:
            address = row[1].split("@")[0]
            for part in row[8:]:
                lo, _, hi = part.partition("-")
                owners.setdefault(address, set()).update(range(int(lo), int(hi or lo) + 1))
    return owners


@pytest.fixture
def client(redis_cluster: LocalRedisCluster) -> Iterator[RedisCluster]:
    with RedisCluster.from_url(redis_cluster.url) as cluster_client:
        yield cluster_client


def test_every_node_sees_every_slot_served_once_evenly(redis_cluster: LocalRedisCluster) -> None:
    assert len(redis_cluster.masters) == 3
    assert len(redis_cluster.replicas) == 3
    for node in redis_cluster.nodes:
        owners = _owned_slots(node)
        assert set(owners) == {f"127.0.0.1:{m.port}" for m in redis_cluster.masters}
        slots = [slot for owned in owners.values() for slot in owned]
        assert sorted(slots) == list(range(CLUSTER_SLOTS))
        assert {len(owned) for owned in owners.values()} <= {5461, 5462}
        assert node.fields("CLUSTER", "INFO")["cluster_state"] == "ok"


def test_each_replica_follows_its_master_in_sync(redis_cluster: LocalRedisCluster) -> None:
    followed = set()
    for replica in redis_cluster.replicas:
        replication = replica.fields("INFO", "replication")
        assert replication["role"] == "slave"
        assert replication["master_link_status"] == "up"
        followed.add(int(replication["master_port"]))
    assert followed == {m.port for m in redis_cluster.masters}


def test_keys_written_through_a_cluster_client_are_read_back(
    redis_cluster: LocalRedisCluster, client: RedisCluster
) -> None:
    written = {f"cluster-test:{n}": str(n) for n in range(300)}
    for key, value in written.items():
        client.set(key, value, ex=60)
    assert {key: client.get(key) for key in written} == {k: v.encode() for k, v in written.items()}
    assert all(int(str(master.ask("DBSIZE"))) > 0 for master in redis_cluster.masters)


def test_a_killed_master_is_replaced_by_its_replica_without_losing_acked_writes(
    tmp_path: Path,
) -> None:
    shape = ClusterShape(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    with (
        LocalRedisCluster(tmp_path, shape) as cluster,
        RedisCluster.from_url(cluster.url) as client,
    ):
        victim = cluster.masters[0]
        keys = [f"k{n}" for n in range(200)]
        for key in keys:
            client.set(key, key)
        for master in cluster.masters:
            assert master.ask("WAIT", 1, 2000) == 1  # every write reached the replica
        victim_slots = _owned_slots(cluster.masters[1])[f"127.0.0.1:{victim.port}"]

        dead = cluster.kill_master(0)
        heir = cluster.wait_failover(dead, timeout=30)

        assert not dead.alive()
        assert heir.fields("INFO", "replication")["role"] == "master"
        assert heir in cluster.masters
        assert len(cluster.masters) == 3
        for node in cluster.masters:
            assert _owned_slots(node)[f"127.0.0.1:{heir.port}"] == victim_slots
        assert [client.get(key) for key in keys] == [key.encode() for key in keys]

        cluster.rejoin(dead)  # as a restart policy brings it back: the heir's replica
        replication = dead.fields("INFO", "replication")
        assert replication["role"] == "slave"
        assert int(replication["master_port"]) == heir.port
        assert heir.ask("WAIT", 1, 2000) == 1


def test_embedded_stack_with_a_cluster_stops_every_node(tmp_path: Path) -> None:
    shape = ClusterShape(masters=2, replicas_per_master=1)
    with EmbeddedStack(tmp_path, redis_cluster=shape) as stack:
        cluster = stack.redis_cluster
        assert cluster is not None
        assert len(cluster.nodes) == 4
        assert stack.redis_url == cluster.url
        assert set(stack.pids) > set(cluster.pids)
        with RedisCluster.from_url(stack.redis_url) as client:
            assert client.set("stack-key", "1")
            assert client.get("stack-key") == b"1"
        nodes = list(cluster.nodes)
    assert not any(node.alive() for node in nodes)
    assert not any(port_accepts(node.port) for node in nodes)
