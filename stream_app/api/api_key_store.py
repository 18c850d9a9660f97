"""API keys in Redis: one hash per key (``Keys.api_key``) plus an index set.

A record keeps the HMAC of the secret (never the secret), a name for people,
the scopes, the key's rate limit and when it was created and revoked. Revoking
keeps the record, so ``stream-app api-key list`` still shows who had access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stream_app.api.scopes import Scope, parse_scopes
from stream_app.api.tokens import (
    Credentials,
    format_token,
    hash_secret,
    new_credentials,
    verify_secret,
)
from stream_app.clock import from_ms, to_ms
from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.layout import Keys, api_key_scopes, parse_api_key_scopes


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (without its secret)."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    rate_per_minute: int
    created_at: datetime
    revoked_at: datetime | None = None
    secret_hash: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyStore:
    def __init__(self, client: RedisClient, keys: Keys, pepper: bytes) -> None:
        self._client = client
        self._keys = keys
        self._pepper = pepper

    async def create(
        self, name: str, scopes: Iterable[Scope], rate_per_minute: int, now: datetime
    ) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the secret exists outside a client)."""
        if not name.strip() or len(name) > 64:
            raise ValueError("a key name has 1 to 64 characters")
        if rate_per_minute < 1:
            raise ValueError("the rate limit is at least 1 request per minute")
        granted = frozenset(scopes)
        if not granted:
            raise ValueError("a key needs at least one scope")
        credentials = new_credentials()
        while await self._client.exists(self._keys.api_key(credentials.key_id)):
            credentials = new_credentials()  # 64-bit ids: practically never
        key = ApiKey(
            key_id=credentials.key_id,
            name=name,
            scopes=granted,
            rate_per_minute=rate_per_minute,
            created_at=from_ms(to_ms(now)),
            secret_hash=hash_secret(credentials.secret, self._pepper),
        )
        # The record, then the index: atomic on one Redis; on a cluster they sit in two
        # slots (a crash between leaves a record `api-key list` does not show).
        pipe = self._client.pipeline(transaction=not is_cluster(self._client))
        pipe.hset(
            self._keys.api_key(key.key_id),
            mapping={
                "hash": key.secret_hash,
                "name": key.name,
                "scopes": api_key_scopes(key.scopes),
                "rate": key.rate_per_minute,
                "created_ms": to_ms(key.created_at),
            },
        )
        pipe.sadd(self._keys.api_keys(), key.key_id)
        await pipe.execute()
        return key, format_token(credentials)

    async def get(self, key_id: str) -> ApiKey | None:
        raw = await self._client.hgetall(self._keys.api_key(key_id))
        return _record(key_id, raw) if raw else None

    async def authenticate(self, credentials: Credentials) -> ApiKey | None:
        """The key the credentials prove, if it exists, matches and is not revoked."""
        key = await self.get(credentials.key_id)
        if key is None or not key.active:
            return None
        if not verify_secret(credentials.secret, key.secret_hash, self._pepper):
            return None
        return key

    async def all(self) -> list[ApiKey]:
        """Every key ever created, oldest first."""
        ids = sorted(_text(i) for i in await self._client.smembers(self._keys.api_keys()))
        pipe = self._client.pipeline(transaction=False)
        for key_id in ids:
            pipe.hgetall(self._keys.api_key(key_id))
        found = [
            _record(key_id, raw)
            for key_id, raw in zip(ids, await pipe.execute(), strict=True)
            if raw
        ]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    async def revoke(self, key_id: str, now: datetime) -> bool:
        """Revoke a key (idempotent: the first revocation time stays); False if unknown."""
        key = self._keys.api_key(key_id)
        if not await self._client.exists(key):
            return False
        await self._client.hsetnx(key, "revoked_ms", to_ms(now))
        return True


def _record(key_id: str, raw: Mapping[bytes | str, bytes | str]) -> ApiKey:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    revoked = fields.get("revoked_ms")
    return ApiKey(
        key_id=key_id,
        name=fields.get("name", ""),
        scopes=parse_scopes(parse_api_key_scopes(fields.get("scopes", ""))),
        rate_per_minute=int(fields.get("rate", "1")),
        created_at=from_ms(int(fields.get("created_ms", "0"))),
        revoked_at=None if revoked is None else from_ms(int(revoked)),
        secret_hash=fields.get("hash", ""),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
