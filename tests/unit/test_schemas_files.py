"""The committed JSON Schemas must match the models (run `stream-app schemas write`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_app.events.schemas import render, topic_schemas
from stream_app.events.topics import TopicNames
from stream_app.settings import WorkerSettings

LIMITS = WorkerSettings().decode_limits()
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize(("name", "schema"), sorted(topic_schemas(LIMITS).items()))
def test_schema_file_matches_models(name: str, schema: dict[str, object]) -> None:
    path = SCHEMAS / name
    assert path.is_file(), f"missing {path}: run `stream-app schemas write`"
    assert path.read_bytes() == render(schema), f"{name} drifted: run `stream-app schemas write`"


def test_every_topic_has_a_schema() -> None:
    assert {f"{t}.schema.json" for t in TopicNames().all()} == set(topic_schemas(LIMITS))


def test_envelope_is_part_of_the_inbound_contract() -> None:
    clickstream = topic_schemas(LIMITS)["events.clickstream.schema.json"]
    assert "Envelope" in str(clickstream)
    assert clickstream["$defs"]["AddToCart"]["additionalProperties"] is False
