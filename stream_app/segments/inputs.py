"""What a rule reads: the variables it names and the calls it makes, found in its text.

A rule's answer is a function of those inputs alone, so when they have not changed
since the customer was last evaluated, neither has the answer: the worker
evaluates every customer of every batch, and most events change no input of most
rules. Found by scanning the expression (string literals skipped); anything the
scan cannot pin down (a comprehension variable, a call with computed arguments,
``now``) makes the rule always evaluated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from dataclasses import dataclass

#: Literals, identifiers, numbers and punctuation of CEL, strings first.
_STRING = (
    r"[rRbB]{0,2}(?:'{3}.*?'{3}"  # triple single quotes
    r'|"{3}.*?"{3}'  # triple double quotes
    r"|'(?:\\.|[^'\\\n])*'"  # single quotes
    r'|"(?:\\.|[^"\\\n])*")'  # double quotes
)
_TOKEN = re.compile(
    rf"(?P<string>{_STRING})"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[uU]?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>\S)",
    re.DOTALL,
)
#: Names that are neither variables nor calls of ours.
_KEYWORDS = frozenset({"true", "false", "null", "in"})
#: Variables whose value is the time itself: a rule over them is always evaluated.
_CLOCK = frozenset({"now"})

Literal = str | int | float


@dataclass(frozen=True, slots=True)
class Inputs:
    """The variables a rule reads and its calls of our functions with their arguments."""

    variables: tuple[str, ...]
    calls: tuple[tuple[str, tuple[Literal, ...]], ...]
    #: False when the scan could not pin the inputs down: always evaluate.
    pinned: bool


def inputs_of(expression: str, variables: Collection[str], functions: Collection[str]) -> Inputs:
    """The inputs of ``expression`` given the known variable and function names.

    >>> inputs_of('tier == "vip" && taste("shoes") >= 3.0', {"tier"}, {"taste"})
    Inputs(variables=('tier',), calls=(('taste', ('shoes',)),), pinned=True)
    >>> inputs_of('"push" in consent && consent["push"]', {"consent"}, ()).variables
    ('consent',)
    >>> inputs_of("searched(query, 60)", {"query"}, {"searched"}).pinned
    False
    """
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKEN.finditer(expression)]
    names: set[str] = set()
    calls: set[tuple[str, tuple[Literal, ...]]] = set()
    pinned = True
    for i, (kind, text) in enumerate(tokens):
        if kind != "name" or text in _KEYWORDS:
            continue
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1][1] if i > 0 else ""
        if before == ".":
            continue  # a field of a map or a method: its receiver is what is read
        if after == "(":
            if text in functions:
                args = _literal_args(tokens, i + 2)
                pinned &= args is not None
                calls.add((text, args or ()))
            continue  # CEL's own functions and macros are pure
        if text in variables and text not in _CLOCK:
            names.add(text)
        else:
            pinned = False  # the clock, or a name we cannot account for
    return Inputs(tuple(sorted(names)), tuple(sorted(calls, key=repr)), pinned)


def _literal_args(tokens: list[tuple[str, str]], start: int) -> tuple[Literal, ...] | None:
    """The arguments of a call whose ``(`` ends before ``start``, if all are literals."""
    args: list[Literal] = []
    i = start
    while i < len(tokens):
        kind, text = tokens[i]
        if text == ")" and kind == "punct":
            return tuple(args)
        if kind not in ("string", "number"):
            return None
        try:
            args.append(ast.literal_eval(text.rstrip("uU")))
        except (ValueError, SyntaxError):
            return None
        follows = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if follows not in (",", ")"):
            return None
        i += 2 if follows == "," else 1
    return None
