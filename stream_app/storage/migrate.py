"""Event ids stored as 16 hex digits become signed decimals (``stream-app migrate event-keys``).

``layout.event_key`` was the hex of 8 BLAKE2b bytes and is now their signed decimal
(Redis keeps an integer in 8 bytes). Ids a deployment stored before would not match
any more: a redelivered event, a re-run backfill would be applied again. This converts
them in place: the id indexes (``seen`` with its scores, ``orders``), the fields of
devices' parked readings (``parked``), each by one call of ``lua/event_keys.lua`` per
key (Redis-Cluster safe), pipelined in batches; and the basket run markers, whose name
holds the order's key (renamed: ``SET NX`` of the new name with the old one's expiry,
then ``DEL`` of the old one; the two are in different slots). ``SCAN`` covers every
master of a cluster (redis-py's cluster ``scan_iter``).

A member of 16 digits is ambiguous: a hex id without letters (about 1 in 1,850) or a
decimal of 16 digits (about 1 in 2,000). The script settles it per key (hex beside a
lettered id, decimal beside an id of another shape); keys holding only such members
wait for the end of the run and are converted only if the run met a lettered hex id
somewhere (the deployment held hex ids), so a run over converted or new data changes
nothing. A key this run converted into such a key is remembered and never converted twice.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from stream_app.storage.client import RedisClient
from stream_app.storage.layout import Keys, parse_basket_run
from stream_app.storage.scripts import LuaScript, run_scripts

#: Keys per pipeline: a round trip carries enough work, no call blocks Redis for long.
BATCH = 500

_HEX = re.compile(r"[0-9a-f]{16}")


def legacy_event_key(hex_key: str) -> str:
    """The ``event_key`` of an id stored as 16 hex digits (the same 8 bytes, signed).

    >>> import hashlib
    >>> from stream_app.storage.layout import event_key
    >>> legacy_event_key(hashlib.blake2b(b"ev-1", digest_size=8).hexdigest()) == event_key("ev-1")
    True
    >>> legacy_event_key("ffffffffffffffff"), legacy_event_key("8000000000000000")
    ('-1', '-9223372036854775808')
    """
    return str(int.from_bytes(bytes.fromhex(hex_key), "big", signed=True))


@dataclass
class Tally:
    """What a run found of one kind of key."""

    keys: int = 0
    #: Keys whose ids were converted (a dry run: would be).
    changed: int = 0
    ids: int = 0
    #: Ids of 16 digits left as decimals (the run met no lettered hex id).
    undecided: int = 0


@dataclass
class _Run:
    dry: str
    tallies: dict[str, Tally] = field(default_factory=dict)
    lettered: bool = False
    #: Kind -> keys holding only 16-digit ids, and the ids each holds.
    undecided: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: Keys this run made hold only 16-digit ids (never converted again).
    made: set[str] = field(default_factory=set)


class EventKeyMigration:
    def __init__(
        self, client: RedisClient, keys: Keys, *, dry_run: bool, batch: int = BATCH
    ) -> None:
        self._client = client
        self._keys = keys
        self._dry_run = dry_run
        self._batch = batch
        self._script = LuaScript("event_keys")

    async def run(self) -> dict[str, Tally]:
        """Convert every hex id of the deployment (``dry_run``: count them); per kind."""
        keys = self._keys
        run = _Run("1" if self._dry_run else "0")
        indexes = {
            "seen": (keys.seen("*"), "zset"),
            "orders": (keys.orders("*"), "set"),
            "parked": (keys.parked("*"), "hash"),
        }
        for kind, (pattern, type_) in indexes.items():
            run.tallies[kind] = Tally()
            async for batch in self._scanned(pattern, type_):
                await self._convert(run, kind, batch, assume_hex=False)
        run.tallies["basket runs"] = Tally()
        async for batch in self._scanned(keys.basket_runs(), "string"):
            await self._rename(run, batch, assume_hex=False)
        for kind, waiting in run.undecided.items():
            names = [key for key, _ in waiting if key not in run.made]
            if not run.lettered:
                run.tallies[kind].undecided += sum(n for _, n in waiting)
            elif kind == "basket runs":
                await self._rename(run, names, assume_hex=True)
            else:
                for first in range(0, len(names), self._batch):
                    batch = names[first : first + self._batch]
                    await self._convert(run, kind, batch, assume_hex=True)
        return run.tallies

    async def _scanned(self, pattern: str, type_: str) -> AsyncIterator[list[str]]:
        """The keys matching ``pattern`` of type ``type_``, in batches."""
        batch: list[str] = []
        async for key in self._client.scan_iter(match=pattern, count=1000, _type=type_):
            batch.append(key.decode() if isinstance(key, bytes) else key)
            if len(batch) == self._batch:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _convert(self, run: _Run, kind: str, batch: Sequence[str], assume_hex: bool) -> None:
        """One script call per key of ``batch``, in one pipeline."""
        flag = "1" if assume_hex else "0"
        calls = [self._script.call([key], [flag, run.dry]) for key in batch]
        tally = run.tallies[kind]
        for key, (ids, lettered, undecided, made) in zip(
            batch, await run_scripts(self._client, calls), strict=True
        ):
            tally.keys += 0 if assume_hex else 1
            tally.changed += 1 if ids else 0
            tally.ids += ids
            run.lettered = run.lettered or lettered == 1
            if undecided:
                run.undecided.setdefault(kind, []).append((key, undecided))
            if made:
                run.made.add(key)

    async def _rename(self, run: _Run, batch: Sequence[str], assume_hex: bool) -> None:
        """Rename the markers of ``batch`` whose order key is hex to its decimal."""
        tally = run.tallies["basket runs"]
        renames: dict[str, str] = {}
        for name in batch:
            tally.keys += 0 if assume_hex else 1
            parsed = parse_basket_run(name)
            if parsed is None or not _HEX.fullmatch(parsed[0]) or name in run.made:
                continue
            order_key, marker = parsed
            if assume_hex or not order_key.isdigit():
                run.lettered = run.lettered or not order_key.isdigit()
                renamed = self._keys.basket_run(legacy_event_key(order_key), marker)
                renames[name] = renamed
                if _HEX.fullmatch(renamed.partition("{")[2].partition("}")[0]):
                    run.made.add(renamed)
            else:
                run.undecided.setdefault("basket runs", []).append((name, 1))
        tally.changed += len(renames)
        tally.ids += len(renames)
        if renames and run.dry == "0":
            await self._move(renames)

    async def _move(self, renames: dict[str, str]) -> None:
        """``SET NX`` each new name with the old one's expiry, then delete the old one:
        a run stopped in between leaves both, and the next finishes it."""
        pipe = self._client.pipeline(transaction=False)
        for old in renames:
            pipe.pttl(old)
        ttls = await pipe.execute()
        pipe = self._client.pipeline(transaction=False)
        for (old, new), ttl in zip(renames.items(), ttls, strict=True):
            if ttl == -2:  # expired meanwhile
                continue
            pipe.set(new, "1", nx=True, px=ttl if ttl > 0 else None)
            pipe.delete(old)
        await pipe.execute()
