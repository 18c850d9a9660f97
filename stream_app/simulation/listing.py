"""The simulated catalog as the stream has announced it: recently viewed items drop in
price, return to list price, run out of stock and come back."""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime

from stream_app.events.catalog import ItemUpdate
from stream_app.simulation.catalog import Item
from stream_app.simulation.ids import event_id


class Listing:
    """Items viewed lately (the ones whose moves find an audience) and each announced
    item's price in EUR and stock."""

    def __init__(self) -> None:
        self.viewed: deque[Item] = deque(maxlen=500)
        self._listed: dict[str, tuple[float, bool]] = {}

    def update(self, rng: random.Random, now: datetime) -> ItemUpdate:
        """The catalog moves for a recently viewed item: first its listing, then price
        drops (10-30%), returns to list price, or stock running out and coming back."""
        item = rng.choice(self.viewed)
        price, in_stock = self._listed.get(item.item_id, (item.price_eur, True))
        if item.item_id in self._listed:
            roll = rng.random()
            if not in_stock or roll < 0.2:
                in_stock = not in_stock
            elif price < item.price_eur and roll < 0.5:
                price = item.price_eur
            else:
                price = round(item.price_eur * rng.uniform(0.7, 0.9), 2)
        self._listed[item.item_id] = (price, in_stock)
        return ItemUpdate(
            type="item_update",
            event_id=event_id(rng),
            event_time=now,
            item_id=item.item_id,
            category=item.category,
            price=price,
            currency="EUR",
            in_stock=in_stock,
        )
