"""Shared field types and the base of every event: ids, customer, aware event time."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: Identifiers are opaque tokens. They become part of Redis keys (inside a
#: ``{...}`` hash tag), so braces, spaces and '@' (emails as ids) are refused.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]
CustomerId = Identifier
ItemId = Identifier
Category = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Channel = Literal["push", "email", "sms", "in_app"]

SCHEMA_VERSION: Final = 1


class Contract(BaseModel):
    """Strict, immutable wire model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class EventBase(Contract):
    """Fields every inbound event carries."""

    event_id: Identifier = Field(description="Producer-assigned unique id; used for dedupe.")
    event_time: AwareDatetime = Field(description="When it happened, with a UTC offset.")
    schema_version: Literal[1] = SCHEMA_VERSION


class CustomerEvent(EventBase):
    """An event that names its customer directly."""

    customer_id: CustomerId
