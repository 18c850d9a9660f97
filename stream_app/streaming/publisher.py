"""Outbound records: the port the processors write through, and its Faust adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Send all records and return once the broker acknowledged every one."""


class FaustPublisher:
    """Publishes through the Faust app's producer (one producer per worker)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def publish(self, records: Sequence[OutRecord]) -> None:
        producer = self._app.producer
        pending = [await producer.send(r.topic, r.key, r.value, None, None, None) for r in records]
        await asyncio.gather(*pending)
