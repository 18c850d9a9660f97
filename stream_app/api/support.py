"""Support keys look customers up one at a time: each lookup is also counted against a
limit of its own (``STREAM_APP_API__SUPPORT_LOOKUPS_PER_MINUTE``, far below a key's
request rate), so a support key cannot page through the customer base by guessing ids.
"""

from __future__ import annotations

from fastapi import HTTPException

from stream_app.api.api_key_store import ApiKey
from stream_app.api.deps import ApiContext
from stream_app.api.scopes import Scope


def counts_lookups(key: ApiKey) -> bool:
    """Whether ``key``'s customer lookups are limited: support keys, admins excepted.

    >>> from datetime import UTC, datetime
    >>> def key(*scopes: Scope) -> ApiKey:
    ...     return ApiKey("k", "n", frozenset(scopes), 60, datetime(2026, 1, 1, tzinfo=UTC))
    >>> counts_lookups(key(Scope.SUPPORT)), counts_lookups(key(Scope.SUPPORT, Scope.ADMIN))
    (True, False)
    >>> counts_lookups(key(Scope.DECISIONS_READ))
    False
    """
    return Scope.SUPPORT in key.scopes and Scope.ADMIN not in key.scopes


async def count_lookup(context: ApiContext, key: ApiKey) -> None:
    """Count one customer lookup of ``key``; 429 with ``Retry-After`` past its limit."""
    if not counts_lookups(key):
        return
    limit = context.settings.api.support_lookups_per_minute
    wait = await context.guard.call(lambda: context.limiter.hit(f"lookup-{key.key_id}", limit))
    if wait is not None:
        raise HTTPException(
            429, "customer lookup limit exceeded", headers={"Retry-After": str(wait)}
        )
