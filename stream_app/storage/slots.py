"""Redis Cluster hash slots of keys, and a batch's writes grouped by slot. Pure.

A script on a Redis Cluster may touch one slot only: the worker's commit and the
co-purchase counts are split here, one group per slot, each group keeping the order
its commands were added in (a key's commands stay in order: one key, one slot).
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["SlotGroup", "by_slot", "key_slot", "slot_of_command"]

#: Hash slots of a Redis Cluster.
SLOTS = 16384


def key_slot(key: str) -> int:
    """The slot of ``key``: CRC16 (XMODEM, ``binascii.crc_hqx``, in C: redis-py's
    ``redis.crc.key_slot`` is pure Python and costs more than the rest of a commit's
    split) of its hash tag if it has a non-empty one, else of the whole key.

    >>> key_slot("sa:{c-1}:p") == key_slot("c-1"), key_slot("foo")
    (True, 12182)
    """
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key.encode(), 0) % SLOTS


@dataclass(slots=True)
class SlotGroup:
    """The guards and commands of one slot (a ``Writes`` cut to that slot)."""

    guards: list[tuple[str, int]] = field(default_factory=list)
    commands: list[tuple[object, ...]] = field(default_factory=list)

    @property
    def route_key(self) -> str:
        """A key of the slot, declared to the script so a node that does not serve the
        slot (resharding, failover) refuses it with MOVED before running it."""
        if self.guards:
            return self.guards[0][0]
        return _text(self.commands[0][1])


def slot_of_command(command: Sequence[object]) -> int:
    """The slot of a write command: its first key (the word after the name).

    >>> slot_of_command(("HINCRBY", "sa:{c-1}:p", "n", 1)) == key_slot("c-1")
    True
    """
    return key_slot(_text(command[1]))


def by_slot(
    guards: Iterable[tuple[str, int]], commands: Iterable[tuple[object, ...]]
) -> dict[int, SlotGroup]:
    """Guards and commands grouped by slot, in their order within each slot.

    >>> groups = by_slot([("sa:{a}:p", 3)], [("SET", "sa:{a}:p", "x"), ("SADD", "sa:s", "a")])
    >>> sorted((len(g.guards), len(g.commands)) for g in groups.values())
    [(0, 1), (1, 1)]
    >>> groups[key_slot("a")].route_key
    'sa:{a}:p'
    """
    groups: dict[int, SlotGroup] = {}
    for guard in guards:
        _group(groups, key_slot(guard[0])).guards.append(guard)
    for command in commands:
        _group(groups, slot_of_command(command)).commands.append(command)
    return groups


def _group(groups: dict[int, SlotGroup], slot: int) -> SlotGroup:
    group = groups.get(slot)
    if group is None:
        group = groups[slot] = SlotGroup()
    return group


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
