"""JSON Schema documents for every topic, generated from the pydantic contracts.

``schemas/`` in the repository holds the output of ``stream-app schemas write``;
a test fails when the files and the models drift apart.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_app.events.deadletter import DeadLetter
from stream_app.events.decision import Decision
from stream_app.events.labels import Labels
from stream_app.events.late import LateEvent
from stream_app.events.limits import DecodeLimits
from stream_app.events.registry import Stream, record_schema
from stream_app.events.segment import SegmentChange
from stream_app.events.topics import TopicNames

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def topic_schemas(
    limits: DecodeLimits, topics: TopicNames | None = None
) -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per topic (``<topic>.schema.json``); inbound topics
    state the bounds ``limits`` sets (the worker's, so both agree)."""
    topics = topics or TopicNames()
    by_topic: dict[str, dict[str, Any]] = {
        getattr(topics, stream.value): record_schema(stream, limits) for stream in Stream
    }
    by_topic[topics.decisions] = Decision.model_json_schema()
    by_topic[topics.audit] = Decision.model_json_schema()  # holdout decisions, never sent
    by_topic[topics.segments] = SegmentChange.model_json_schema()
    by_topic[topics.deadletter] = DeadLetter.model_json_schema()
    by_topic[topics.late] = LateEvent.model_json_schema()
    by_topic[topics.labels] = Labels.model_json_schema()
    return {
        f"{topic}.schema.json": {"$schema": SCHEMA_DIALECT, "$id": topic, **schema}
        for topic, schema in by_topic.items()
    }


def render(schema: dict[str, Any]) -> bytes:
    """Stable, diff-friendly bytes of a schema file."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
