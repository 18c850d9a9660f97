"""Script calls on a Redis Cluster: each master gets its calls as one packed write.

redis-py's ``ClusterPipeline`` costs the client tens of microseconds per command
(policies, per-command slot lookup, retry bookkeeping); a commit split by slot sends
hundreds of calls per batch. Here the calls are grouped by the master serving their
first key's slot and written to that master's connection in one go, all masters at
once. A call refused for routing (MOVED, ASK, a master gone) runs again through the
cluster client, which follows the redirect and refreshes its slot map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode, PipelineCommand
from redis.exceptions import AskError, ClusterDownError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stream_app.storage.slots import key_slot

if TYPE_CHECKING:
    from stream_app.storage.scripts import ScriptCall

#: Answers that mean "ask the cluster client": it knows how to follow or wait them out.
REROUTE = (AskError, TryAgainError, ClusterDownError, RedisConnectionError, RedisTimeoutError)


class ReplicasBehind(RedisConnectionError):
    """Fewer replicas acknowledged a batch's writes than required: retried like an
    outage, so the batch's offsets are not committed until its effects are replicated."""


async def run_routed(client: RedisCluster, calls: Sequence[ScriptCall]) -> list[Any]:
    """Send ``calls`` (each with at least one key) to their masters in one round; the
    answers in order (exceptions as values, like a pipeline's ``raise_on_error=False``)."""
    await client.initialize()
    answers: list[Any] = [None] * len(calls)
    await asyncio.gather(
        *(_send(node, at, calls, answers) for node, at in _by_master(client, calls).values())
    )
    for i, answer in enumerate(answers):
        if isinstance(answer, REROUTE):
            call = calls[i]
            args = (call.script.sha, len(call.keys), *call.keys, *call.args)
            try:
                answers[i] = await client.execute_command("EVALSHA", *args)
            except Exception as error:
                answers[i] = error
    return answers


def masters_of(client: RedisCluster, calls: Iterable[ScriptCall]) -> list[ClusterNode]:
    """The masters serving the calls' slots."""
    return [node for node, _ in _by_master(client, list(calls)).values()]


async def wait_replicas(masters: Iterable[ClusterNode], replicas: int, timeout_ms: int) -> None:
    """``WAIT replicas timeout`` on each master; raises ``ReplicasBehind`` on a short ack."""
    acks = await asyncio.gather(
        *(node.execute_command("WAIT", replicas, timeout_ms) for node in masters)
    )
    if any(int(ack) < replicas for ack in acks):
        raise ReplicasBehind(f"WAIT: {min(int(a) for a in acks)} of {replicas} replicas acked")


def _by_master(
    client: RedisCluster, calls: Sequence[ScriptCall]
) -> dict[str, tuple[ClusterNode, list[int]]]:
    """Calls by the name of the master serving them: (that master, their positions)."""
    nodes = client.nodes_manager
    masters: dict[str, tuple[ClusterNode, list[int]]] = {}
    for i, call in enumerate(calls):
        node = nodes.get_node_from_slot(key_slot(call.keys[0].encode()))
        masters.setdefault(node.name, (node, []))[1].append(i)
    return masters


async def _send(
    node: ClusterNode, at: list[int], calls: Sequence[ScriptCall], answers: list[Any]
) -> None:
    commands = [
        PipelineCommand(
            i, "EVALSHA", calls[i].script.sha, len(calls[i].keys), *calls[i].keys, *calls[i].args
        )
        for i in at
    ]
    try:
        await node.execute_pipeline(commands)
    except REROUTE as error:
        for command in commands:
            answers[command.position] = error
        return
    for command in commands:
        answers[command.position] = command.result
