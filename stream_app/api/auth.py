"""Authentication, rate limiting and scope checks: one dependency, ``authorize``.

Order matters: the token is parsed without I/O (malformed -> 401), the key is
looked up (unknown, wrong secret or revoked -> 401), its rate limit counted
(-> 429), and its scopes checked (-> 403) before the endpoint runs, so a key
without the scope learns nothing about the data, not even whether an id exists.
An endpoint's scopes are alternatives: any one of them lets a key in (e.g. a
customer's decisions: ``decisions:read`` or ``support``).
Keys come as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from stream_app.api.api_key_store import ApiKey
from stream_app.api.deps import Context
from stream_app.api.errors import AUTH_RESPONSES, REALM
from stream_app.api.scopes import Scope, grants
from stream_app.api.tokens import parse_token

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="sak_<key id>_<secret>",
    description="An API key (`stream-app api-key create`) as a Bearer token.",
)
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in a header of its own.",
)


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


async def authorize(
    security_scopes: SecurityScopes,
    request: Request,
    context: Context,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> ApiKey:
    """The request's API key, if it may call an endpoint needing ``security_scopes``."""
    token = authorization.credentials if authorization is not None else header_key
    if not token:
        raise _unauthorized("API key required")
    credentials = parse_token(token)
    if credentials is None:
        raise _unauthorized("invalid API key", "invalid_token")
    key = await context.guard.call(lambda: context.api_keys.authenticate(credentials))
    if key is None:
        raise _unauthorized("invalid API key", "invalid_token")
    request.state.key_id = key.key_id
    wait = await context.guard.call(lambda: context.limiter.hit(key.key_id, key.rate_per_minute))
    if wait is not None:
        raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(wait)})
    needed = security_scopes.scopes
    if needed and not any(grants(key.scopes, Scope(name)) for name in needed):
        raise HTTPException(403, "API key lacks the scope for this endpoint")
    return key


def scoped_router(prefix: str, tag: str, scope: Scope) -> APIRouter:
    """A router under ``prefix`` whose every endpoint needs ``scope`` (and may answer
    401/403/429 as ``AUTH_RESPONSES`` documents)."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        dependencies=[Security(authorize, scopes=[scope])],
        responses=AUTH_RESPONSES,
    )
