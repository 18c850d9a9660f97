"""Real servers for the integration tests, and one real worker process for the session.

Servers come from ``provision_servers``: external ones named in the environment,
else containers when a Docker engine answers, else the embedded stack. Topic
names and Redis keys carry a per-run suffix, so external servers stay usable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.provision import Servers, provision_servers
from stream_app.devstack.redis_cluster import ClusterShape, LocalRedisCluster
from stream_app.devstack.workers import worker_process
from stream_app.events.topics import TopicNames
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CAMPAIGNS = Path(__file__).resolve().parent / "campaigns.toml"


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with provision_servers() as found:
        yield found


@pytest.fixture(scope="session")
def settings(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    run = uuid.uuid4().hex[:8]
    metrics_port = free_port()
    topics = {name: f"{value}.{run}" for name, value in TopicNames().model_dump().items()}
    return Settings(
        topics=TopicNames(**topics),
        kafka={
            "bootstrap": servers.kafka_bootstrap,
            "topic_partitions": 3,
            "commit_interval_s": 0.2,
            # The embedded broker holds every group join for half the session timeout
            # (5 s at the default 10 s, 2 s at 4 s; and a killed member is noticed as
            # much sooner): each worker the tests start joins at least once.
            "session_timeout_s": 4.0,
        },
        redis={"url": servers.redis_url, "key_prefix": f"t{run}"},
        worker={
            "app_id": f"stream-app-test-{run}",
            "data_dir": str(tmp_path_factory.mktemp("faust")),
        },
        secrets={"allow_dev_secret": True},
        model={"attribution_window": timedelta(seconds=4), "checkpoint_interval_s": 1.0},
        decisions={"campaigns_file": CAMPAIGNS, "quiet_hours": None},
        metrics={
            "port": metrics_port,
            "api_port": None,
            "probe_interval_s": 1.0,
            "announce_interval_s": 1.0,
            "dashboard_urls": (f"http://127.0.0.1:{metrics_port}/metrics",),
        },
    )


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A local Redis Cluster, 3 masters with a replica each, for tests of the cluster path.

    Shared by the session, so never kill its nodes: failover tests start their own.
    """
    log_dir = tmp_path_factory.mktemp("redis-cluster")
    with LocalRedisCluster(log_dir, ClusterShape(replicas_per_master=1)) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_settings(settings: Settings, redis_cluster: LocalRedisCluster) -> Settings:
    """The session's settings with Redis pointing at ``redis_cluster`` (same Kafka)."""
    return settings.updated(redis={"url": redis_cluster.url, "cluster": True})


@pytest.fixture(scope="session")
def worker(settings: Settings) -> Iterator[ManagedProcess]:
    """One worker process for the whole session (start-up costs a few seconds)."""
    asyncio.run(ensure_topics(settings))
    process = worker_process(settings, ARTIFACTS / "logs")
    with process:
        yield process
        assert process.running, f"worker died:\n{process.log_tail()}"


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = redis_client(settings)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def keys(settings: Settings) -> Keys:
    return Keys(settings.redis.key_prefix)
