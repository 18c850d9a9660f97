"""Shared field types and the base of every event: ids, customer, aware event time.

Inbound events are validated strictly (``StrictContract``): a value is accepted only
if the published JSON Schema accepts it, so a producer that validates against the
schema and the worker see one contract (no ``"6"`` for 6, no epoch integers).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

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


def _json_number(value: Any) -> Any:
    """Refuse what JSON Schema's ``integer`` refuses but lax pydantic would coerce."""
    if isinstance(value, str | bool):
        raise ValueError("a JSON number, not a string or a boolean")
    return value


#: With ``Field(strict=False, <bounds>)`` before it, an integer as JSON Schema has it: a
#: number without a fraction (``6`` or ``6.0``). Bounds put after it would be published
#: as ``ge``, which no JSON Schema validator knows.
JSON_INTEGER = BeforeValidator(_json_number)

#: Units of an item; the upper bound is a setting (``DecodeLimits``), not a type.
Quantity = Annotated[int, Field(strict=False, ge=1), JSON_INTEGER]

#: RFC 3339 with an offset, the shape the schema states (``T`` and ``Z`` upper case).
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339)


def _rfc3339(value: Any) -> Any:
    """Let only RFC 3339 text (or a datetime built in Python) reach the datetime parser,
    which would also take epoch numbers and other ISO 8601 forms."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("an RFC 3339 date-time with an offset, as a string")


EventTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_rfc3339)]

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
    event_time: EventTime = Field(
        description="When it happened: RFC 3339 text with an offset.",
        json_schema_extra={"pattern": RFC3339},
    )
    schema_version: Literal[1] = SCHEMA_VERSION


class CustomerEvent(EventBase):
    """An event that names its customer directly."""

    customer_id: CustomerId
