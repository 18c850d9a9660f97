"""Integers and times exactly as the published JSON Schema has them, checked in Rust.

Pydantic's lax mode takes ``"6"`` for 6 and epoch numbers for times; its strict
mode in Python refuses ``6.0`` (a JSON integer) and every time written as text.
These two markers state the JSON Schema's rule as one pydantic-core schema each
(no Python call per value: the worker decodes every event through them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

#: RFC 3339 with an offset (``T`` and ``Z`` upper case, up to 9 fraction digits).
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


@dataclass(frozen=True, slots=True)
class JsonInteger:
    """``Annotated[int, JsonInteger(ge=1)]``: a JSON number without a fraction (``6`` or
    ``6.0``), never a string or a boolean."""

    ge: int | None = None
    le: int | None = None

    def __get_pydantic_core_schema__(self, _: Any, __: GetCoreSchemaHandler) -> cs.CoreSchema:
        bounded = cs.int_schema(strict=False, ge=self.ge, le=self.le)  # 6.0 becomes 6
        return cs.union_schema(
            [
                cs.int_schema(strict=True, ge=self.ge, le=self.le),
                cs.chain_schema([cs.float_schema(strict=True), bounded]),
            ],
            mode="left_to_right",
            custom_error_type="json_integer",
            custom_error_message="a JSON integer within the schema's bounds (not text)",
        )

    def __get_pydantic_json_schema__(
        self, _: cs.CoreSchema, __: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        bounds = {"minimum": self.ge, "maximum": self.le}
        return {"type": "integer", **{k: v for k, v in bounds.items() if v is not None}}


@dataclass(frozen=True, slots=True)
class Rfc3339Time:
    """``Annotated[datetime, Rfc3339Time()]``: RFC 3339 text with an offset (or an aware
    datetime built in Python); never an epoch number or another ISO 8601 form."""

    def __get_pydantic_core_schema__(self, _: Any, __: GetCoreSchemaHandler) -> cs.CoreSchema:
        text = cs.chain_schema(
            [
                cs.str_schema(strict=True, pattern=RFC3339),
                cs.datetime_schema(strict=False, tz_constraint="aware"),
            ]
        )
        # Text first: it is what the wire carries (a failed branch costs an error object).
        built = cs.datetime_schema(strict=True, tz_constraint="aware")
        return cs.union_schema(
            [text, built],
            mode="left_to_right",
            custom_error_type="rfc3339_time",
            custom_error_message="an RFC 3339 date-time with an offset, as text",
        )

    def __get_pydantic_json_schema__(
        self, _: cs.CoreSchema, __: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time", "pattern": RFC3339}
