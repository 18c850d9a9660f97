"""A pass's Redis writes, applied by one script call: all of them, or none.

The worker gathers every write of a batch (profiles, id index, memberships,
decisions, timers, counters) as plain commands in a ``Writes``, each store adding
its own; ``commit`` sends them in one ``EVALSHA`` of ``lua/commit.lua`` (packed as
one MessagePack argument: encoding thousands of words one by one costs the client
more than the whole script costs Redis), which
first checks the guards (each profile still at the version the batch read, no
customer erased meanwhile) and then runs every command, or none if a guard
failed: one round trip, one command for the client to encode, atomic in Redis.

On a Redis Cluster a script touches one slot: the writes are split by slot
(``storage.slots``), one call per slot with that slot's guards, all sent in one round
(``storage.routed``). Guards are per customer and a customer's keys share a slot, so
each customer's writes stay all-or-none; a slot whose guard failed writes nothing,
the others commit. ``done`` (kept by the caller across attempts of one batch) holds
the slots already committed, so a retry sends only the rest: after a Redis error the
same writes again, after a failed guard the re-passed customers' writes. Slots with no
guard (shared keys: schedule shards, segments, counters) are sent again after a failed
guard, since the re-passed customers may add to them (their counters count again).
With ``wait_replicas``, a slot counts as committed only once that many replicas of its
master acknowledged it (``WAIT``); a short ack raises a retryable error, so the batch's
offsets are not committed before its effects are replicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgpack
from redis.asyncio import RedisCluster

from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.routed import ReplicasBehind, masters_of, wait_replicas
from stream_app.storage.scripts import Arg, LuaScript, ScriptCall, run_scripts
from stream_app.storage.slots import by_slot, key_slot

#: The guard version meaning "the key must not exist".
ABSENT = -1


@dataclass(slots=True)
class Writes:
    """Commands to run together, and the guards they depend on."""

    guards: list[tuple[str, int]] = field(default_factory=list)
    commands: list[tuple[Arg, ...]] = field(default_factory=list)
    #: Guarded key -> who it guards (what ``commit`` reports when the guard fails).
    owners: dict[str, str] = field(default_factory=dict)
    #: (key, command): run once ``key``'s slot is written (``then``).
    later: list[tuple[str, tuple[Arg, ...]]] = field(default_factory=list)

    def guard(self, key: str, version: int, owner: str) -> None:
        """Only write if the document at ``key`` is still at ``version`` (0: absent)."""
        self.guards.append((key, version))
        self.owners[key] = owner

    def guard_absent(self, key: str, owner: str) -> None:
        """Only write if ``key`` does not exist (e.g. a customer's erased flag)."""
        self.guards.append((key, ABSENT))
        self.owners[key] = owner

    def add(self, *command: Arg) -> None:
        self.commands.append(command)

    def add_if(self, key: str, field: str, want: str, value: Arg, *then: Arg) -> None:
        """Set hash ``field`` of ``key`` to ``value`` and run ``then`` only if the field
        holds ``want`` (``""``: absent): e.g. count a change once, however often it is
        written. ``then``'s keys must share ``key``'s slot (``lua/commit.lua``)."""
        self.commands.append(("HSETIF", key, field, want, value, *then))

    def then(self, key: str, *command: Arg) -> None:
        """Run ``command`` (idempotent; another slot's) once ``key``'s slot is written: on
        a Redis Cluster in a round after the commit (a saga's last step,
        ``storage.stitch``), on a single Redis after the other commands."""
        self.later.append((key, command))

    def __bool__(self) -> bool:
        return bool(self.commands)


class Committer:
    def __init__(self, client: RedisClient, *, replicas: int = 0, wait_ms: int = 1000) -> None:
        """``replicas``: how many replicas must acknowledge a commit (0: none waited for)."""
        self._client = client
        self._script = LuaScript("commit")
        self._replicas = replicas
        self._wait_ms = wait_ms

    async def commit(
        self, writes: Writes, also: Sequence[ScriptCall] = (), done: set[int] | None = None
    ) -> list[str]:
        """Run ``writes``; returns the owners of the guards that failed (then nothing of
        their slot was written; on a single Redis nothing at all). ``also`` are idempotent
        script calls that ride in the same round trip (they run even when a guard fails).
        ``done``: the slots of a cluster already committed by an earlier attempt."""
        if not writes and not also:
            return []
        client = self._client
        if is_cluster(client):
            return await self._by_slot(client, writes, also, set() if done is None else done)
        # Redis 6.2's cmsgpack reads no bin type: bytes go as (raw) strings.
        commands = [*writes.commands, *(command for _, command in writes.later)]
        args = [msgpack.packb((writes.guards, commands), use_bin_type=False)]

        answers = await run_scripts(client, [self._script.call([], args), *also])
        if self._replicas:
            acked = int(await client.wait(self._replicas, self._wait_ms))
            if acked < self._replicas:
                raise ReplicasBehind(f"WAIT: {acked} of {self._replicas} replicas acked")
        return self._owners(writes, answers[0])

    async def _by_slot(
        self, client: RedisCluster, writes: Writes, also: Sequence[ScriptCall], done: set[int]
    ) -> list[str]:
        groups = by_slot(writes.guards, writes.commands)
        todo = [slot for slot in groups if slot not in done]
        calls = [
            self._script.call(
                [groups[slot].route_key],
                [msgpack.packb((groups[slot].guards, groups[slot].commands), use_bin_type=False)],
            )
            for slot in todo
        ]
        answers = await run_scripts(client, [*calls, *also], raise_errors=False)
        ok = {slot for slot, answer in zip(todo, answers, strict=False) if answer == []}
        if self._replicas and ok:
            # Only slots of masters whose replicas caught up count as committed.
            await wait_replicas(
                masters_of(client, [c for s, c in zip(todo, calls, strict=True) if s in ok]),
                self._replicas,
                self._wait_ms,
            )
        done |= ok
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        await self._later(client, writes, done, set(groups))
        failed = [key for answer in answers[: len(todo)] for key in answer]
        if failed:
            done -= {slot for slot, group in groups.items() if not group.guards}
        return self._owners(writes, failed)

    async def _later(
        self, client: RedisCluster, writes: Writes, done: set[int], written: set[int]
    ) -> None:
        """The commands to run after their slot's commit (again on a retry: idempotent);
        a slot this commit does not write has nothing pending: theirs run too."""
        ready = [
            command
            for key, command in writes.later
            if key_slot(key) in done or key_slot(key) not in written
        ]
        if not ready:
            return
        groups = by_slot([], ready)
        calls = [
            self._script.call(
                [group.route_key], [msgpack.packb(([], group.commands), use_bin_type=False)]
            )
            for group in groups.values()
        ]
        await run_scripts(client, calls)

    @staticmethod
    def _owners(writes: Writes, failed: Sequence[bytes | str]) -> list[str]:
        keys = {k.decode() if isinstance(k, bytes) else str(k) for k in failed}
        return sorted({writes.owners[key] for key in keys})
