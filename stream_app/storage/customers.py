"""Everything one pass reads of its customers, in one script call (``lua/load.lua``).

For each customer named (and the owners of the devices named): the stored
profile, whether they were erased, which of the batch's event ids were already
applied, their segment memberships, open conversion windows, planned and sent
decisions, contact history, the scored features of decisions that feedback
in the batch engaged with (taken, so each decision is labelled once), and the
readings parked for the devices the batch links to them (``storage.parking``). For
an unlinked device: how many readings wait, and which of the batch's already do.
Most of it is empty for most customers; reading it anyway keeps a pass at one read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

import msgpack

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.attribution import Window
from stream_app.decisions.policies import Sent
from stream_app.profiles.state import ProfileState
from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.decisions import HISTORY, PendingDecision, parse_contact, parse_window
from stream_app.storage.layout import Keys, parse_memberships
from stream_app.storage.profiles import decode_state
from stream_app.storage.scoring import Scored
from stream_app.storage.scripts import LuaScript, ScriptCall, run_scripts
from stream_app.storage.slots import key_slot
from stream_app.storage.stitch import Carried, Stitcher


@dataclass(frozen=True, slots=True)
class Ask:
    """What to read of one customer: the event id hashes to look up in their index (and
    those of them that are orders, in their order index), the decisions whose scored
    features to take, the anonymous profiles their events link to them, and the tokens
    of the devices the batch links to them (whose parked readings to read)."""

    customer_id: str
    event_keys: Sequence[str] = ()
    engaged: Sequence[str] = ()
    order_keys: Sequence[str] = ()
    links: Sequence[str] = ()
    device_links: Sequence[str] = ()


class Waiting(NamedTuple):
    """An unlinked device as stored: how many readings wait, and which of the batch's
    readings (event id hashes) already do."""

    total: int
    parked: frozenset[str]


@dataclass
class Loaded:
    """One customer as stored when the pass began."""

    state: ProfileState
    erased: bool = False
    #: Event id hashes (of those asked) already applied: in the id index, or orders'
    #: in the order index.
    applied: set[str] = field(default_factory=set)
    memberships: set[str] = field(default_factory=set)
    windows: list[Window] = field(default_factory=list)
    #: Planned decisions, as stored (read when a pass decides something).
    pending_raw: list[bytes] = field(default_factory=list)
    #: Decision ids sent, held out or settled within the dedupe window.
    sent: set[str] = field(default_factory=set)
    contacts: list[Sent] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    #: Readings parked for the devices the batch links: (token, event id hash, blob).
    waiting: list[tuple[str, str, bytes]] = field(default_factory=list)
    #: Anonymous profiles this pass merges in (docs/identity.md), as stored (version 0:
    #: absent); their id indexes were looked up too.
    merged: list[ProfileState] = field(default_factory=list)
    #: Anonymous profiles linked to another customer (the first link wins).
    refused: list[str] = field(default_factory=list)
    #: On a Redis Cluster (``storage.stitch``): the anonymous ids asked already merged
    #: in, what the fold copies of each joining (or only to clean up), and those whose
    #: link this pass set (released if the customer turns out erased).
    marked: set[str] = field(default_factory=set)
    carried: dict[str, Carried] = field(default_factory=dict)
    fresh: list[str] = field(default_factory=list)

    @property
    def customer_id(self) -> str:
        return self.state.customer_id

    @cached_property
    def pending(self) -> list[PendingDecision]:
        """Decisions planned and waiting for their send time."""
        return [PendingDecision.from_json(blob) for blob in self.pending_raw]

    def history(self) -> list[Sent]:
        """Messages sent and still planned, as the contact policies count them."""
        planned = [
            Sent(
                p.decision.decision_id,
                p.decision.campaign_id,
                p.decision.channel,
                p.decision.send_at,
            )
            for p in self.pending
        ]
        return [*self.contacts, *planned]

    def known(self) -> set[str]:
        """Decision ids already planned or sent: a trigger seen again changes nothing."""
        return self.sent | {p.decision.decision_id for p in self.pending}


class CustomerStore:
    def __init__(self, client: RedisClient, keys: Keys, link_ttl_s: int) -> None:
        self._client = client
        self._keys = keys
        self.stitcher = Stitcher(client, keys, link_ttl_s)
        self._script = LuaScript("load")
        k = keys
        self._templates = [
            k.profile("%s"),
            k.seen("%s"),
            k.erased("%s"),
            k.memberships("%s"),
            k.attribution("%s"),
            k.pending("%s"),
            k.sent("%s"),
            k.contacts("%s"),
            k.scored("%s", "%s"),
            k.device("%s"),
            k.orders("%s"),
            k.parked("%s"),
            k.link("%s"),
            k.anonymous("%s"),
        ]
        self._packed_templates = msgpack.packb(self._templates, use_bin_type=False)

    def read(
        self,
        asks: Sequence[Ask],
        now: datetime,
        devices: Mapping[str, Sequence[str]],
        owners: Mapping[str, str] | None = None,
    ) -> list[ScriptCall]:
        """The read of ``asks`` (and of the owners of ``devices``: token -> their events'
        id hashes), to run with a pass's other reads; ``parse`` reads their answers. One
        call; on a Redis Cluster one per slot, a device read with its owner (``owners``,
        from ``owners_of``) or alone; the anonymous profiles and parked readings a batch's
        events link (other slots) are claimed and read beforehand (``storage.stitch``)."""
        return [self._call(a, now, d) for a, d in self._parts(asks, devices, owners or {})]

    async def owners_of(self, devices: Iterable[str]) -> dict[str, str]:
        """On a Redis Cluster, the customer each known device belongs to (an anonymous
        owner's link followed), read before ``read`` so that each read stays in its
        slot; nothing on a single Redis (the script looks them up itself)."""
        tokens = list(devices)
        if not tokens or not is_cluster(self._client):
            return {}
        keys = self._keys
        pipe = self._client.pipeline(transaction=False)
        for token in tokens:
            pipe.get(keys.device(token))
        found = {t: _text(o) for t, o in zip(tokens, await pipe.execute(), strict=True) if o}
        anonymous = sorted({o for o in found.values() if o.startswith("~")})
        if anonymous:
            pipe = self._client.pipeline(transaction=False)
            for aid in anonymous:
                pipe.get(keys.link(aid))
            linked = {
                a: _text(c) for a, c in zip(anonymous, await pipe.execute(), strict=True) if c
            }
            found = {t: linked.get(o, o) for t, o in found.items()}
        return found

    def _parts(
        self, asks: Sequence[Ask], devices: Mapping[str, Sequence[str]], owners: Mapping[str, str]
    ) -> list[tuple[Sequence[Ask], dict[str, tuple[Any, ...]]]]:
        """The asks and devices (token -> hashes, and the owner on a cluster) of each
        call: all in one, or by slot on a cluster (a device with its owner's asks)."""
        if not is_cluster(self._client):
            return [(asks, {t: (hashes,) for t, hashes in devices.items()})]
        keys = self._keys
        slots: dict[int, tuple[list[Ask], dict[str, tuple[Any, ...]]]] = {}
        for ask in asks:
            slot = key_slot(keys.profile(ask.customer_id))
            if ask.device_links:  # other slots: read beforehand (storage.stitch)
                ask = replace(ask, device_links=())
            slots.setdefault(slot, ([], {}))[0].append(ask)
        for token, hashes in devices.items():
            owner = owners.get(token)
            if owner is None:
                slots.setdefault(key_slot(keys.device(token)), ([], {}))[1][token] = (hashes,)
            else:
                slots.setdefault(key_slot(keys.profile(owner)), ([], {}))[1][token] = (
                    hashes,
                    owner,
                )
        return list(slots.values())

    def _call(
        self, asks: Sequence[Ask], now: datetime, devices: Mapping[str, tuple[Any, ...]]
    ) -> ScriptCall:
        cluster = is_cluster(self._client)
        # A MessagePack array of 4 (5 on a cluster) items, the templates packed once: a
        # cluster sends one read per slot, hundreds per batch.
        rest = (
            to_ms(now - HISTORY),
            [(token, *entry) for token, entry in devices.items()],
            [_packed(a) for a in asks],
            *((True,) if cluster else ()),
        )
        head = bytes((0x91 + len(rest),))  # fixarray of the templates and the rest
        items = [msgpack.packb(item, use_bin_type=False) for item in rest]
        packed = b"".join((head, self._packed_templates, *items))
        if not cluster:
            return self._script.call([], [packed])
        keys = self._keys
        if asks:
            return self._script.call([keys.profile(asks[0].customer_id)], [packed])
        token, entry = next(iter(devices.items()))
        route = keys.profile(entry[1]) if len(entry) > 1 else keys.device(token)
        return self._script.call([route], [packed])

    def parse(
        self,
        answers: Sequence[Any],
        asks: Sequence[Ask],
        devices: Mapping[str, Sequence[str]],
        known: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Loaded], dict[str, str], dict[str, str], dict[str, Waiting]]:
        """The customers read, by id, each known device's owner, the customer each
        anonymous profile asked for is linked to (those linked), and what waits for each
        unknown device: from the answers of ``read``'s calls, in order."""
        loaded: dict[str, Loaded] = {}
        owners: dict[str, str] = {}
        links: dict[str, str] = {}
        waiting: dict[str, Waiting] = {}
        engaged = {ask.customer_id: ask.engaged for ask in asks}
        parts = self._parts(asks, devices, known or {})
        for (_, part), answer in zip(parts, answers, strict=False):
            owners_raw, links_raw, rows, parked_raw = answer
            for (token, (keys, *_)), owner, found in zip(
                part.items(), owners_raw, parked_raw, strict=True
            ):
                if owner is not None:
                    owners[token] = _text(owner)
                if found:
                    hashes = frozenset(k for k, f in zip(keys, found[1], strict=True) if f)
                    waiting[token] = Waiting(int(found[0]), hashes)
            for row in rows:
                cid = _text(row[0])
                loaded[cid] = _loaded(cid, row, engaged.get(cid, ()))
            links |= {_text(anonymous): _text(customer) for anonymous, customer in links_raw}
        return loaded, owners, links, waiting

    async def load(self, asks: Sequence[Ask], now: datetime) -> dict[str, Loaded]:
        """Read ``asks`` alone (the timer's checks: no events, no devices)."""
        if not asks:
            return {}
        calls = self.read(asks, now, {})
        answers = await run_scripts(self._client, calls)
        return self.parse(answers, asks, {})[0]  # due checks: no anonymous profiles


def _packed(ask: Ask) -> tuple[Any, ...]:
    """An ask as the script reads it (the links only when there are any: most have none)."""
    head = (ask.customer_id, ask.event_keys, ask.engaged, ask.order_keys)
    if ask.links or ask.device_links:
        return (*head, ask.links, ask.device_links)
    return head


def _loaded(cid: str, row: Sequence[Any], engaged: Sequence[str]) -> Loaded:
    _, profile, erased, applied, members, windows, pending, sent, contacts = row[:9]
    scored, merged, refused, parked = row[9:13]
    flat = [_text(v) for v in windows]
    return Loaded(
        state=_stored(cid, profile),
        erased=erased == 1,
        applied={_text(k) for k in applied},
        memberships=parse_memberships(_text(members)) if isinstance(members, bytes) else set(),
        windows=[parse_window(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)],
        pending_raw=list(pending),
        sent={_text(d) for d in sent},
        contacts=[
            parse_contact(_text(contacts[i]), from_ms(int(float(contacts[i + 1]))))
            for i in range(0, len(contacts), 2)
        ],
        scored=[
            Scored.from_json(cid, did, blob)
            for did, blob in zip(engaged, scored, strict=True)
            if isinstance(blob, bytes)
        ],
        waiting=[
            (_text(parked[i]), _text(parked[i + 1]), parked[i + 2])
            for i in range(0, len(parked), 3)
        ],
        merged=[_stored(_text(m[0]), m[1] if len(m) > 1 else None) for m in merged or ()],
        refused=[_text(aid) for aid in refused or ()],
        marked={_text(aid) for aid in row[13] or ()},
    )


def _stored(cid: str, raw: object) -> ProfileState:
    return decode_state(cid, raw if isinstance(raw, bytes) else None)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
