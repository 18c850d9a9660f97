"""``stream-app backfill``'s resumable position against the real servers and worker: a load
of a year's history interrupted midway (as Ctrl-C does: its task cancelled) leaves a
position no further than what the broker acknowledged; resumed from it, every event
reaches the topics and the worker applies each once (what was sent twice is a
duplicate), and the position ends at the end of the file. The command, stopped by
SIGTERM, saves its position too."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.producers import position as positions
from stream_app.producers import replay as replay_module
from stream_app.producers.backfill import backfill_file, start_of
from stream_app.producers.replay import ReplayStats
from stream_app.settings import Settings
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import isolated, read_to_end
from tests.integration.test_backfill import year_of
from tests.integration.test_replay import payload
from tests.oracle.redis_view import stats

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    mine, _ = isolated(settings, "bfc", tmp_path_factory.mktemp("faust-backfill-command"))
    return mine.updated(metrics={"port": free_port()})


async def sent_ids(own: Settings) -> Counter[str]:
    """Event ids on the inbound topics, as many times as they were sent."""
    found: Counter[str] = Counter()
    for record in await read_to_end(own, own.topics.inbound()):
        document = payload(record)
        found.update(member["event_id"] for member in document.get("events", [document]))
    return found


def pausing(at: int) -> Callable[[Path, int], AsyncGenerator[tuple[list[bytes], int], None]]:
    """``replay._read_lines`` that pauses once, half a second, after byte ``at``."""
    read_lines = replay_module._read_lines

    async def read(path: Path, start: int) -> AsyncGenerator[tuple[list[bytes], int], None]:
        offset = start
        async with aclosing(read_lines(path, start)) as blocks:
            async for lines, eol in blocks:
                yield lines, eol
                before, offset = offset, offset + sum(len(line) + eol for line in lines)
                if before < at <= offset:
                    await asyncio.sleep(0.5)

    return read


async def run_command(own: Settings, log: Path, *options: str, within: float) -> str:
    """``stream-app backfill LOG *options`` run to its end (no terminal); its output."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stream_app", "backfill", str(log), *options,
        env={**os.environ, **own.to_env()}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(command.communicate(), within)
    assert command.returncode == 0, out
    return out.decode()


async def test_an_interrupted_backfill_resumes_and_every_event_is_applied_once(
    own: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(1617)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    customers = [f"bfc-{n}-{uuid.uuid4().hex[:6]}" for n in range(8)]
    history = sorted(
        (e for cid in customers for e in year_of(cid, end, rng)), key=lambda e: e["event_time"]
    )
    lines = [orjson.dumps(e) + b"\n" for e in history]
    lines.insert(100, b"not json\n")  # line 101: counted, never sent
    log = tmp_path / "history.jsonl"
    log.write_bytes(b"".join(lines))
    size = log.stat().st_size
    where = positions.default_path(log)
    # Halfway through the file, reading pauses long enough for what was sent to be
    # acknowledged (a real history is large: acknowledgements come in while it is
    # read); the load is interrupted at its next progress report.
    monkeypatch.setattr(replay_module, "READ_BLOCK_BYTES", 2048)
    monkeypatch.setattr(replay_module, "_read_lines", pausing(size // 2))
    monkeypatch.setattr(replay_module, "CHECK_EVERY_LINES", 16)  # progress every 16 lines
    monkeypatch.setattr(replay_module, "PROGRESS_EVERY_S", 0.0)
    await ensure_topics(own)

    def interrupt(progress: ReplayStats) -> None:
        if progress.offset >= size // 2 and progress.position.line > 0:
            task.cancel()

    task = asyncio.create_task(
        backfill_file(own, log, where, envelope_size=10, on_progress=interrupt)
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    stopped = start_of(log, where, resume=True)
    assert 0 < stopped.line < len(lines), stopped
    assert stopped.offset == sum(map(len, lines[: stopped.line]))
    first = await sent_ids(own)
    before = {
        orjson.loads(line)["event_id"] for line in lines[: stopped.line] if line[0] == ord("{")
    }
    assert before <= set(first), "the position never passes an unacknowledged line"
    assert len(first) < len(history), "interrupted: some events were not sent"

    resumed = await backfill_file(own, log, where, start=stopped, envelope_size=10)
    assert resumed.lines == len(lines) - stopped.line
    assert [bad.number for bad in resumed.invalid_lines] == ([101] if stopped.line < 101 else [])
    assert positions.load(where, log) == resumed.position == positions.Position(len(lines), size)
    both = await sent_ids(own)
    assert set(both) == {e["event_id"] for e in history}
    resent = both.total() - len(history)
    assert resent == len(set(first) - before), "sent twice: only what went past the position"

    with worker_process(own, ARTIFACTS / "logs", name="backfill-command") as process:
        # Resumed once more, the load sends nothing and ``--wait`` returns once the
        # worker has applied everything: the counters are final when it does.
        waited = await run_command(own, log, "--resume", "--wait", within=120.0)
        assert "done: 0 events in 0 records" in waited
        assert "applied: the worker caught up with " in waited, waited
        counted = await stats(redis, own.redis.key_prefix)
        assert counted.get("events_backfilled", 0) == both.total(), counted
        assert counted.get("events_applied", 0) == len(history), sorted(counted.items())
        assert counted.get("events_duplicate", 0) == resent, sorted(counted.items())
        assert not [k for k in counted if k.startswith(("decisions", "dead_letters"))], counted
        assert process.running, process.log_tail()


async def test_the_command_saves_its_position_on_sigterm_and_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    """The command itself, as a shop runs it (no terminal: plain lines): stopped by
    SIGTERM it saves its position and says so; ``--resume`` sends the rest."""
    own, _ = isolated(settings, "bfs")
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    rng = random.Random(1618)
    history = [e for n in range(40) for e in year_of(f"bfs-{n}-{uuid.uuid4().hex[:6]}", end, rng)]
    log = tmp_path / "history.jsonl"
    # Loaded 20 times over (the worker would apply it once): long enough to be stopped
    # after its first saved position (about a second in).
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in history) * 20)
    lines = 20 * len(history)
    where = positions.default_path(log)
    env = {**os.environ, **own.to_env()}
    command = [sys.executable, "-m", "stream_app", "backfill", str(log)]

    first = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    while not (where.exists() and positions.decode(where.read_bytes()).line > 0):
        assert first.returncode is None, "still running"
        await asyncio.sleep(0.005)
    first.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 130, out
    stopped = positions.load(where, log)
    assert 0 < stopped.line < lines, stopped
    assert f"interrupted: position saved (line {stopped.line}, byte {stopped.offset})" in (
        out.decode()
    )

    text = await run_command(own, log, "--resume", within=120.0)
    assert f"from line {stopped.line + 1}, envelopes of up to 50 events" in text
    assert f"position: line {lines}, byte {log.stat().st_size}" in text
    assert set(await sent_ids(own)) == {e["event_id"] for e in history}
