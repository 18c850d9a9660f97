"""What simulated customers say after their orders: reviews, support chats, social posts.

Each order has an experience, drawn when it is placed: mostly fine, sometimes
late (``late_share``). Some orders get a review a while after (``review_share``;
``rated_share`` of them with stars), and a late one also a support-chat
complaint (``chat_share``) or a social post (``social_share``). The polarity is
drawn from the experience (late: -1..-0.4, fine: mostly positive) and kept as the
truth (``Voice.truth``: event id -> polarity); the text and stars come from
``simulation.reviews.remark``. Draws come from the voice's own random source, so
the rest of the world draws exactly what it drew before.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream_app.events.purchase import Purchase
from stream_app.events.registry import Stream
from stream_app.events.reviews import Comment, Review, Source
from stream_app.simulation.ids import event_id
from stream_app.simulation.reviews import remark


@dataclass(frozen=True, slots=True)
class VoiceMix:
    """How often customers speak, and how often an order goes wrong."""

    review_share: float = 0.3
    rated_share: float = 0.6
    late_share: float = 0.15
    chat_share: float = 0.5
    social_share: float = 0.15
    #: Mean event-time between an order and what is said of it.
    mean_delay_s: float = 60.0


@dataclass(slots=True)
class _Said:
    """A remark waiting for its moment (ordered by when it is due)."""

    due_s: float
    seq: int
    source: Source
    purchase: Purchase = field(compare=False)
    polarity: float = field(compare=False)
    rated: bool = field(compare=False)

    def __lt__(self, other: _Said) -> bool:
        return (self.due_s, self.seq) < (other.due_s, other.seq)


@dataclass(slots=True)
class Voice:
    """The remarks the world owes, and the true polarity of each one said."""

    rng: random.Random
    mix: VoiceMix = field(default_factory=VoiceMix)
    truth: dict[str, float] = field(default_factory=dict)
    _pending: list[_Said] = field(default_factory=list)
    _seq: int = 0

    def ordered(self, order: Purchase, offset_s: float) -> None:
        """An order placed at ``offset_s``: what its customer will say of it, and when."""
        rng, mix = self.rng, self.mix
        if order.customer_id is None:  # a guest's: nobody to hear from
            return
        late = rng.random() < mix.late_share
        said: list[tuple[Source, bool]] = []
        if rng.random() < mix.review_share:
            rated = rng.random() < mix.rated_share
            said.append((rng.choice(("app_review", "shop_review")), rated))
        if late and rng.random() < mix.chat_share:
            said.append(("support_chat", False))
        if late and rng.random() < mix.social_share:
            said.append(("social", False))
        for source, rated in said:
            polarity = rng.uniform(-1.0, -0.4) if late else rng.triangular(-0.3, 1.0, 0.8)
            due = offset_s + rng.expovariate(1 / mix.mean_delay_s)
            self._seq += 1
            heapq.heappush(self._pending, _Said(due, self._seq, source, order, polarity, rated))

    def due(self, offset_s: float, now: datetime) -> tuple[Stream, Review | Comment] | None:
        """The next remark due by ``offset_s``, said at ``now``; None when none is."""
        if not self._pending or self._pending[0].due_s > offset_s:
            return None
        said = heapq.heappop(self._pending)
        text, stars = remark(self.rng, said.polarity, said.rated)
        order = said.purchase
        common: dict[str, Any] = {
            "event_id": event_id(self.rng),
            "event_time": now,
            "customer_id": order.customer_id,
            "text": text,
            "source": said.source,
            "order_id": order.order_id,
            "item_id": order.items[0].item_id if said.source.endswith("review") else None,
        }
        event: Review | Comment
        if said.source.endswith("review"):
            event = Review(type="review", rating=stars, **common)
        else:
            event = Comment(type="comment", **common)
        self.truth[event.event_id] = said.polarity
        return Stream.REVIEW, event
