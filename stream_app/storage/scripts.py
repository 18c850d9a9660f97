"""The Lua scripts shipped with the package, loaded once per client."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def load_script(client: Redis, name: str) -> AsyncScript:
    """Register ``storage/lua/<name>.lua``; redis-py runs it by SHA and reloads if flushed."""
    source = resources.files("stream_app.storage").joinpath("lua", f"{name}.lua").read_text()
    return client.register_script(source)
