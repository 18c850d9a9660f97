"""HTTP API over the engine's Redis state (FastAPI): profiles, segments, decisions, lift,
erasure; API keys with scopes and rate limits; 503 fast when Redis is unavailable.

``create_app`` is imported on first use, so the CLI's key commands do not load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream_app.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from stream_app.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
