"""What every settings section shares: the variable prefix, frozen models, defaults' source."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from pydantic import BaseModel, ConfigDict

ENV_PREFIX = "STREAM_APP_"
NESTED = "__"
NONE_TEXT = "null"


class Section(BaseModel):
    """One section of ``Settings``: frozen, and unknown fields (typos) are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def env_var(section: str, field: str) -> str:
    """The environment variable of ``section.field``.

    >>> env_var("kafka", "bootstrap")
    'STREAM_APP_KAFKA__BOOTSTRAP'
    """
    return f"{ENV_PREFIX}{section.upper()}{NESTED}{field.upper()}"


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (or of parameter ``name`` of its
    constructor): domain objects own their defaults, and a setting for one of them takes
    it from there instead of repeating it.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Rules:
    ...     strength: float = 20.0
    >>> default_of(Rules, "strength")
    20.0
    >>> class Model:
    ...     def __init__(self, lr: float = 0.02) -> None: ...
    >>> default_of(Model, "lr")
    0.02
    """
    if not dataclasses.is_dataclass(cls):
        parameter = inspect.signature(cls).parameters[name]
        if parameter.default is inspect.Parameter.empty:
            raise ValueError(f"{cls.__name__}({name}) has no default")
        return parameter.default
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
            raise ValueError(f"{cls.__name__}.{name} has no default")
    raise ValueError(f"{cls.__name__} has no field {name}")
