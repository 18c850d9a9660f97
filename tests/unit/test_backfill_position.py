"""The resumable position of ``stream-app backfill``: the low-water mark over acknowledged
lines, its file, and a load against a fake Kafka that refuses a topic, then resumed."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stream_app.cli.main import app
from stream_app.producers import position as positions
from stream_app.producers import producer as producer_module
from stream_app.producers import replay as replay_module
from stream_app.producers.backfill import backfill_file, envelope_size, start_of
from stream_app.producers.position import FILE_START, BadPosition, Position, Watermark
from stream_app.producers.producer import DeliveryError
from stream_app.settings import Settings
from tests.unit.fixtures import FakeKafkaProducer, event


def test_the_mark_passes_a_line_only_when_every_line_before_it_is_acknowledged() -> None:
    mark = Watermark()
    for n in range(1, 6):
        mark.read(end=10 * n, event_id=f"e{n}")
    mark.acknowledged(["e2", "e3", "e5"])
    assert mark.position == FILE_START
    mark.acknowledged(["e1"])
    assert mark.position == Position(3, 30)
    mark.acknowledged(["e4", "unknown"])
    assert mark.position == Position(5, 50)


def test_invalid_lines_pass_with_their_neighbours_and_a_repeated_id_counts_twice() -> None:
    mark = Watermark(Position(100, 4000))
    mark.read(end=4010, event_id=None)
    assert mark.position == Position(101, 4010)
    mark.read(end=4020, event_id="same")
    mark.read(end=4030, event_id=None)
    mark.read(end=4040, event_id="same")
    mark.acknowledged(["same"])
    assert mark.position == Position(103, 4030), "the second line of that id is pending"
    mark.acknowledged(["same"])
    assert mark.position == Position(104, 4040)


def test_the_file_is_replaced_whole_and_read_back(tmp_path: Path) -> None:
    log = tmp_path / "history.jsonl"
    log.write_bytes(b"a\nbb\nccc")  # no line end after the last line
    where = positions.default_path(log)
    assert where.name == "history.jsonl.backfill-position"
    for position in (Position(2, 5), Position(3, 8), FILE_START):
        positions.save(where, position, log)
        assert positions.load(where, log) == position
    assert {p.name for p in tmp_path.iterdir()} == {log.name, where.name}, "no temporary left"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"line": 1, "offset": 3}', "not a line start"),
        (b'{"line": 2, "offset": 99}', "past the end"),
        (b"{}", "not a position"),
        (b'{"line": 5, "offset": 2}', "not a position"),
        (b'{"line": "1", "offset": 2}', "not a position"),
        (b"garbage", "not a position"),
    ],
)
def test_a_position_that_does_not_fit_its_log_is_refused(
    tmp_path: Path, raw: bytes, problem: str
) -> None:
    log = tmp_path / "history.jsonl"
    log.write_bytes(b"a\nbb\nccc\n")
    where = tmp_path / "pos"
    where.write_bytes(raw)
    with pytest.raises(BadPosition, match=problem):
        positions.load(where, log)


def test_a_load_starts_at_the_saved_position_only_when_resumed(tmp_path: Path) -> None:
    log = tmp_path / "h.jsonl"
    log.write_bytes(b"a\nbb\n")
    where = tmp_path / "pos"
    assert start_of(log, where, resume=True) == FILE_START  # nothing saved yet
    positions.save(where, Position(1, 2), log)
    assert start_of(log, where, resume=True) == Position(1, 2)
    assert start_of(log, where, resume=False) == FILE_START


def test_the_default_envelope_fits_the_worker() -> None:
    assert envelope_size(Settings(), None) == 50
    assert envelope_size(Settings(), 7) == 7
    assert envelope_size(Settings().updated(worker={"max_events_per_record": 20}), None) == 20


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> type[FakeKafkaProducer]:
    async def no_admin(settings: Settings) -> None:
        pass

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeKafkaProducer)
    monkeypatch.setattr(replay_module, "ensure_topics", no_admin)
    return FakeKafkaProducer


def sent_ids(fake: FakeKafkaProducer) -> list[str]:
    out = []
    for _, _, value in fake.sent:
        document = orjson.loads(value)
        out += [m["event_id"] for m in document.get("events", [document])]
    return out


async def test_a_load_stopped_by_a_refusal_resumes_without_losing_a_line(
    fake_kafka: type[FakeKafkaProducer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings()
    lines = [event("app_open", event_id=f"a{n}", customer_id=f"c{n % 3}") for n in range(40)]
    lines[25] = event("consent", event_id="refused", channel="push", opted_in=True)
    raw = [orjson.dumps(line) + b"\n" for line in lines]
    raw[30] = b"not json\n"  # line 31
    log = tmp_path / "h.jsonl"
    log.write_bytes(b"".join(raw))
    where = positions.default_path(log)

    monkeypatch.setattr(fake_kafka, "refuse", frozenset({settings.topics.identity}))
    with pytest.raises(DeliveryError):
        await backfill_file(settings, log, where, envelope_size=5)
    stopped = positions.load(where, log)
    assert stopped.line <= 25, "never past the refused line"
    assert stopped.offset == sum(map(len, raw[: stopped.line]))
    first = set(sent_ids(fake_kafka.last))
    assert {f"a{n}" for n in range(stopped.line)} <= first

    monkeypatch.setattr(fake_kafka, "refuse", frozenset())
    stats = await backfill_file(settings, log, where, start=stopped, envelope_size=5)
    second = sent_ids(fake_kafka.last)
    assert len(second) == len(set(second)) == 39 - stopped.line, "from the position on"
    assert first | set(second) == {line["event_id"] for n, line in enumerate(lines) if n != 30}
    assert [bad.number for bad in stats.invalid_lines] == [31]
    assert stats.lines == 40 - stopped.line
    assert positions.load(where, log) == stats.position == Position(40, log.stat().st_size)


def test_the_command_refuses_a_position_that_does_not_fit_before_sending(tmp_path: Path) -> None:
    log = tmp_path / "h.jsonl"
    log.write_bytes(b"a\nbb\n")
    (tmp_path / "pos").write_bytes(b'{"line": 1, "offset": 4}')
    result = CliRunner().invoke(
        app, ["backfill", str(log), "--resume", "--position", str(tmp_path / "pos")]
    )
    assert result.exit_code == 2, result.output
    assert "not a line start" in result.output
