"""Cohort periods and the bounded record of a customer's active periods (pure;
docs/profile.md, "Active periods").

Retention asks "was the customer active again k periods after they were first seen?".
The profile answers it for the first ``N`` periods without keeping every event: each
activity (a rhythmic event: clickstream, purchase, opened, clicked) marks its period
(UTC day, ISO week or calendar month) in two fields,

* ``ap``: the first period the customer was active in (a period index, ``period_of``);
* ``ab``: a bitmap, bit ``i`` set when active in period ``ap + i``, for ``i < N``.

An activity older than ``ap`` shifts the bitmap (bits that fall beyond ``N`` are
dropped: they lie beyond ``N`` periods of any earlier start too), one later than
``ap + N - 1`` is not kept. So the fields hold exactly the active periods within ``N``
of the earliest, whatever the order the events arrived in, and a merge of two
profiles is their union at the earlier start: exact under redelivery and backfill.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Literal
from urllib.parse import urlsplit

#: The length of a cohort and of a retention step.
Period = Literal["day", "week", "month"]
#: The default cohort period (the ``funnel`` settings').
PERIOD: Period = "week"
#: The profile field holding the earliest page view's referrer host ("" when none):
#: the customer's first-touch source (``first_write``).
SOURCE_FIELD = "src"
#: Periods of activity kept per customer (from their first active one).
ACTIVE_PERIODS = 12
#: The profile fields (docs/profile.md): first active period, and the bitmap from it.
ACTIVE_BASE, ACTIVE_BITS = "ap", "ab"
_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


def period_of(ms: int, period: Period) -> int:
    """The index of the UTC period holding ``ms``: days, ISO weeks (from Monday) or months
    since the epoch.

    >>> [period_of(0, p) for p in ("day", "week", "month")]  # 1970-01-01, a Thursday
    [0, 0, 0]
    >>> period_of(4 * _DAY_MS, "week"), period_of(31 * _DAY_MS, "month")  # Monday 5th, 1st Feb
    (1, 1)
    """
    days = ms // _DAY_MS
    if period == "day":
        return days
    if period == "week":
        return (days + 3) // 7
    when = _EPOCH + timedelta(days=days)
    return (when.year - 1970) * 12 + when.month - 1


def period_label(index: int, period: Period) -> str:
    """A period index as analysts write it: ``2026-01-05``, ``2026-W02``, ``2026-01``.

    >>> from datetime import UTC, datetime
    >>> ms = int(datetime(2026, 1, 7, tzinfo=UTC).timestamp() * 1000)
    >>> [period_label(period_of(ms, p), p) for p in ("day", "week", "month")]
    ['2026-01-07', '2026-W02', '2026-01']
    """
    if period == "day":
        return (_EPOCH + timedelta(days=index)).isoformat()
    if period == "week":
        monday = _EPOCH + timedelta(days=index * 7 - 3)
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}"
    year, month = divmod(index, 12)
    return f"{1970 + year}-{month + 1:02d}"


def mark_active(fields: dict[str, int | float | str], period: int, keep: int) -> None:
    """Note activity in ``period`` (an index) in ``fields``, keeping ``keep`` periods.

    >>> f = {}
    >>> for p in (10, 12, 9, 30):  # 9 is late: the bitmap shifts; 30 is beyond 4 periods
    ...     mark_active(f, p, 4)
    >>> f
    {'ap': 9, 'ab': 11}
    """
    base, bits = fields.get(ACTIVE_BASE), fields.get(ACTIVE_BITS)
    if not isinstance(base, int) or not isinstance(bits, int):
        fields[ACTIVE_BASE], fields[ACTIVE_BITS] = period, 1
        return
    if period < base:
        bits = (bits << (base - period)) & ((1 << keep) - 1)
        base = period
    if period - base < keep:
        bits |= 1 << (period - base)
    fields[ACTIVE_BASE], fields[ACTIVE_BITS] = base, bits


def referrer_host(referrer: str | None) -> str:
    """What a page view's referrer keeps of it: the lower-cased host, or "" (direct).

    >>> referrer_host("https://WWW.Google.com/search?q=me"), referrer_host(None)
    ('www.google.com', '')
    """
    if not referrer:
        return ""
    return (urlsplit(referrer).hostname or "")[:253]


def first_write(fields: dict[str, int | float | str], name: str, value: str, ms: int) -> None:
    """Keep in ``name`` the value of the earliest event (equal times: the greater value),
    stamped ``@<name>`` with ``-ms``, so that a profile merge (later stamp wins, then the
    greater value) keeps the same one.

    >>> f = {}
    >>> for value, ms in (("b", 5), ("a", 3), ("z", 9), ("c", 3)):
    ...     first_write(f, "src", value, ms)
    >>> f
    {'src': 'c', '@src': -3}
    """
    stamp = fields.get("@" + name)
    if not isinstance(stamp, int) or (-ms, value) > (stamp, str(fields.get(name, ""))):
        fields[name], fields["@" + name] = value, -ms


def merge_active(
    out: dict[str, int | float | str],
    a: Mapping[str, int | float | str],
    b: Mapping[str, int | float | str],
    keep: int,
) -> None:
    """Set ``out``'s active periods to the union of ``a``'s and ``b``'s (a profile merge).

    >>> out = {}
    >>> merge_active(out, {"ap": 5, "ab": 0b101}, {"ap": 3, "ab": 0b1}, 4)
    >>> out
    {'ap': 3, 'ab': 5}
    """
    merged: dict[str, int | float | str] = {}
    for side in (a, b):
        base, bits = side.get(ACTIVE_BASE), side.get(ACTIVE_BITS)
        if isinstance(base, int) and isinstance(bits, int):
            for i in range(keep):
                if bits >> i & 1:
                    mark_active(merged, base + i, keep)
    out.pop(ACTIVE_BASE, None)
    out.pop(ACTIVE_BITS, None)
    out.update(merged)


def retained(fields: Mapping[str, object], start: int, keep: int) -> list[int]:
    """The periods k = 1 .. ``keep`` - 1 after ``start`` (the cohort's, never after the
    first active one) that the fields record activity in.

    >>> retained({"ap": 9, "ab": 0b1011}, 8, 4)  # active in 9, 10 and 12
    [1, 2]
    """
    base, bits = fields.get(ACTIVE_BASE), fields.get(ACTIVE_BITS)
    if not isinstance(base, int) or not isinstance(bits, int):
        return []
    out, k = [], base - start
    while bits and k < keep:
        if bits & 1 and k > 0:
            out.append(k)
        bits >>= 1
        k += 1
    return out
