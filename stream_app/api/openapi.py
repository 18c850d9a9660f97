"""The published OpenAPI spec (``docs/openapi.json``), rendered byte-stable."""

from __future__ import annotations

from typing import Any

import orjson

from stream_app.api.app import create_app
from stream_app.settings import Settings


def openapi_spec(settings: Settings) -> dict[str, Any]:
    """The spec of an app configured by ``settings`` (no server is contacted)."""
    # Rendering checks no key, so the development pepper is fine here.
    return create_app(settings.updated(secrets={"allow_dev_secret": True})).openapi()


def render(spec: dict[str, Any]) -> bytes:
    """Indented, keys sorted, newline-terminated: diffs stay readable."""
    return orjson.dumps(spec, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
