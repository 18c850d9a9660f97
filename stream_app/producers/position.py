"""Where a resumable load stands in its file: the end of the last line whose event the
broker acknowledged, with every line before it acknowledged too.

Events leave out of line order (envelopes wait for more events of their key, batches
go per partition), so the position is a low-water mark: it only passes a line once
that line's record is acknowledged, and an interrupted load resumed from it loses
nothing. It may lag a little (lines acknowledged beyond a still pending one are sent
again on resume): harmless, the worker applies an event id once.

The file holds one JSON object, replaced atomically (a crash leaves the old or the
new position, never a torn one).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import orjson

#: What ``stream-app backfill`` calls the position file of ``FILE`` unless told.
POSITION_SUFFIX = ".backfill-position"


@dataclass(frozen=True, slots=True)
class Position:
    """``line`` lines (counted from the start of the file) end at byte ``offset``."""

    line: int = 0
    offset: int = 0


#: Where a load starts unless resumed.
FILE_START = Position()


class BadPosition(ValueError):
    """A position file that does not fit its event log."""


class Watermark:
    """The position of a load: lines come in order as read, acknowledgements in any order.

    >>> mark = Watermark(Position(10, 500))
    >>> mark.read(end=540, event_id="a")  # line 11
    >>> mark.read(end=560, event_id=None)  # line 12: invalid, never sent
    >>> mark.read(end=600, event_id="b")  # line 13
    >>> mark.acknowledged(["b"]); mark.position  # line 11 still pending
    Position(line=10, offset=500)
    >>> mark.acknowledged(["a"]); mark.position
    Position(line=13, offset=600)
    """

    def __init__(self, start: Position = FILE_START) -> None:
        self._position = start
        self._line = start.line
        #: Lines read and not yet passed, in file order: (line, end offset).
        self._waiting: deque[tuple[int, int]] = deque()
        #: The pending lines of each event id, oldest first (a log may repeat an id: its
        #: copies are matched oldest first, being one event to the worker).
        self._pending: dict[str, deque[int]] = {}
        self._done: set[int] = set()

    @property
    def position(self) -> Position:
        return self._position

    def read(self, *, end: int, event_id: str | None) -> None:
        """The next line, ending at byte ``end``; ``event_id`` ``None``: nothing to send."""
        self._line += 1
        self._waiting.append((self._line, end))
        if event_id is None:
            self._done.add(self._line)
            self._advance()
        else:
            self._pending.setdefault(event_id, deque()).append(self._line)

    def acknowledged(self, event_ids: list[str]) -> None:
        """The broker took the records holding ``event_ids``."""
        for event_id in event_ids:
            lines = self._pending.get(event_id)
            if not lines:
                continue  # not one of this load's lines (or already acknowledged)
            self._done.add(lines.popleft())
            if not lines:
                del self._pending[event_id]
        self._advance()

    def _advance(self) -> None:
        waiting, done = self._waiting, self._done
        while waiting and waiting[0][0] in done:
            line, end = waiting.popleft()
            done.discard(line)
            self._position = Position(line, end)


def default_path(log: Path) -> Path:
    """``events.jsonl`` -> ``events.jsonl.backfill-position``, beside the log."""
    return log.with_name(log.name + POSITION_SUFFIX)


def encode(position: Position, log: Path) -> bytes:
    """The file's content; the log's name is there for people, not checked.

    >>> encode(Position(3, 120), Path("/data/h.jsonl"))
    b'{"line":3,"offset":120,"file":"h.jsonl"}\\n'
    """
    document = {"line": position.line, "offset": position.offset, "file": log.name}
    return orjson.dumps(document) + b"\n"


def decode(raw: bytes) -> Position:
    """The position a file holds; ``BadPosition`` if it holds none.

    >>> decode(b'{"line": 3, "offset": 120}')
    Position(line=3, offset=120)
    >>> decode(b'{"line": -1, "offset": 0}')
    Traceback (most recent call last):
    ...
    stream_app.producers.position.BadPosition: not a position: {"line": -1, "offset": 0}
    """
    try:
        document = orjson.loads(raw)
        line, offset = document["line"], document["offset"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        line = offset = None
    if not (type(line) is int and type(offset) is int and 0 <= line <= offset):
        raise BadPosition(f"not a position: {raw[:200].decode(errors='replace')}")
    return Position(line, offset)


def save(path: Path, position: Position, log: Path) -> None:
    """Replace the position file atomically, and durably (fsync before the rename)."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(encode(position, log))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def load(path: Path, log: Path) -> Position:
    """The saved position, checked against the log: within it, at the start of a line."""
    position = decode(path.read_bytes())
    with log.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        if position.offset > size:
            raise BadPosition(f"{path}: offset {position.offset} is past the end of {log}")
        if position.offset > 0:
            file.seek(position.offset - 1)
            if file.read(1) != b"\n" and position.offset != size:
                raise BadPosition(f"{path}: offset {position.offset} is not a line start")
    return position
