"""What every settings section shares: the variable prefix, frozen models, defaults' source."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

ENV_PREFIX = "STREAM_APP_"
NESTED = "__"
NONE_TEXT = "null"

T = TypeVar("T")


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


def build(cls: Callable[..., T], section: BaseModel, /, prefix: str = "", **extra: Any) -> T:
    """``cls`` (a dataclass or a class) built from ``section``: each parameter ``p`` of its
    constructor takes the section's field ``<prefix>p``, and ``extra`` gives the ones that
    need a conversion (units, types) or come from elsewhere. A parameter the section does
    not name keeps its default: names agree, so no rule object copies settings one by one.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Rules:
    ...     strength: float
    ...     window_ms: int
    ...     salt: str = "pepper"
    >>> class Knobs(Section):
    ...     rules_strength: float = 3.0
    ...     window_s: int = 2
    >>> knobs = Knobs()
    >>> build(Rules, knobs, prefix="rules_", window_ms=knobs.window_s * 1000)
    Rules(strength=3.0, window_ms=2000, salt='pepper')
    """
    given = dict(extra)
    for name in inspect.signature(cls).parameters:
        field = prefix + name
        if name not in given and field in type(section).model_fields:
            given[name] = getattr(section, field)
    return cls(**given)
