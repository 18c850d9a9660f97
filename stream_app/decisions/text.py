"""Small pieces of the human explanations decisions carry."""

from __future__ import annotations

from datetime import timedelta


def span(delta: timedelta) -> str:
    """A duration as people say it.

    >>> span(timedelta(seconds=8)), span(timedelta(minutes=45)), span(timedelta(minutes=200))
    ('8 s', '45 min', '3 h 20 min')
    """
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def ordinal(n: int) -> str:
    """English ordinal of ``n``.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd']
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"
