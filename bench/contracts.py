"""Do the published JSON Schemas and the worker's decoder state one contract?

A corpus of records, each labelled valid or invalid for its stream, runs through a
JSON Schema validator (``schemas/``) and through the worker's decoder; every record
on which either disagrees with its label (and so possibly with the other) is a
disagreement, reported as ``commerce.schema_disagreements``.

Corpus format (``tests/contracts/corpus.jsonl``), one sample a line::

    {"name": ..., "stream": "purchase", "valid": true, "record": {...}}

with an optional ``"repeat": [field, n]``: the record's ``field`` list becomes its first
member ``n`` times (orders of 5,000 lines without a megabyte of corpus).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from stream_app.events.decode import Decoder
from stream_app.events.limits import DecodeLimits
from stream_app.events.registry import Stream
from stream_app.events.topics import TopicNames

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "contracts" / "corpus.jsonl"
#: The decoder's clock for the corpus: its event times are an hour before this.
CORPUS_NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SCHEMAS = ROOT / "schemas"


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled record of the corpus."""

    name: str
    stream: Stream
    valid: bool
    record: Any


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A sample on which the schema or the decoder differs from its label."""

    name: str
    valid: bool
    schema_accepts: bool
    decoder_accepts: bool

    def __str__(self) -> str:
        return (
            f"{self.name}: labelled {'valid' if self.valid else 'invalid'}, schema "
            f"{'accepts' if self.schema_accepts else 'rejects'}, decoder "
            f"{'accepts' if self.decoder_accepts else 'rejects'}"
        )


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    """The samples of a corpus file (blank lines skipped; split on ``\\n`` only, as
    ``splitlines`` would also split inside a sample at U+0085 or U+2028)."""
    samples = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        raw = json.loads(line)
        record = raw["record"]
        if "repeat" in raw:
            field, times = raw["repeat"]
            record = {**record, field: record[field][:1] * times}
        samples.append(Sample(raw["name"], Stream(raw["stream"]), raw["valid"], record))
    return samples


def _ecma_pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterable[Any]:
    """``pattern`` as JSON Schema defines it (ECMA-262): a final ``$`` is the end of the
    text, while Python's ``re`` also lets it match before a trailing newline."""
    if not validator.is_type(instance, "string"):
        return
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if not re.search(anchored, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = extend(Draft202012Validator, {"pattern": _ecma_pattern})


def schema_validators(schemas: Path = SCHEMAS) -> dict[Stream, Validator]:
    """One validator per inbound stream, from the published schema files."""
    topics = TopicNames()
    return {
        stream: EcmaValidator(
            json.loads((schemas / f"{getattr(topics, stream.value)}.schema.json").read_text())
        )
        for stream in Stream
    }


def disagreements(
    samples: Iterable[Sample], limits: DecodeLimits, now: datetime, schemas: Path = SCHEMAS
) -> list[Disagreement]:
    """The samples on which the schema or the decoder (as of ``now``) contradicts the label."""
    validators = schema_validators(schemas)
    decoder = Decoder(limits, now)
    found = []
    for sample in samples:
        schema_accepts = validators[sample.stream].is_valid(sample.record)
        decoded = decoder.decode(sample.stream, orjson.dumps(sample.record))
        decoder_accepts = not decoded.rejections
        if not schema_accepts == decoder_accepts == sample.valid:
            found.append(Disagreement(sample.name, sample.valid, schema_accepts, decoder_accepts))
    return found
