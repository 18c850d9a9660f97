"""Authorization matrix: every route of the app x every kind of key -> the expected status.

Parametrized over the app's own route list, so a route added without auth (or
without a sample below) fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from redis.asyncio import Redis

from stream_app.api import create_app
from stream_app.api.scopes import Scope
from stream_app.api.tokens import Credentials, format_token, parse_token
from stream_app.settings import Settings
from tests.integration.api_support import client, customer, key_store, new_key, seed_profile

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
#: Deliberately public: probes, the spec and its viewers (the spec is published anyway), and
#: the dashboard and customer view pages (they hold no data: they fetch with a key).
PUBLIC = {
    "/health",
    "/ready",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/dashboard",
    "/customer",
}
#: What a support key may read: one customer's view and decisions.
SUPPORTED = {"/v1/customers/{customer_id}/view", "/v1/customers/{customer_id}/decisions"}
SEEDED = customer("authz")
#: A value for each path parameter the routes use; a new parameter needs one here.
SAMPLES = {"customer_id": SEEDED, "name": "vip"}
BODIES: dict[tuple[str, str], Any] = {("POST", "/v1/profiles/batch"): {"ids": [SEEDED]}}
#: key kind -> expected status class (the required scope decides "right" and "under").
CASES = {
    "missing": 401,
    "malformed": 401,
    "wrong secret": 401,
    "revoked": 401,
    "under-scoped": 403,
    "right scope": 200,
    "admin": 200,
}


def _routes() -> list[tuple[str, str]]:
    app = create_app(Settings(secrets={"allow_dev_secret": True}))
    found = []
    for route in iter_route_contexts(app.routes):  # flattens included routers
        assert route.path is not None, route
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, route.path))
    return found


ROUTES = _routes()
PROTECTED = [(m, p) for m, p in ROUTES if p not in PUBLIC]


def required_scopes(app: FastAPI, method: str, path: str) -> frozenset[Scope]:
    """The scopes that let a key in (alternatives: any one suffices)."""
    operation = app.openapi()["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {path} is not in the spec"
    requirements = operation.get("security")
    assert requirements, f"{method} {path} declares no API key scope"
    [scopes] = {tuple(scopes) for requirement in requirements for scopes in requirement.values()}
    assert scopes, f"{method} {path} names no scope"
    return frozenset(Scope(scope) for scope in scopes)


def all_but(scopes: frozenset[Scope]) -> str:
    return "all but " + " ".join(sorted(scopes))


@dataclass(frozen=True)
class Api:
    app: FastAPI
    tokens: dict[str, str]


@pytest.fixture(scope="module")
async def api(settings: Settings) -> AsyncIterator[Api]:
    redis = Redis.from_url(settings.redis.url)
    await seed_profile(redis, settings, SEEDED, NOW)
    tokens = {scope.value: await new_key(redis, settings, scope, now=NOW) for scope in Scope}
    app = create_app(settings, redis=redis)
    for needed in {required_scopes(app, m, p) for m, p in PROTECTED}:
        others = [s for s in Scope if s not in needed and s != Scope.ADMIN]
        tokens[all_but(needed)] = await new_key(redis, settings, *others, now=NOW)
    revoked = await new_key(redis, settings, Scope.ADMIN, now=NOW)
    parsed = parse_token(revoked)
    assert parsed is not None
    await key_store(redis, settings).revoke(parsed.key_id, NOW)
    tokens["revoked"] = revoked
    admin = parse_token(tokens[Scope.ADMIN])
    assert admin is not None
    tokens["wrong secret"] = format_token(Credentials(admin.key_id, "x" * 43))
    yield Api(app, tokens)
    await redis.aclose()


def tokens_for(api: Api, case: str, scopes: frozenset[Scope]) -> list[str | None]:
    """The keys of a case: for "right scope", one key per scope that lets a key in."""
    return {
        "missing": [None],
        "malformed": ["sak_not-a-key"],
        "wrong secret": [api.tokens["wrong secret"]],
        "revoked": [api.tokens["revoked"]],
        "under-scoped": [api.tokens[all_but(scopes)]],
        "right scope": [api.tokens[scope.value] for scope in sorted(scopes)],
        "admin": [api.tokens[Scope.ADMIN]],
    }[case]


def test_every_route_is_known() -> None:
    assert {p for _, p in ROUTES} >= {"/health", "/ready", "/dashboard", "/v1/dashboard"}
    assert len(PROTECTED) >= 8


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize("case", list(CASES))
async def test_authorization_matrix(api: Api, method: str, path: str, case: str) -> None:
    for token in tokens_for(api, case, required_scopes(api.app, method, path)):
        await _expect(api, method, path, token, CASES[case], case)


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_a_support_key_reads_one_customer_and_nothing_in_bulk(
    api: Api, method: str, path: str
) -> None:
    """Refused (403) everywhere but a customer's view and decisions: no profile batch,
    no segment members, no reports, no dashboard, no erasure."""
    allowed = Scope.SUPPORT in required_scopes(api.app, method, path)
    assert allowed == (path in SUPPORTED)
    expected = 200 if allowed else 403
    await _expect(api, method, path, api.tokens[Scope.SUPPORT], expected, "support")


async def _expect(
    api: Api, method: str, path: str, token: str | None, expected: int, case: str
) -> None:
    values = dict(SAMPLES)
    if method == "DELETE":
        values["customer_id"] = customer("authz-erase")  # keep the seeded one for the reads
    url = path.format(**values)
    async with client(api.app, token) as http:
        answer = await http.request(method, url, json=BODIES.get((method, path)))
    if expected == 200:
        assert 200 <= answer.status_code < 300, (case, answer.status_code, answer.text)
    else:
        assert answer.status_code == expected, (case, answer.text)
    if expected == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    if expected >= 400:
        assert set(answer.json()) == {"detail"}


@pytest.mark.parametrize("path", sorted(PUBLIC))
async def test_public_routes_answer_without_a_key(api: Api, path: str) -> None:
    async with client(api.app) as http:
        answer = await http.get(path)
    assert answer.status_code == 200, answer.text
