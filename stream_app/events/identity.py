"""Identity and consent events.

Contact handles (email, phone, device ids) arrive raw from producers and are
pseudonymized by the worker before anything is stored; ``repr=False`` keeps
them out of logs and tracebacks.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from stream_app.events.base import (
    Channel,
    Country,
    CustomerEvent,
    Identifier,
    KnownCustomerEvent,
    Locale,
    Region,
)
from stream_app.events.jsontypes import JsonInteger

Handle = Annotated[str, StringConstraints(min_length=3, max_length=320)]

#: Read once: listing the zone database per event costs milliseconds.
KNOWN_ZONES: frozenset[str] = frozenset(zoneinfo.available_timezones())


class Traits(CustomerEvent):
    type: Literal["traits"]
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Berlin.")
    locale: Locale | None = Field(default=None, description="BCP 47 tag, e.g. de-CH.")
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. GB.")
    region: Region | None = Field(default=None, description="Free text: state, county, city.")
    birth_year: Annotated[int, JsonInteger(ge=1900, le=2100)] | None = None
    gender: Literal["female", "male", "diverse", "undisclosed"] | None = None
    email: Handle | None = Field(default=None, repr=False)
    phone: Handle | None = Field(default=None, repr=False)
    device_ids: Annotated[list[Identifier], Field(max_length=20)] = Field(
        default_factory=list, repr=False
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in KNOWN_ZONES:
            raise ValueError("unknown IANA time zone")
        return value


class Consent(KnownCustomerEvent):
    type: Literal["consent"]
    channel: Channel
    opted_in: bool
    source: Annotated[str, StringConstraints(max_length=64)] | None = None


IdentityEvent = Annotated[Traits | Consent, Field(discriminator="type")]
