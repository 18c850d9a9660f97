"""A computed attribute kept after its first use, with no lock (unlike Python 3.11's
``functools.cached_property``, whose lock costs about a microsecond per first use:
the worker derives a view of every customer of every batch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):  # used like a property decorator
    """Like ``functools.cached_property``: the value lands in the instance's ``__dict__``,
    which later reads find before this (non-data) descriptor.

    >>> class Box:
    ...     @lazy
    ...     def answer(self) -> int:
    ...         print("computing")
    ...         return 42
    >>> box = Box()
    >>> box.answer
    computing
    42
    >>> box.answer
    42
    """

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | lazy[T]:
        if instance is None:
            return self
        value = self._compute(instance)
        instance.__dict__[self._name] = value
        return value
