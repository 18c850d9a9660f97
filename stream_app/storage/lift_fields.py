"""The lift hashes' grammar (spec: docs/redis-keys.md, "Lift counts"): a decision's value in
its campaign's lift record and the fields of the campaign's counts. Pure; kept beside
``layout`` (which builds the keys) so each module holds one grammar.
"""

from __future__ import annotations

from typing import Literal


def lift_value(arm: str, stratum: str, converted: bool) -> str:
    """A decision's field value in its campaign's lift hash: ``<arm>|<stratum>|<0 or 1>``.

    >>> lift_value("treated", "vip", False)
    'treated|vip|0'
    >>> parse_lift_value(lift_value("holdout", "a|b", True))
    ('holdout', 'a|b', True)
    """
    return f"{arm}|{stratum}|{int(converted)}"


def parse_lift_value(value: str) -> tuple[str, str, bool]:
    """(arm, stratum, converted) of a lift hash value (an arm has no ``|``, a stratum may)."""
    arm, _, rest = value.partition("|")
    stratum, _, flag = rest.rpartition("|")
    return arm, stratum, flag == "1"


#: The ``Keys.lift_cells`` field saying its counts cover every decision of ``Keys.lift``
#: (set by the rebuild, ``lua/lift_rebuild.lua``; counts kept by writers alone lack it).
LIFT_BUILT = "built"

#: What a ``lift_cell`` counts: decisions recorded, or those converted.
LiftMeasure = Literal["n", "c"]


def lift_cell(measure: LiftMeasure, arm: str, stratum: str) -> str:
    """A field of a campaign's lift counts: ``<n or c>|<arm>|<stratum>``, the decisions
    (``n``) or conversions (``c``) of one arm in one stratum; ``lua/lift_rebuild.lua``
    builds the same from a ``lift_value``.

    >>> lift_cell("n", "treated", "vip")
    'n|treated|vip'
    >>> parse_lift_cell(lift_cell("c", "holdout", "a|b"))
    ('c', 'holdout', 'a|b')
    >>> parse_lift_cell(LIFT_BUILT) is None
    True
    """
    return f"{measure}|{arm}|{stratum}"


def parse_lift_cell(field: str) -> tuple[LiftMeasure, str, str] | None:
    """(measure, arm, stratum) of a lift counts field; None for another field."""
    measure, _, rest = field.partition("|")
    arm, _, stratum = rest.partition("|")
    match measure:
        case "n" | "c":
            return measure, arm, stratum
    return None
