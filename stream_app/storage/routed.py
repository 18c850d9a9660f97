"""Script calls on a Redis Cluster: each master gets its calls as one packed write.

redis-py's ``ClusterPipeline`` and even a node's ``execute_pipeline`` cost the client
30-40 us per command (command objects, encoding word by word, one timed read per
reply); a commit split by slot sends hundreds of calls per batch (a 300-slot commit:
~11 ms of client CPU). Here the calls are grouped by the master serving their first
key's slot, encoded straight to RESP, written to that master's connection in one go
(all masters at once), and the replies taken from the connection's hiredis reader
as they arrive under one timeout (~2.5 ms for the same commit). A call refused for
routing (MOVED, ASK, a master gone) runs again through the cluster client, which
follows the redirect and refreshes its slot map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import hiredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA
from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection
from redis.exceptions import AskError, ClusterDownError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stream_app.storage.slots import key_slot

if TYPE_CHECKING:
    from stream_app.storage.scripts import Arg, ScriptCall

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
        node = nodes.get_node_from_slot(key_slot(call.keys[0]))
        masters.setdefault(node.name, (node, []))[1].append(i)
    return masters


async def _send(
    node: ClusterNode, at: list[int], calls: Sequence[ScriptCall], answers: list[Any]
) -> None:
    connection = node.acquire_connection()
    try:
        if not connection.is_connected:
            await connection.connect()  # type: ignore[no-untyped-call]
        await connection.send_packed_command(
            b"".join(_evalsha(calls[i]) for i in at), check_health=False
        )
        async with asyncio.timeout(connection.socket_timeout):
            replies = await _replies(connection, len(at))
    except (*REROUTE, TimeoutError) as error:
        await connection.disconnect()  # replies may still be on their way: start afresh
        for i in at:
            answers[i] = error
        return
    finally:
        node.release(connection)
    for i, reply in zip(at, replies, strict=True):
        answers[i] = reply


async def _replies(connection: Connection, count: int) -> list[Any]:
    """``count`` replies, errors as values (the hiredis reader builds redis-py's error
    classes); through ``read_response`` one by one where hiredis is not used."""
    reader = getattr(connection._parser, "_reader", None)
    if not isinstance(reader, hiredis.Reader):
        return [await _reply(connection) for _ in range(count)]
    stream = connection._reader
    assert stream is not None, "connected"
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is NOT_ENOUGH_DATA:
            try:
                data = await stream.read(1 << 16)
            except OSError as error:  # a master killed mid-read: reset by peer
                raise RedisConnectionError(f"connection lost reading replies: {error}") from error
            if not data:
                raise RedisConnectionError("connection closed while reading replies")
            reader.feed(data)
        else:
            replies.append(reply)
    return replies


async def _reply(connection: Connection) -> Any:
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error


def _evalsha(call: ScriptCall) -> bytes:
    """``EVALSHA`` of ``call`` as RESP, ready to write."""
    words = [_word(key) for key in call.keys] + [_word(arg) for arg in call.args]
    head = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % (len(words) + 3, call.script.sha.encode())
    count = b"%d" % len(call.keys)
    body = b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in words)
    return b"%s$%d\r\n%s\r\n%s" % (head, len(count), count, body)


def _word(value: Arg) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return repr(value).encode()
