"""A deterministic, realistic stream of customer events for demos and load tests.

Customers run shopping sessions as small state machines (open, browse, fill a
cart, then buy or walk away), several at once and interleaved, more often in
their local active hours. Event ``i`` happens at ``start + i / rate``, so a run
is reproducible for a seed and the edge only has to shift and pace it.

This module paces the stream and steps the sessions; the events come from the
world's parts: ``sessions`` (a visit's clickstream), ``purchases``, ``identity``,
``sensors``, ``listing`` (catalog moves) and ``voices`` (reviews and comments on orders,
from their own random source, with their true polarity in ``remarks_truth``).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stream_app.events.registry import Event, Stream
from stream_app.simulation.catalog import Catalog
from stream_app.simulation.identity import FIRST_SIGHT, IdentityStep, identity_event
from stream_app.simulation.listing import Listing
from stream_app.simulation.population import Customer
from stream_app.simulation.purchases import purchase
from stream_app.simulation.sensors import sensor_reading
from stream_app.simulation.sessions import (
    Intent,
    Session,
    add_to_cart,
    browse,
    checkout_start,
    open_event,
    referral,
    remove_from_cart,
)
from stream_app.simulation.voices import Voice, VoiceMix


@dataclass(frozen=True, slots=True)
class Mix:
    """Realism knobs. The defaults give about 85% clickstream, 8% sensor and 3% purchase
    events, 3 identity events per customer on first sight, and 30-40% of carts abandoned."""

    #: Share of events that are sensor readings (once some devices are registered).
    sensor_share: float = 0.08
    #: Share of sensor readings that carry only ``device_id``, no ``customer_id``.
    device_only_share: float = 0.5
    #: Mean event-time between two steps of one session; sets how many run at once.
    think_s: float = 2.0
    #: Share of sessions that put something in the cart (the rest only browse).
    cart_share: float = 0.55
    #: Per cart step, the chance of taking an item out again.
    remove_share: float = 0.08
    #: Share of abandoned carts that reached checkout before leaving.
    checkout_bail_share: float = 0.15
    #: How much likelier a session start is inside the customer's active hours.
    active_boost: float = 5.0
    #: Mean event-time a customer stays away after a session.
    mean_rest_s: float = 30.0
    #: Share of events that are catalog updates (price drops, restocks) of viewed items.
    catalog_share: float = 0.003
    #: Reviews and comments on orders (``simulation.voices``).
    voices: VoiceMix = field(default_factory=VoiceMix)
    #: One customer in this many invites or shares (AARRR's referral), at a browse step
    #: with chance ``referral_share``.
    referrer_every: int = 20
    referral_share: float = 0.1


class EventGenerator(Iterator[tuple[Stream, Event]]):
    """An endless iterator of ``(stream, event)`` in non-decreasing event time.

    Each customer's first event is preceded by their identity ``traits`` (which
    register their devices) and ``consent`` events; device-only sensor readings
    only come from registered devices. Tastes and active hours are read from the
    customer at each step, so a customer whose record changes changes behaviour.
    """

    def __init__(
        self,
        customers: Sequence[Customer],
        catalog: Catalog,
        seed: int,
        start: datetime,
        rate: float,
        *,
        mix: Mix | None = None,
    ) -> None:
        if not customers:
            raise ValueError("need at least one customer")
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        self._customers = list(customers)
        self._catalog = catalog
        self._start = start.astimezone(UTC)
        self._rate = rate
        self._mix = mix or Mix()
        self._rng = random.Random(f"events:{seed}")
        self._index = 0
        self._target_sessions = max(1, round(rate * self._mix.think_s))
        self._sessions: list[Session] = []
        self._idle = list(range(len(self._customers)))
        self._available_at = [0.0] * len(self._customers)
        self._introduced: list[int] = []
        self._known: set[int] = set()
        self._listing = Listing()
        self._voice = Voice(random.Random(f"voices:{seed}"), self._mix.voices)

    def __iter__(self) -> EventGenerator:
        return self

    @property
    def remarks_truth(self) -> dict[str, float]:
        """The true polarity of every review and comment drawn so far, by event id."""
        return self._voice.truth

    def __next__(self) -> tuple[Stream, Event]:
        offset = self._index / self._rate
        self._index += 1
        now = self._start + timedelta(seconds=offset)
        rng = self._rng
        said = self._voice.due(offset, now)
        if said is not None:
            return said
        if self._introduced and rng.random() < self._mix.sensor_share:
            customer = self._customers[rng.choice(self._introduced)]
            return Stream.SENSOR, sensor_reading(rng, customer, self._mix.device_only_share, now)
        if self._listing.viewed and rng.random() < self._mix.catalog_share:
            return Stream.CATALOG, self._listing.update(rng, now)
        session = None
        if len(self._sessions) < self._target_sessions:
            slot = self._pick_idle(offset, now)
            if slot is not None:
                session = self._start_session(slot)
        while True:
            if session is None:
                if self._sessions:
                    session = rng.choice(self._sessions)
                else:  # everyone is resting: the one picked cuts their rest short
                    session = self._start_session(rng.randrange(len(self._idle)))
            out = self._advance(session, offset, now)
            if out is not None:
                return out
            session = None

    # --- sessions -------------------------------------------------------

    def _start_session(self, slot: int) -> Session:
        """Open a visit for the idle customer at ``slot``: intent, device, length."""
        index = self._idle[slot]
        self._idle[slot] = self._idle[-1]
        self._idle.pop()
        customer = self._customers[index]
        rng = self._rng
        intent: Intent = "browse"
        if rng.random() < self._mix.cart_share:
            intent = "abandon" if rng.random() < customer.cart_abandon_propensity else "buy"
        identity: deque[IdentityStep] = deque()
        if index not in self._known:
            self._known.add(index)
            identity.extend(FIRST_SIGHT)
        session = Session(
            customer=index,
            session_id=f"s-{rng.getrandbits(64):016x}",
            platform=rng.choice(customer.screens),
            intent=intent,
            steps_left=1 + min(20, int(rng.expovariate(1 / 4))),
            cart_goal=rng.choices((1, 2, 3, 4), weights=(55, 27, 12, 6))[0],
            identity=identity,
        )
        self._sessions.append(session)
        return session

    def _pick_idle(self, offset: float, now: datetime) -> int | None:
        """A rested idle customer, likelier when active and heavy users; maybe none.

        Rejection sampling keeps this O(1) however large the population.
        """
        rng = self._rng
        for _ in range(min(32, 4 * len(self._idle))):
            slot = rng.randrange(len(self._idle))
            customer = self._customers[self._idle[slot]]
            if self._available_at[self._idle[slot]] > offset:
                continue
            weight = min(1.0, customer.activity / 2)
            if not customer.is_active_at(now):
                weight /= self._mix.active_boost
            if rng.random() < weight:
                return slot
        return None

    def _advance(
        self, session: Session, offset: float, now: datetime
    ) -> tuple[Stream, Event] | None:
        """One step of ``session``; ``None`` when the customer silently leaves."""
        out = self._step(session, now)
        if out is None or session.done:
            self._sessions.remove(session)
            self._idle.append(session.customer)
            self._available_at[session.customer] = offset + self._rng.expovariate(
                1 / self._mix.mean_rest_s
            )
        return out

    def _step(self, s: Session, now: datetime) -> tuple[Stream, Event] | None:
        """The session's next event: identity first, then open, browse and cart steps,
        checkout, and the purchase (or leaving)."""
        customer = self._customers[s.customer]
        rng = self._rng
        if s.identity:
            step = s.identity.popleft()
            if step == "traits":  # their devices are registered from now on
                self._introduced.append(s.customer)
            return Stream.IDENTITY, identity_event(rng, step, customer, now)
        if not s.opened:
            s.opened = True
            return Stream.CLICKSTREAM, open_event(rng, customer, s, now)
        if s.checkout_started:
            if s.intent == "abandon":
                return None
            s.done = True
            order = purchase(rng, customer, s.cart, now)
            self._voice.ordered(order, (now - self._start).total_seconds())
            return Stream.PURCHASE, order
        if s.intent == "browse" and s.steps_left <= 0:
            return None
        if s.intent != "browse" and s.steps_left <= 0 and len(s.cart) >= s.cart_goal:
            if s.intent == "buy" or rng.random() < self._mix.checkout_bail_share:
                s.checkout_started = True
                return Stream.CLICKSTREAM, checkout_start(rng, customer, s, now)
            return None
        if s.cart and rng.random() < self._mix.remove_share:
            return Stream.CLICKSTREAM, remove_from_cart(rng, customer, s, now)
        viewed = s.last_viewed
        if (
            s.intent != "browse"
            and viewed is not None
            and viewed.item_id not in s.cart
            and len(s.cart) < s.cart_goal
            and rng.random() < 0.5
        ):
            return Stream.CLICKSTREAM, add_to_cart(rng, customer, s, viewed, now)
        s.steps_left -= 1
        mix = self._mix
        if s.customer % mix.referrer_every == 0 and rng.random() < mix.referral_share:
            return Stream.CLICKSTREAM, referral(rng, customer, s, now)
        return Stream.CLICKSTREAM, browse(
            rng, self._catalog, customer, s, now, self._listing.viewed
        )
