"""``python -m bench.slot_count <out.json>``: a ``stream-app worker`` counting, by hash slot,
every key of every Redis command it sends.

The count is taken where a command is encoded: redis-py's ``pack_command`` (single
commands, pipelines, the cluster client) and ``storage.routed``'s own RESP encoding of
the script calls it sends to each master, so it sees exactly what the worker asks
Redis for, whichever store or script sent it. A script call counts
each of its keys; a multi-key command (``DEL``, ``MGET``, ...) each key it names; other
commands their first argument; commands that name no key (``PING``, ``CLUSTER``,
``WAIT``, ...) nothing. The counts go to ``<out.json>`` (``{"slot": n}``) every half
second and at exit, for ``bench.cluster``'s busiest-slot share.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.crc import key_slot

from stream_app.storage import routed
from stream_app.storage.scripts import ScriptCall

#: Commands that name no key.
KEYLESS = frozenset(
    [
        "PING",
        "INFO",
        "CLUSTER",
        "COMMAND",
        "CLIENT",
        "HELLO",
        "AUTH",
        "SELECT",
        "READONLY",
        "READWRITE",
        "ASKING",
        "MULTI",
        "EXEC",
        "DISCARD",
        "SCRIPT",
        "WAIT",
        "TIME",
        "DBSIZE",
        "CONFIG",
        "ECHO",
        "FUNCTION",
        "ROLE",
        "MEMORY",
    ]
)
#: Commands whose every argument is a key.
ALL_KEYS = frozenset({"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH"})
SCRIPTS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
DUMP_EVERY_S = 0.5


def _text(arg: Any) -> str:
    return arg.decode() if isinstance(arg, bytes | bytearray) else str(arg)


def keys_of(args: Sequence[Any]) -> Sequence[Any]:
    """The keys a command names (see the module docstring for the rules)."""
    words = _text(args[0]).upper().split()
    name, rest = words[0], [*words[1:], *args[1:]]
    if name in KEYLESS or not rest:
        return ()
    if name in SCRIPTS:
        return rest[2 : 2 + int(_text(rest[1]))]
    if name in ALL_KEYS:
        return rest
    if name == "MSET":
        return rest[::2]
    return rest[:1]


def install(counts: Counter[int]) -> None:
    """Count every command packed from now on into ``counts`` (slot -> keys)."""
    original = AbstractConnection.pack_command
    original_evalsha = routed._evalsha

    def count(keys: Sequence[Any]) -> None:
        for key in keys:
            counts[key_slot(key if isinstance(key, bytes) else _text(key).encode())] += 1

    def counting(self: AbstractConnection, *args: Any) -> list[bytes]:
        count(keys_of(args))
        return original(self, *args)

    def counting_evalsha(call: ScriptCall) -> bytes:
        count(call.keys)
        return original_evalsha(call)

    AbstractConnection.pack_command = counting  # type: ignore[method-assign]
    routed._evalsha = counting_evalsha


def dump(counts: Counter[int], out: Path) -> None:
    """Write ``counts`` atomically (copied first: the event loop keeps counting)."""
    while True:
        try:
            snapshot = {str(slot): n for slot, n in counts.items()}
            break
        except RuntimeError:  # changed size during the copy: copy again
            continue
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(snapshot))
    os.replace(tmp, out)


def main() -> None:
    out = Path(sys.argv[1])
    counts: Counter[int] = Counter()
    install(counts)
    stop = threading.Event()

    def keep_dumping() -> None:
        while not stop.wait(DUMP_EVERY_S):
            dump(counts, out)

    threading.Thread(target=keep_dumping, name="slot-count", daemon=True).start()
    from stream_app.cli.main import main as cli

    sys.argv = ["stream-app", "worker"]
    try:
        cli()
    finally:
        stop.set()
        dump(counts, out)


if __name__ == "__main__":
    main()
