"""Synthetic customers: where they live, when they shop, what they like, how they react.

Every attribute the generator and the feedback model use lives here, so a
customer's behaviour is explainable from their record alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from stream_app.simulation.catalog import CATEGORIES

Gender = Literal["female", "male", "diverse", "undisclosed"]
Platform = Literal["ios", "android", "web"]
DeviceKind = Literal["ios", "android", "web", "wearable"]


@dataclass(frozen=True, slots=True)
class City:
    """A home city: time zone, coordinates, language, money and climate."""

    name: str
    timezone: str
    lat: float
    lon: float
    locales: tuple[str, ...]
    currency: str
    mean_temp_c: float
    weight: float

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")


#: Weighted toward Europe and North America, like a typical EU-based shop.
CITIES: tuple[City, ...] = (
    City("Berlin", "Europe/Berlin", 52.52, 13.405, ("de-DE", "en-GB"), "EUR", 10.0, 14),
    City("Munich", "Europe/Berlin", 48.137, 11.575, ("de-DE",), "EUR", 9.0, 8),
    City("Paris", "Europe/Paris", 48.857, 2.352, ("fr-FR",), "EUR", 12.0, 10),
    City("Madrid", "Europe/Madrid", 40.417, -3.704, ("es-ES",), "EUR", 15.0, 7),
    City("London", "Europe/London", 51.507, -0.128, ("en-GB",), "GBP", 11.0, 11),
    City("New York", "America/New_York", 40.713, -74.006, ("en-US", "es-US"), "USD", 13.0, 10),
    City("Chicago", "America/Chicago", 41.878, -87.630, ("en-US",), "USD", 10.0, 5),
    City(
        "Los Angeles", "America/Los_Angeles", 34.052, -118.244, ("en-US", "es-US"), "USD", 18.0, 7
    ),
    City("Toronto", "America/Toronto", 43.653, -79.383, ("en-CA", "fr-CA"), "CAD", 8.0, 4),
    City("Sao Paulo", "America/Sao_Paulo", -23.551, -46.633, ("pt-BR",), "BRL", 20.0, 5),
    City("Tokyo", "Asia/Tokyo", 35.676, 139.650, ("ja-JP",), "JPY", 16.0, 8),
    City("Singapore", "Asia/Singapore", 1.352, 103.820, ("en-SG", "zh-SG"), "SGD", 27.0, 3),
    City("Mumbai", "Asia/Kolkata", 19.076, 72.878, ("en-IN", "hi-IN"), "INR", 27.0, 4),
    City("Sydney", "Australia/Sydney", -33.869, 151.209, ("en-AU",), "AUD", 18.0, 4),
)

#: Daily rhythms as local-hour windows ``[start, end)``; a window may wrap midnight.
_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((19, 23),),  # evening browser
    ((12, 14), (19, 22)),  # lunch break and evening
    ((7, 9), (20, 23)),  # commuter
    ((22, 2),),  # night owl
    ((10, 17),),  # daytime at home
)
_RHYTHM_WEIGHTS = (35, 30, 15, 10, 10)
_GENDERS: tuple[Gender, ...] = ("female", "male", "diverse", "undisclosed")


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    kind: DeviceKind


@dataclass(frozen=True, slots=True)
class Customer:
    """One synthetic customer; every behaviour knob is in [0, 1] unless stated."""

    customer_id: str
    city: City
    timezone: str
    locale: str
    currency: str
    birth_year: int
    gender: Gender
    #: Local-hour windows ``[start, end)`` in which this customer tends to shop.
    active_hours: tuple[tuple[int, int], ...]
    #: Category -> share of product interest; a few favourites hold most of it.
    tastes: tuple[tuple[str, float], ...]
    #: How strongly cheaper items are preferred.
    price_sensitivity: float
    devices: tuple[Device, ...]
    push_opt_in: bool
    email_opt_in: bool
    #: Chance a session that filled a cart leaves without buying.
    cart_abandon_propensity: float
    #: Scales how likely notifications are opened.
    responsiveness: float
    #: Relative session frequency (1.0 = typical; heavy users > 1).
    activity: float

    @property
    def device_ids(self) -> tuple[str, ...]:
        return tuple(device.device_id for device in self.devices)

    @property
    def screens(self) -> tuple[Platform, ...]:
        """Devices a shopping session can run on (not the watch)."""
        return tuple(d.kind for d in self.devices if d.kind != "wearable")

    @property
    def email(self) -> str:
        return f"{self.customer_id}@example.test"

    @property
    def phone(self) -> str:
        """A number in the unassigned +999 country code, so it reaches no one."""
        return f"+99955{self.customer_id[-6:]}"

    def local_hour(self, when: datetime) -> int:
        return when.astimezone(ZoneInfo(self.timezone)).hour

    def is_active_at(self, when: datetime) -> bool:
        """Whether ``when`` (aware) falls in one of this customer's local active windows."""
        hour = self.local_hour(when)
        return any(
            start <= hour < end if start <= end else (hour >= start or hour < end)
            for start, end in self.active_hours
        )

    def taste(self, category: str | None) -> float:
        """Interest in ``category`` relative to the favourite (1.0 = favourite, 0 unknown)."""
        weights = dict(self.tastes)
        return weights.get(category or "", 0.0) / max(weights.values())


