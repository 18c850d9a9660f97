"""The Lua scripts shipped with the package, run by SHA, several per round trip.

redis-py's pipeline support for scripts asks ``SCRIPT EXISTS`` before every
pipeline, an extra round trip per batch; here script calls are sent as plain
``EVALSHA`` and a script is loaded only when Redis answers ``NOSCRIPT`` (after a
restart or a flush). Then only the calls that were refused run again: the others
ran, and some (a guarded commit) must not run twice. On a Redis Cluster every call
names a key of the one slot it touches, and goes to that slot's master
(``storage.routed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.routed import run_routed

#: A script argument as Redis takes it.
Arg = str | int | float | bytes


class LuaScript:
    """One script of ``storage/lua/``, addressed by its SHA1."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = (
            resources.files("stream_app.storage").joinpath("lua", f"{name}.lua").read_text()
        )
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def call(self, keys: Sequence[str], args: Sequence[Arg]) -> ScriptCall:
        """A call of this script, to run with ``run_scripts``."""
        return ScriptCall(self, list(keys), list(args))

    async def run(self, client: RedisClient, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Call the script on its own."""
        return (await run_scripts(client, [self.call(keys, args)]))[0]


class ScriptCall:
    """One ``EVALSHA`` of a script with its keys and arguments."""

    __slots__ = ("args", "keys", "script")

    def __init__(self, script: LuaScript, keys: list[str], args: list[Arg]) -> None:
        self.script = script
        self.keys = keys
        self.args = args


async def run_scripts(
    client: RedisClient, calls: Sequence[ScriptCall], *, raise_errors: bool = True
) -> list[Any]:
    """Run ``calls`` in one pipeline (one round trip) and return their answers in order.
    Calls refused with NOSCRIPT are run again, alone, once their scripts are loaded.
    A call that failed raises its error (after all ran), or with ``raise_errors=False``
    is answered by it."""
    answers = await _pipeline(client, calls)
    refused = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if refused:
        for script in {calls[i].script.sha: calls[i].script for i in refused}.values():
            await client.script_load(script.source)  # a cluster loads it on every master
        again = await _pipeline(client, [calls[i] for i in refused])
        for i, answer in zip(refused, again, strict=True):
            answers[i] = answer
    for answer in answers:
        if raise_errors and isinstance(answer, Exception):
            raise answer
    return answers


async def _pipeline(client: RedisClient, calls: Sequence[ScriptCall]) -> list[Any]:
    if is_cluster(client):
        return await run_routed(client, calls)
    pipe = client.pipeline(transaction=False)
    for call in calls:
        pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
    return list(await pipe.execute(raise_on_error=False))
