"""A messy-retail event set with its truth: what a real shop's logs look like, and
what the profiles must say after the worker has read them.

On top of the ordinary simulated traffic (``EventGenerator`` over several days) it
adds, per ``RetailMix``: B2B invoices of hundreds to thousands of lines with bulk
quantities, fee lines and oddly named items, orders in several currencies with a
country, exact copies of week-old events redelivered at the end, and (each behind a
switch, on by default) returns/refunds/cancellations days later (some sent before
their order), guests who buy under an anonymous id and log in later, and phones
whose first reading precedes their link.

Each event has an arrival time (when it reaches Kafka): its event time, except for
reversals sent ahead of their order and for redeliveries. The truth (``Truth``) is
booked from the generator's decisions, in exact minor units.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import islice

from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event, Stream
from stream_app.simulation.catalog import Catalog, make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.money import to_minor
from stream_app.simulation.oddities import COUNTRY_OF_CITY, b2b_order, with_odd_line
from stream_app.simulation.population import Customer, make_population
from stream_app.simulation.reversals import plan_reversal, reversal_event
from stream_app.simulation.truth import Truth
from stream_app.simulation.visitors import (
    anonymous_id,
    device_link,
    guest_checkout,
    guest_view,
    login,
    unlinked_reading,
)

#: Currencies B2B buyers are also invoiced in (KWD: three decimals).
_FOREIGN = ("EUR", "USD", "KWD")


@dataclass(frozen=True, slots=True)
class RetailMix:
    """What the set holds. ``returns``, ``guests`` and ``devices`` switch off order
    reversals, anonymous visitors and parked device readings (e.g. to see what each
    costs)."""

    returns: bool = True
    guests: bool = True
    devices: bool = True
    #: Share of orders undone later by a return, refund or cancellation.
    reversal_share: float = 0.3
    #: Share of reversals sent before their order (their event time hours after it).
    early_share: float = 0.1
    #: Share of customers who first buy as a guest and log in later.
    guest_share: float = 0.2
    #: Guests who never log in: their spend belongs to nobody.
    lost_guests: int = 3
    #: Customers buying B2B invoices, invoices each, and lines per invoice.
    b2b_customers: int = 3
    b2b_orders: int = 3
    b2b_lines: tuple[int, int] = (200, 5000)
    #: The worker's ``max_line_quantity``: bulk lines go up to it, never beyond.
    max_line_quantity: int = 10**6
    #: Share of B2B invoices in another currency than the buyer's own.
    foreign_share: float = 0.3
    #: Share of ordinary orders given a fee or oddly named line.
    odd_share: float = 0.1
    #: Share of ordinary orders that name the buyer's country.
    country_share: float = 0.5
    #: Share of the first day's events delivered again, exact copies, at the end.
    redelivery_share: float = 0.05
    #: Share of customers whose new phone reads seconds before traits link it.
    device_share: float = 0.1


@dataclass(frozen=True, slots=True)
class Arrival:
    """An event and when it reaches Kafka (``at``; its event time unless sent ahead
    or redelivered)."""

    at: datetime
    stream: Stream
    event: Event


@dataclass(frozen=True, slots=True)
class RetailSet:
    """The events in arrival order, the truth, and how many of each oddity."""

    arrivals: list[Arrival]
    truth: Truth
    customers: list[str]
    start: datetime
    end: datetime
    counts: Counter[str]
    #: Event ids of the device readings that precede the traits linking their device.
    ahead_of_link: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Order:
    """An order placed, and who it belongs to (``owner`` None: a guest who never logs in)."""

    event: Purchase
    owner: str | None
    anonymous: str | None = None
    login_at: datetime | None = None


@dataclass(slots=True)
class _Builder:
    rng: random.Random
    mix: RetailMix
    population: list[Customer]
    catalog: Catalog
    start: datetime
    end: datetime
    prefix: str
    truth: Truth = field(default_factory=Truth)
    arrivals: list[Arrival] = field(default_factory=list)
    orders: list[_Order] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    ahead_of_link: set[str] = field(default_factory=set)

    def add(self, stream: Stream, event: Event, at: datetime | None = None) -> None:
        self.arrivals.append(Arrival(event.event_time if at is None else at, stream, event))
        self.counts[f"events:{stream.value}"] += 1

    def book(self, order: _Order, *, guest: bool = False) -> None:
        purchase = order.event
        minor = to_minor(purchase.total, purchase.currency)
        self.truth.order(order.owner, purchase.currency, minor, guest=guest)
        self.orders.append(order)

    def background(self, events: int, seed: int) -> None:
        """The ordinary traffic; its orders get odd lines and countries."""
        span = (self.end - self.start).total_seconds()
        generator = EventGenerator(self.population, self.catalog, seed, self.start, events / span)
        cities = {c.customer_id: c.city.name for c in self.population}
        for stream, event in islice(generator, events):
            customer = getattr(event, "customer_id", None)
            if customer is not None:
                self.first_seen.setdefault(customer, event.event_time)
            if isinstance(event, Purchase) and customer is not None:
                if self.rng.random() < self.mix.odd_share:
                    event = with_odd_line(self.rng, event)
                    self.counts["odd_lines"] += 1
                if self.rng.random() < self.mix.country_share:
                    event = event.model_copy(update={"country": COUNTRY_OF_CITY[cities[customer]]})
                self.book(_Order(event, customer))
            self.add(stream, event)
        self.truth.remarks.update(generator.remarks_truth)

    def b2b(self) -> None:
        """Invoices of hundreds to thousands of lines, some in a foreign currency."""
        buyers = self.rng.sample(self.population, min(self.mix.b2b_customers, len(self.population)))
        low, high = self.mix.b2b_lines
        for buyer in buyers:
            for _ in range(self.mix.b2b_orders):
                currency = buyer.currency
                if self.rng.random() < self.mix.foreign_share:
                    currency = self.rng.choice([c for c in _FOREIGN if c != buyer.currency])
                at = self._moment()
                order, _ = b2b_order(
                    self.rng,
                    buyer.customer_id,
                    COUNTRY_OF_CITY[buyer.city.name],
                    currency,
                    self.rng.randint(low, high),
                    self.mix.max_line_quantity,
                    at,
                )
                self.book(_Order(order, buyer.customer_id))
                self.add(Stream.PURCHASE, order)
                self.counts["b2b_orders"] += 1
                self.counts["b2b_lines"] += len(order.items)

    def guests(self) -> None:
        """Guests who browse and buy anonymously, log in before their first visit as a
        customer, and buy once more from the same cookie later; and a few who never do."""
        late_enough = self.start + timedelta(hours=4)
        candidates = [
            c
            for c in self.population
            if self.first_seen.get(c.customer_id, self.start) >= late_enough
        ]
        chosen = self.rng.sample(
            candidates, min(len(candidates), round(self.mix.guest_share * len(self.population)))
        )
        for customer in chosen:
            anonymous = anonymous_id(self.rng, self.prefix)
            first = self.first_seen[customer.customer_id]
            login_at = first - timedelta(minutes=1)
            self._guest_visit(
                customer, anonymous, first - timedelta(hours=self.rng.uniform(1, 3)), login_at
            )
            self.add(Stream.IDENTITY, login(self.rng, customer, anonymous, login_at))
            later = first + timedelta(days=self.rng.uniform(1, 2))
            if later < self.end:
                self._guest_visit(customer, anonymous, later, login_at)
            self.counts["guests"] += 1
        for _ in range(self.mix.lost_guests):
            customer = self.rng.choice(self.population)
            self._guest_visit(
                None, anonymous_id(self.rng, self.prefix), self._moment(), None, customer
            )
            self.counts["lost_guests"] += 1

    def _guest_visit(
        self,
        owner: Customer | None,
        anonymous: str,
        at: datetime,
        login_at: datetime | None,
        like: Customer | None = None,
    ) -> None:
        """A view and a checkout under ``anonymous``; ``owner`` logs in at ``login_at``
        (``like`` gives a lost guest's currency)."""
        shopper = owner or like
        assert shopper is not None
        items = self.rng.sample(self.catalog.items, self.rng.randint(1, 3))
        self.add(
            Stream.CLICKSTREAM, guest_view(self.rng, anonymous, items[0], shopper.currency, at)
        )
        bought = at + timedelta(minutes=5)
        order, _ = guest_checkout(
            self.rng, {"anonymous_id": anonymous}, items, shopper.currency, bought
        )
        owner_id = None if owner is None else owner.customer_id
        self.book(_Order(order, owner_id, anonymous, login_at), guest=True)
        self.add(Stream.PURCHASE, order)
        self.counts["guest_orders"] += 1

    def devices(self) -> None:
        """New phones of some customers: a device-only reading, traits seconds later."""
        seen = [c for c in self.population if c.customer_id in self.first_seen]
        for customer in self.rng.sample(seen, round(self.mix.device_share * len(seen))):
            device = f"{self.prefix}dev-new-{self.rng.getrandbits(48):012x}"
            at = max(self.first_seen[customer.customer_id], self._moment())
            reading = unlinked_reading(self.rng, device, customer, at)
            self.add(Stream.SENSOR, reading)
            self.ahead_of_link.add(reading.event_id)
            link_at = at + timedelta(seconds=self.rng.uniform(2, 8))
            self.add(
                Stream.IDENTITY, device_link(self.rng, customer, device, min(link_at, self.end))
            )
            self.counts["unlinked_devices"] += 1

    def reversals(self) -> None:
        """Returns, refunds and cancellations days after some orders, or sent ahead."""
        for order in list(self.orders):
            if self.rng.random() >= self.mix.reversal_share:
                continue
            placed = order.event.event_time
            plan = plan_reversal(self.rng, order.event)
            early = self.rng.random() < self.mix.early_share
            at = placed + (
                timedelta(hours=self.rng.uniform(1, 3))
                if early
                else timedelta(days=self.rng.uniform(1, 5))
            )
            if at > self.end:
                continue
            event = reversal_event(self.rng, order.event, plan, _names(order, at), at)
            self.add(Stream.PURCHASE, event, placed - timedelta(milliseconds=1) if early else None)
            self.truth.credit(order.owner, order.event.currency, plan.minor)
            self.counts[f"reversals:{plan.kind}"] += 1
            self.counts["early_reversals"] += early

    def redeliveries(self) -> None:
        """Exact copies of some of the first day's events, delivered again at the end."""
        day_one = self.start + timedelta(days=1)
        old = [a for a in self.arrivals if a.event.event_time < day_one]
        copies = self.rng.sample(old, round(self.mix.redelivery_share * len(old)))
        for arrival in copies:
            self.arrivals.append(replace(arrival, at=self.end))
        self.counts["redeliveries"] += len(copies)

    def _moment(self) -> datetime:
        """A uniformly random time of the set."""
        return self.start + (self.end - self.start) * self.rng.random()


def _names(order: _Order, at: datetime) -> dict[str, str]:
    """Whom a reversal at ``at`` names: the customer, or the guest's anonymous id while
    they have not logged in (or never do)."""
    if order.anonymous is None or (
        order.owner is not None and order.login_at is not None and at >= order.login_at
    ):
        return {"customer_id": str(order.owner)}
    return {"anonymous_id": order.anonymous}


def make_retail_set(
    customers: int,
    events: int,
    seed: int,
    end: datetime,
    span: timedelta,
    mix: RetailMix | None = None,
    *,
    id_prefix: str = "",
) -> RetailSet:
    """``events`` ordinary events of ``customers`` customers over ``span`` up to ``end``,
    and the mess ``mix`` adds. ``id_prefix`` goes before every customer, device and
    anonymous id (runs that share a Redis never meet)."""
    mix = mix or RetailMix()
    population = [
        replace(
            c,
            customer_id=id_prefix + c.customer_id,
            devices=tuple(replace(d, device_id=id_prefix + d.device_id) for d in c.devices),
        )
        for c in make_population(customers, seed)
    ]
    builder = _Builder(
        random.Random(f"retail:{seed}"),
        mix,
        population,
        make_catalog(seed),
        end - span,
        end,
        id_prefix,
    )
    builder.background(events, seed)
    builder.b2b()
    if mix.guests:
        builder.guests()
    if mix.devices:
        builder.devices()
    if mix.returns:
        builder.reversals()
    builder.redeliveries()
    builder.arrivals.sort(key=lambda a: a.at)
    return RetailSet(
        builder.arrivals,
        builder.truth,
        [c.customer_id for c in population],
        end - span,
        end,
        builder.counts,
        frozenset(builder.ahead_of_link),
    )