def make_population(n: int, seed: int) -> list[Customer]:
    """``n`` customers ``cust-000000``...; the same seed always yields the same people."""
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(f"population:{seed}")
    return [_make_customer(rng, index) for index in range(n)]


def _make_customer(rng: random.Random, index: int) -> Customer:
    city = rng.choices(CITIES, weights=[c.weight for c in CITIES])[0]
    rhythm = rng.choices(_RHYTHMS, weights=_RHYTHM_WEIGHTS)[0]
    shift = rng.choice((-1, 0, 0, 1))
    active_hours = tuple(((start + shift) % 24, (end + shift) % 24) for start, end in rhythm)
    sensitivity = rng.betavariate(2, 2)
    return Customer(
        customer_id=f"cust-{index:06d}",
        city=city,
        timezone=city.timezone,
        locale=rng.choice(city.locales),
        currency=city.currency,
        birth_year=round(rng.triangular(1945, 2008, 1990)),
        gender=rng.choices(_GENDERS, weights=(48, 45, 2, 5))[0],
        active_hours=active_hours,
        tastes=_tastes(rng),
        price_sensitivity=sensitivity,
        devices=_devices(rng),
        push_opt_in=rng.random() < 0.85,
        email_opt_in=rng.random() < 0.6,
        cart_abandon_propensity=min(0.9, 0.1 + 0.4 * rng.betavariate(2, 2.5) + 0.2 * sensitivity),
        responsiveness=rng.betavariate(2, 3),
        activity=rng.lognormvariate(0.0, 0.5),
    )


def _tastes(rng: random.Random) -> tuple[tuple[str, float], ...]:
    """Two or three favourites get most of the interest; the rest share a long tail."""
    names = [spec.name for spec in CATEGORIES]
    favourites = set(rng.sample(names, rng.choice((2, 2, 3))))
    raw = {
        name: (rng.uniform(4.0, 10.0) if name in favourites else rng.uniform(0.1, 0.6))
        for name in names
    }
    total = sum(raw.values())
    return tuple((name, weight / total) for name, weight in raw.items())


def _devices(rng: random.Random) -> tuple[Device, ...]:
    """Everyone has a phone; some also browse on the web or wear a watch."""
    phone: DeviceKind = "ios" if rng.random() < 0.45 else "android"
    devices = [Device(f"dev-{rng.getrandbits(48):012x}", phone)]
    if rng.random() < 0.4:
        devices.append(Device(f"web-{rng.getrandbits(48):012x}", "web"))
    if rng.random() < 0.12:
        devices.append(Device(f"wear-{rng.getrandbits(48):012x}", "wearable"))
    return tuple(devices)
