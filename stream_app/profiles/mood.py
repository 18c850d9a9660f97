"""What customers say, as the profile keeps it: a decayed sentiment and recent complaints.

A review or comment reaches the fold with its polarity (-1..1) already scored in the
pass (``model.polarity``); its text never does. The profile keeps

- the **decayed sentiment**: the mean polarity of the customer's remarks, each weighted
  ``2^(-age / H)`` (``STREAM_APP_PROFILES__SENTIMENT_HALF_LIFE``), stored as two decayed
  sums (polarity and weight, like tastes) whose ratio does not depend on when it is read;
- **recent complaints** (remarks at or below ``negative_below``): the newest
  ``complaints_kept`` by (time, event id), each its time, source, what it is about (an
  order or item id) and polarity, never its text;
- ``last:negative_remark``: the time of the latest complaint (service recovery and the
  marketing cool-down start there).

Sums and a top N by (time, id): the same profile whatever the order of arrival.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from stream_app.clock import from_ms
from stream_app.events.reviews import Remark
from stream_app.profiles.lazy import lazy
from stream_app.profiles.ops import Max, ProfileOp, Remarked

if TYPE_CHECKING:
    from stream_app.profiles.state import ProfileState, StateLimits

#: The time of the latest complaint (a ``last:`` field: merged as a max).
NEGATIVE_FIELD = "last:negative_remark"
#: A stored complaint: [ms, source, about, polarity].
ComplaintEntry = list[int | float | str]


class Complaint(NamedTuple):
    """A negative remark as the profile keeps it (never its text)."""

    at: datetime
    source: str
    about: str
    polarity: float


def remark_ops(event: Remark, polarity: float, ms: int, negative_below: float) -> list[ProfileOp]:
    """What a remark scored ``polarity`` adds: to the sentiment, and as a complaint when
    at or below ``negative_below``.

    >>> from datetime import UTC
    >>> from stream_app.events.reviews import Comment
    >>> c = Comment(type="comment", event_id="e1", customer_id="c1", text="late again",
    ...             source="support_chat", order_id="o-7",
    ...             event_time=datetime(2026, 1, 1, tzinfo=UTC))
    >>> remark_ops(c, -0.8, 5, -0.3)[0]
    Remarked(polarity=-0.8, ms=5, complaint=('e1', 'support_chat', 'order:o-7'))
    >>> remark_ops(c, 0.5, 5, -0.3)
    [Remarked(polarity=0.5, ms=5, complaint=None)]
    """
    if polarity > negative_below:
        return [Remarked(polarity, ms)]
    about = (
        f"order:{event.order_id}"
        if event.order_id
        else f"item:{event.item_id}"
        if event.item_id
        else ""
    )
    complaint = (event.event_id, event.source or "", about)
    return [Remarked(polarity, ms, complaint), Max(NEGATIVE_FIELD, ms)]


def apply_remarked(state: ProfileState, op: Remarked, limits: StateLimits) -> None:
    """Add a remark to the decayed sentiment; keep it among the recent complaints."""
    half_life = limits.sentiment_half_life_ms
    state.sentiment.add("s", op.polarity, op.ms, half_life)
    state.sentiment.add("w", 1.0, op.ms, half_life)
    if op.complaint is not None:
        key, source, about = op.complaint
        entry: ComplaintEntry = [op.ms, source, about, round(op.polarity, 3)]
        note_complaint(state.complaints, key, entry, limits.complaints_kept)


def note_complaint(
    complaints: dict[str, ComplaintEntry], key: str, entry: ComplaintEntry, cap: int
) -> None:
    """Keep ``entry`` under ``key`` (one remark is one complaint), then the ``cap`` newest
    by (time, key): the same set whatever the order of arrival.

    >>> kept: dict[str, ComplaintEntry] = {}
    >>> for key, ms in (("b", 2), ("a", 1), ("c", 3)):
    ...     note_complaint(kept, key, [ms, "social", "", -1.0], 2)
    >>> sorted(kept)
    ['b', 'c']
    """
    complaints[key] = entry
    while len(complaints) > cap:
        del complaints[min(complaints, key=lambda k: (int(complaints[k][0]), k))]


class Mood:
    """The sentiment part of a profile view (``profiles.derive.ProfileView``)."""

    _state: ProfileState

    @lazy
    def sentiment(self) -> float | None:
        """The decayed mean polarity of the customer's remarks; None before any."""
        sums = self._state.sentiment.sums
        weight = sums.get("w", 0.0)
        if weight <= 0:
            return None
        return max(-1.0, min(1.0, sums.get("s", 0.0) / weight))

    @lazy
    def complaints(self) -> list[Complaint]:
        """Recent complaints, newest first."""
        kept = sorted(self._state.complaints.items(), key=lambda kv: (-int(kv[1][0]), kv[0]))
        return [
            Complaint(from_ms(int(ms)), str(source), str(about), float(polarity))
            for _, (ms, source, about, polarity) in kept
        ]

    @lazy
    def last_negative_at(self) -> datetime | None:
        """When the customer last complained (a remark at or below the threshold)."""
        ms = self._state.fields.get(NEGATIVE_FIELD)
        return None if ms is None else from_ms(int(ms))

    def mood_summary(self) -> dict[str, Any]:
        """The JSON-ready sentiment and complaints (``ProfileView.as_dict``)."""
        sentiment = self.sentiment
        return {
            "sentiment": None if sentiment is None else round(sentiment, 3),
            "complaints": [
                {"at": c.at.isoformat(), "source": c.source, "about": c.about,
                 "polarity": c.polarity}
                for c in self.complaints
            ],
        }  # fmt: skip
