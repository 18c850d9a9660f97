"""One contract: the published JSON Schemas and the worker's decoder agree on every
sample of the corpus, and both agree with its label (``bench.contracts``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.contracts import CORPUS_NOW, disagreements, load_corpus
from stream_app.events.registry import Stream
from stream_app.events.schemas import render, topic_schemas
from stream_app.settings import WorkerSettings

NOW = CORPUS_NOW


def test_schema_and_decoder_agree_on_every_sample() -> None:
    found = disagreements(load_corpus(), WorkerSettings().decode_limits(), NOW)
    assert not found, "\n".join(str(d) for d in found)


def test_corpus_covers_every_inbound_stream_both_ways() -> None:
    samples = load_corpus()
    for valid in (True, False):
        assert {s.stream for s in samples if s.valid is valid} == set(Stream), valid


def test_lower_limits_move_schema_and_decoder_together(tmp_path: Path) -> None:
    """Limits are settings: schemas written for a deployment state the worker's bounds."""
    limits = replace(WorkerSettings().decode_limits(), max_order_lines=3, max_line_quantity=9)
    for name, schema in topic_schemas(limits).items():
        (tmp_path / name).write_bytes(render(schema))
    found = {d.name: d for d in disagreements(load_corpus(), limits, NOW, tmp_path)}
    assert set(found) == {
        "purchase: quantity 1,000,000",
        "purchase: 5,000 lines",
        "clickstream: add_to_cart of 1,000,000",
    }
    assert not any(d.schema_accepts or d.decoder_accepts for d in found.values())
