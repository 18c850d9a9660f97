"""A pass's Redis writes, applied by one script call: all of them, or none.

The worker gathers every write of a batch (profiles, id index, memberships,
decisions, timers, counters) as plain commands in a ``Writes``, each store adding
its own; ``commit`` sends them in one ``EVALSHA`` of ``lua/commit.lua`` (packed as
one MessagePack argument: encoding thousands of words one by one costs the client
more than the whole script costs Redis), which
first checks the guards (each profile still at the version the batch read, no
customer erased meanwhile) and then runs every command, or none if a guard
failed: one round trip, one command for the client to encode, atomic in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgpack
from redis.asyncio import Redis

from stream_app.storage.scripts import Arg, LuaScript, ScriptCall, run_scripts

#: The guard version meaning "the key must not exist".
ABSENT = -1


@dataclass(slots=True)
class Writes:
    """Commands to run together, and the guards they depend on."""

    guards: list[tuple[str, int]] = field(default_factory=list)
    commands: list[tuple[Arg, ...]] = field(default_factory=list)
    #: Guarded key -> who it guards (what ``commit`` reports when the guard fails).
    owners: dict[str, str] = field(default_factory=dict)

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

    def __bool__(self) -> bool:
        return bool(self.commands)


class Committer:
    def __init__(self, client: Redis) -> None:
        self._client = client
        self._script = LuaScript("commit")

    async def commit(self, writes: Writes, also: Sequence[ScriptCall] = ()) -> list[str]:
        """Run ``writes``; returns the owners of the guards that failed (then nothing was
        written). ``also`` are idempotent script calls that ride in the same round trip
        (they run even when a guard fails)."""
        if not writes and not also:
            return []
        # Redis 6.2's cmsgpack reads no bin type: bytes go as (raw) strings.
        args = [msgpack.packb((writes.guards, writes.commands), use_bin_type=False)]

        answers = await run_scripts(self._client, [self._script.call([], args), *also])
        failed = {k.decode() if isinstance(k, bytes) else str(k) for k in answers[0]}
        return sorted({writes.owners[key] for key in failed})
