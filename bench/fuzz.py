"""Fuzzing the decoders at scale (outside CI): many more inputs than the unit tests try.

Hypothesis drives three kinds of input into ``decode_record`` for every stream:
raw bytes, arbitrary JSON values, and valid events broken one field at a time
(the strategies of tests/unit/test_bad_input.py). Every input must come out as
events or rejections with a reason; an exception fails the run. The number of
inputs tried is written to bench/results/latest.json (``fuzz.inputs``).

    python -m bench.fuzz [--inputs 20000]   # ~200 inputs/s on 2 cores
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import merge_results
from stream_app.events.registry import Stream
from tests.unit.test_bad_input import json_values, outcomes, valid_events


@st.composite
def records(draw: st.DrawFn) -> tuple[Stream, bytes]:
    """Bytes, a JSON value, a valid event or an envelope of valid and junk members."""
    kind = draw(st.sampled_from(["bytes", "json", "event", "envelope"]))
    if kind == "bytes":
        return draw(st.sampled_from(list(Stream))), draw(st.binary(max_size=2000))
    if kind == "json":
        return draw(st.sampled_from(list(Stream))), orjson.dumps(draw(json_values))
    if kind == "event":
        stream, payload = draw(valid_events())
        return stream, orjson.dumps(payload)
    members: list[Any] = draw(
        st.lists(valid_events().map(lambda c: c[1]) | json_values, min_size=1, max_size=10)
    )
    return draw(st.sampled_from(list(Stream))), orjson.dumps({"events": members})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    tried = 0

    @settings(
        max_examples=args.inputs,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(records())
    def fuzz(record: tuple[Stream, bytes]) -> None:
        nonlocal tried
        tried += 1
        assert outcomes(*record) >= 1

    started = time.perf_counter()
    fuzz()
    elapsed = time.perf_counter() - started
    figures = {"fuzz.inputs": tried, "fuzz.seconds": round(elapsed, 1), "fuzz.failures": 0}
    for key, value in figures.items():
        print(f"{key:24s} {value}")
    if not args.no_write:
        merge_results(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
