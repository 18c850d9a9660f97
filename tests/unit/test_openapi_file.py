"""The committed OpenAPI spec must match the app (run `stream-app api openapi`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from stream_app.api import create_app
from stream_app.api.openapi import openapi_spec, render
from stream_app.settings import DEV_API_KEY_PEPPER, Settings

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_published_spec_matches_the_app() -> None:
    assert SPEC.is_file(), f"missing {SPEC}: run `stream-app api openapi`"
    current = render(openapi_spec(Settings()))
    assert SPEC.read_bytes() == current, "docs/openapi.json drifted: run `stream-app api openapi`"


def test_spec_documents_503_and_auth_for_every_v1_operation() -> None:
    spec = openapi_spec(Settings())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in ("/health",):
                continue
            assert "503" in operation["responses"], (method, path)
            assert "Retry-After" in operation["responses"]["503"]["headers"]
            if path.startswith("/v1/"):
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
                assert operation["security"], (method, path)


def test_the_app_refuses_the_development_pepper() -> None:
    with pytest.raises(ValueError, match="STREAM_APP_SECRETS__API_KEY_PEPPER"):
        create_app(
            Settings(
                secrets={"allow_dev_secret": False, "api_key_pepper": SecretStr(DEV_API_KEY_PEPPER)}
            )
        )
