"""Sensor / IoT events: location, store proximity, ambient readings.

A device may not know its customer: it then sends ``device_id`` and the worker
maps it to the customer through identity events that registered the device.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from stream_app.events.base import CustomerId, EventBase, Identifier, names_one_of


class SensorEvent(EventBase):
    model_config = ConfigDict(json_schema_extra=names_one_of("customer_id", "device_id"))

    customer_id: CustomerId | None = None
    device_id: Identifier | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.customer_id is None and self.device_id is None:
            raise ValueError("a sensor event needs customer_id or device_id")
        return self


class Location(SensorEvent):
    type: Literal["location"]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    accuracy_m: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]


class Proximity(SensorEvent):
    type: Literal["proximity"]
    store_id: Identifier
    beacon_id: Identifier | None = None
    distance_m: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]


class Ambient(SensorEvent):
    type: Literal["ambient"]
    temperature_c: Annotated[float, Field(ge=-90, le=70, allow_inf_nan=False)]
    weather: Literal["clear", "clouds", "rain", "snow", "storm", "fog", "wind"]
    humidity_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None


SensorReading = Annotated[Location | Proximity | Ambient, Field(discriminator="type")]
