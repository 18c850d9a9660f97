"""The Lua scripts shipped with the package, run by SHA.

redis-py's pipeline support for scripts asks ``SCRIPT EXISTS`` before every
pipeline, an extra round trip per batch; here scripts are queued as plain
``EVALSHA`` and loaded only when Redis answers ``NOSCRIPT`` (after a restart
or a flush). The whole pipeline is then run again, which is safe because every
write the engine pipelines is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError


class LuaScript:
    """One script of ``storage/lua/``, addressed by its SHA1."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = (
            resources.files("stream_app.storage").joinpath("lua", f"{name}.lua").read_text()
        )
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add a call to a pipeline (see ``execute``)."""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    async def run(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Call the script outside a pipeline."""
        return (await execute(client, lambda pipe: self.queue(pipe, keys, args), [self]))[0]


async def execute(
    client: Redis, build: Callable[[Pipeline], None], scripts: Sequence[LuaScript]
) -> list[Any]:
    """Build and run a pipeline; on NOSCRIPT load ``scripts`` and run it once more."""
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        build(pipe)
        try:
            return list(await pipe.execute())
        except NoScriptError:
            if attempt == 2:
                raise
            for script in scripts:
                await client.script_load(script.source)
    raise AssertionError("unreachable")
