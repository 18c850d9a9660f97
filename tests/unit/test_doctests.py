"""Docstring examples are tests too (river style)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import stream_app

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(stream_app.__path__, "stream_app.")
    if not m.name.startswith(
        ("stream_app.__main__", "stream_app.cli", "stream_app.streaming", "stream_app.devstack")
    )
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
