"""The label join: what each decision was scored on, kept until its label arrives.

The features a decision was scored with are stored under its id when it is
made. The first of (a) a click or conversion for that decision, (b) the end of
its attribution window, takes them with ``GETDEL`` and turns them into one
labelled example: positive for (a), negative for (b). ``GETDEL`` is atomic, so
a decision is labelled exactly once even when feedback is redelivered or
several workers race. Labels are joined to the features that were actually
scored, never to the profile as it is later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import Arg, LuaScript


@dataclass(frozen=True, slots=True)
class Scored:
    """One scored decision awaiting its label."""

    customer_id: str
    decision_id: str
    features: Mapping[str, float]
    model_version: str
    score: float
    context: str = ""
    arm: str = ""
    propensity: float = 1.0

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "x": self.features,
                "v": self.model_version,
                "s": self.score,
                "c": self.context,
                "a": self.arm,
                "p": self.propensity,
            }
        )

    @classmethod
    def from_json(cls, customer_id: str, decision_id: str, raw: bytes) -> Scored:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(
            customer_id,
            decision_id,
            data["x"],
            data["v"],
            float(data["s"]),
            data.get("c", ""),
            data.get("a", ""),
            float(data.get("p", 1.0)),
        )


class ScoringStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def remember(self, writes: Writes, scored: Sequence[Scored], ttl_s: int) -> None:
        """Keep each decision's features until labelled (``ttl_s`` past its window)."""
        for item in scored:
            key = self._keys.scored(item.customer_id, item.decision_id)
            writes.add("SET", key, item.to_json(), "EX", ttl_s)

    async def take(self, pairs: Sequence[tuple[str, str]]) -> list[Scored | None]:
        """For each (customer, decision id): its scored features, removed so no other
        label can claim them; None when already labelled or never scored."""
        if not pairs:
            return []
        pipe = self._client.pipeline(transaction=False)
        for customer_id, decision_id in pairs:
            pipe.getdel(self._keys.scored(customer_id, decision_id))
        found = await pipe.execute()
        return [
            None if raw is None else Scored.from_json(cid, did, raw)
            for (cid, did), raw in zip(pairs, found, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A published model: its version, the model's, the bandit's and the sentiment model's
    blobs, its figures."""

    version: str
    blob: bytes
    bandit: bytes | None
    meta: dict[str, float]
    #: The sentiment model's blob: None when there is none or when it was saved at the
    #: ``sentiment_at`` the reader already has (not read again).
    sentiment: bytes | None = None
    #: The snapshot version the sentiment model was last saved with (None: never).
    sentiment_at: str | None = None


class ModelStore:
    """Model snapshots: one hash per model, its version, blobs and figures written together
    (one ``HSET`` in a check-and-set script), so a reader never sees a version with another
    version's blob."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._save = LuaScript("model_save")

    async def save(
        self,
        name: str,
        version: str,
        blob: bytes,
        meta: Mapping[str, float] | None = None,
        bandit: bytes | None = None,
        *,
        over: str | None = None,
        sentiment: bytes | None = None,
    ) -> bool:
        """Write a snapshot, only over version ``over`` (None: over none): a learner
        never overwrites what another learner published since its own last snapshot
        (the labels' partition moved). ``meta`` (e.g. rolling AUC) is kept beside it
        for operators. A blob left out (``bandit``, ``sentiment``: None) keeps the one
        published before: the sentiment model is saved only when it learned. False
        when refused."""
        key = self._keys.model(name)
        fields: dict[str, Arg] = {
            "version": version,
            "blob": blob,
            "meta": orjson.dumps(dict(meta or {})),
        }
        if bandit is not None:
            fields["bandit"] = bandit
        if sentiment is not None:
            fields["sentiment"] = sentiment
            fields["sentiment_at"] = version
        flat = [value for pair in fields.items() for value in pair]
        written = await self._save.run(self._client, [key], [over or "", *flat])
        return bool(written)

    async def version(self, name: str) -> str | None:
        """The published version alone (one ``HGET``: what workers poll)."""
        raw = await self._client.hget(self._keys.model(name), "version")
        return raw.decode() if isinstance(raw, bytes) else None

    async def meta(self, name: str) -> dict[str, float]:
        """What the last snapshot said about the model (empty without one)."""
        raw = await self._client.hget(self._keys.model(name), "meta")
        return {} if raw is None else dict(orjson.loads(raw))

    async def snapshot(self, name: str, known_sentiment: str | None = None) -> Snapshot | None:
        """The latest snapshot, or None if there is none. Its sentiment model (up to
        ~0.6 MB) is read only when it was saved after ``known_sentiment`` (the reader's
        ``sentiment_at``): a second ``HGET``, seldom."""
        key = self._keys.model(name)
        fields = ["version", "blob", "bandit", "meta", "sentiment_at"]
        version, blob, bandit, meta, at = await self._client.hmget(key, fields)
        if not isinstance(version, bytes) or not isinstance(blob, bytes):
            return None
        sentiment_at = at.decode() if isinstance(at, bytes) else None
        sentiment = None
        if sentiment_at is not None and sentiment_at != known_sentiment:
            raw = await self._client.hget(key, "sentiment")
            sentiment = raw if isinstance(raw, bytes) else None
        return Snapshot(
            version.decode(),
            blob,
            bandit if isinstance(bandit, bytes) else None,
            dict(orjson.loads(meta)) if isinstance(meta, bytes) else {},
            sentiment,
            sentiment_at,
        )
