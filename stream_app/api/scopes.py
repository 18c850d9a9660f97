"""What an API key may do. Pure: the API checks scopes before it touches any data."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """A permission granted to an API key; ``admin`` implies every other one."""

    PROFILES_READ = "profiles:read"
    PROFILES_ERASE = "profiles:erase"
    DECISIONS_READ = "decisions:read"
    REPORTS_READ = "reports:read"
    #: Customer support: one customer at a time (their view and decisions), nothing in
    #: bulk (no profile batches, segment members, reports), lookups rate limited apart.
    SUPPORT = "support"
    ADMIN = "admin"


def grants(held: Iterable[Scope], required: Scope) -> bool:
    """Whether scopes ``held`` allow what ``required`` guards.

    >>> grants({Scope.PROFILES_READ}, Scope.PROFILES_READ)
    True
    >>> grants({Scope.ADMIN}, Scope.REPORTS_READ), grants({Scope.PROFILES_READ}, Scope.ADMIN)
    (True, False)
    """
    held = frozenset(held)
    return Scope.ADMIN in held or required in held


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names; an unknown name is an error, never silently dropped.

    >>> sorted(parse_scopes(["reports:read", "profiles:read"]))
    [<Scope.PROFILES_READ: 'profiles:read'>, <Scope.REPORTS_READ: 'reports:read'>]
    """
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {name!r} (known: {known})") from None
    return frozenset(scopes)
