"""Readings from a simulated customer's phone or watch near their home city: location,
store beacons, the weather."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Literal, TypedDict

from stream_app.events.registry import Event
from stream_app.events.sensor import Ambient, Location, Proximity
from stream_app.simulation.ids import event_id
from stream_app.simulation.population import Customer

Weather = Literal["clear", "clouds", "rain", "snow", "storm", "fog", "wind"]
_WEATHER: tuple[Weather, ...] = ("clear", "clouds", "rain", "storm", "fog", "wind")
_COLD_WEATHER: tuple[Weather, ...] = ("clear", "clouds", "rain", "snow", "fog", "wind")


class _SensorBase(TypedDict):
    event_id: str
    event_time: datetime
    device_id: str


def sensor_reading(
    rng: random.Random, customer: Customer, device_only_share: float, now: datetime
) -> Event:
    """A reading from one of ``customer``'s registered devices; ``device_only_share`` of
    them carry only the device id."""
    device = rng.choice([d for d in customer.devices if d.kind != "web"])
    customer_id = None if rng.random() < device_only_share else customer.customer_id
    city = customer.city
    base: _SensorBase = {
        "event_id": event_id(rng),
        "event_time": now,
        "device_id": device.device_id,
    }
    roll = rng.random()
    if roll < 0.5:
        return Location(
            type="location",
            customer_id=customer_id,
            lat=max(-90.0, min(90.0, city.lat + rng.gauss(0, 0.03))),
            lon=max(-180.0, min(180.0, city.lon + rng.gauss(0, 0.04))),
            accuracy_m=round(rng.uniform(3, 60), 1),
            **base,
        )
    if roll < 0.8:
        store = rng.randint(1, 5)
        return Proximity(
            type="proximity",
            customer_id=customer_id,
            store_id=f"store-{city.slug}-{store:02d}",
            beacon_id=f"bcn-{city.slug}-{store:02d}-{rng.randint(1, 4)}",
            distance_m=round(min(500.0, rng.expovariate(1 / 15)), 1),
            **base,
        )
    temperature = max(-40.0, min(50.0, city.mean_temp_c + rng.gauss(0, 6)))
    weathers = _COLD_WEATHER if temperature < 1 else _WEATHER
    weather = rng.choices(weathers, weights=(35, 30, 18, 5, 5, 7))[0]
    return Ambient(
        type="ambient",
        customer_id=customer_id,
        temperature_c=round(temperature, 1),
        weather=weather,
        humidity_pct=round(rng.uniform(30, 95)),
        **base,
    )
