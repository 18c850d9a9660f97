"""Shared field types and the base of every event: ids, customer, aware event time.

Inbound events are validated strictly (``StrictContract``): a value is accepted only
if the published JSON Schema accepts it, so a producer that validates against the
schema and the worker see one contract (no ``"6"`` for 6, no epoch integers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from stream_app.events.jsontypes import JsonInteger, Rfc3339Time

#: Identifiers are opaque tokens. They become part of Redis keys (inside a
#: ``{...}`` hash tag), so braces, spaces and '@' (emails as ids) are refused.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]
CustomerId = Identifier

_PRINTABLE = r"[^\x00-\x1f\x7f-\x9f{}]"
#: Item ids come from shops' catalogues ("BANK CHARGES", "Café 250 g"): any printable
#: text with at least one non-space character. Control characters are refused, and
#: braces because an item id sits inside a Redis ``{...}`` hash tag.
ItemId = Annotated[
    str,
    StringConstraints(
        max_length=128, pattern=rf"^{_PRINTABLE}*[^\x00-\x20\x7f-\x9f{{}}]{_PRINTABLE}*$"
    ),
]
Category = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Channel = Literal["push", "email", "sms", "in_app"]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Region = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")]


#: Units of an item; the upper bound is a setting (``DecodeLimits``), not a type.
Quantity = Annotated[int, JsonInteger(ge=1)]
EventTime = Annotated[datetime, Rfc3339Time()]

SCHEMA_VERSION: Final = 1


class Contract(BaseModel):
    """Strict, immutable wire model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class StrictContract(Contract):
    """An inbound wire model: types exactly as the JSON Schema says (strict mode)."""

    model_config = ConfigDict(strict=True)


class EventBase(StrictContract):
    """Fields every inbound event carries."""

    event_id: Identifier = Field(description="Producer-assigned unique id; used for dedupe.")
    event_time: EventTime = Field(description="When it happened: RFC 3339 text with an offset.")
    schema_version: Literal[1] = SCHEMA_VERSION


def names_one_of(*names: str) -> JsonDict:
    """The schema's form of "at least one of these ids is a string" (``anyOf``)."""
    return {
        "anyOf": [{"required": [name], "properties": {name: {"type": "string"}}} for name in names]
    }


class CustomerEvent(EventBase):
    """An event of a customer or of an anonymous visitor (docs/identity.md): at least one
    of the two ids; both link the anonymous id to the customer (a login, a checkout)."""

    model_config = ConfigDict(json_schema_extra=names_one_of("customer_id", "anonymous_id"))

    customer_id: CustomerId | None = None
    anonymous_id: Identifier | None = Field(
        default=None,
        repr=False,
        description="Cookie, device or app install id of a visitor; pseudonymized on ingest.",
    )

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.customer_id is None and self.anonymous_id is None:
            raise ValueError("the event needs customer_id or anonymous_id")
        return self


class KnownCustomerEvent(EventBase):
    """An event only a known customer makes (consent, notification feedback)."""

    customer_id: CustomerId
